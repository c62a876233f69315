"""The shared models' weights dtype is a server option: off (fp32) by default, stated where it is on."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from playground.core.settings import Settings
from playground.generation.sampling import SamplingSettings
from playground.workspace import Workspace

MODEL = "smollm2-135m-instruct"


def test_default_is_float32_and_a_bad_value_is_refused(monkeypatch):
    monkeypatch.delenv("PLAYGROUND_DTYPE", raising=False)
    assert Settings.from_env().weights_dtype == "float32"
    monkeypatch.setenv("PLAYGROUND_DTYPE", "int3")
    with pytest.raises(ValueError, match="PLAYGROUND_DTYPE"):
        Settings.from_env()


def test_bfloat16_weights_load_generate_and_are_named_in_the_header(workspace):
    from app import header_markdown

    settings = replace(workspace.settings, weights_dtype="bfloat16")
    ws = Workspace.create(settings)
    lm = ws.store.causal_lm(MODEL)
    assert lm.dtype == torch.bfloat16 and workspace.store.causal_lm(MODEL).dtype == torch.float32
    answer = ws.generation.generate(MODEL, "What is the capital of France?", SamplingSettings(max_new_tokens=8))
    assert "Paris" in answer.text
    assert "bfloat16" in header_markdown(settings) and "bfloat16" not in header_markdown(workspace.settings)
