"""Fixtures of the unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_BASE = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """One scratch folder per module: hypothesis cannot reset function-scoped fixtures between examples."""
    return tmp_path_factory.mktemp("properties")


@pytest.fixture(scope="module")
def tokenizer(workspace):
    """The embedded SmolLM2 tokenizer (its chat template included); modules may override it."""
    return workspace.store.hf_tokenizer(TINY_BASE)


@pytest.fixture(scope="module")
def tiny_lm(tokenizer):
    """A 2-layer Llama with random weights over the embedded tokenizer's vocabulary, in eval mode.

    One per module: a module that trains it (or leaves gradients on it) cannot disturb another's.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                         eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id)
    return LlamaForCausalLM(config).eval()
