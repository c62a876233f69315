"""Tiny random models of many transformers families, for the "any model" promise.

Each is built from transformers' own config class with small sizes (2 layers, width 32, 4 heads, 2 key/value
heads where the family has grouped-query attention) over the embedded tokenizer's vocabulary, so a model
builds in well under a second and its numbers can be checked against transformers' own forward.
"""

from __future__ import annotations

from typing import Any

COMMON = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
          "num_key_value_heads": 2, "max_position_embeddings": 256, "head_dim": 8}
MOE = {"num_experts_per_tok": 2, "moe_intermediate_size": 16}

FAMILY_SETTINGS: dict[str, dict[str, Any]] = {
    "llama": {},
    "qwen2": {},
    "qwen3": {},
    "gemma": {},
    "gemma2": {"sliding_window": 4, "query_pre_attn_scalar": 8},
    "gemma3_text": {"sliding_window": 4, "query_pre_attn_scalar": 8},
    "mistral": {"sliding_window": 4},
    "phi": {"partial_rotary_factor": 0.5, "head_dim": None, "num_key_value_heads": 4},
    "phi3": {},
    "olmo2": {},
    "granite": {},
    "stablelm": {"partial_rotary_factor": 0.5, "head_dim": None},
    "starcoder2": {"head_dim": None},
    "smollm3": {},
    "cohere": {"head_dim": None},
    "gpt2": {"n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 256, "n_inner": 64},
    "gpt_neox": {"rotary_pct": 0.5, "head_dim": None, "num_key_value_heads": None},
    "falcon": {"new_decoder_architecture": False, "multi_query": True, "head_dim": None,
               "num_key_value_heads": None},
    "qwen3_moe": {**MOE, "num_experts": 4, "decoder_sparse_step": 1},
    "mixtral": {"num_local_experts": 4, "num_experts_per_tok": 2},
    "gpt_oss": {"num_local_experts": 4, "num_experts_per_tok": 2, "sliding_window": 4},
    "olmoe": {"num_experts": 4, "num_experts_per_tok": 2},
}
FAMILIES = tuple(FAMILY_SETTINGS)


def tiny_config(family: str, tokenizer: Any) -> Any:
    """``family``'s config with tiny sizes, the embedded tokenizer's vocabulary and special tokens."""
    from transformers import AutoConfig

    settings = {key: value for key, value in {**COMMON, **FAMILY_SETTINGS[family]}.items() if value is not None}
    if family == "gpt2":
        settings = {key: value for key, value in settings.items() if key not in COMMON}
    config = AutoConfig.for_model(family, vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                                  eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.eos_token_id,
                                  **settings)
    return config


def tiny_model(family: str, tokenizer: Any, seed: int = 0) -> Any:
    """A random ``family`` causal LM in eval mode, the same weights for the same seed."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(tiny_config(family, tokenizer)).eval()


def save_tiny_folder(family: str, tokenizer: Any, folder: Any) -> Any:
    """The tiny model and the tokenizer saved as a local model folder, as a user's own model would be."""
    tiny_model(family, tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
