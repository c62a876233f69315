"""A fine-tuning run folder as a worker leaves it (config and LoRA adapter), over any base model, without
training: tests of what reads finished runs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch

from playground.finetune.config import FinetuneConfig


def save_run(runs: Path, run_id: str, base: str, tiny_lm: Any, nudge: bool) -> None:
    """``runs/run_id`` with a LoRA adapter on q_proj and o_proj: untrained (B = 0), or nudged as if trained."""
    from peft import LoraConfig, get_peft_model

    folder = runs / run_id
    folder.mkdir()
    FinetuneConfig(base_model=base, run_name=run_id.split("-")[-1]).save(folder / "config.json")
    torch.manual_seed(1)
    model = get_peft_model(copy.deepcopy(tiny_lm),
                           LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "o_proj"], task_type="CAUSAL_LM"))
    if nudge:  # as if trained: B starts at zero, so an untrained adapter is the base exactly
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if "lora_B" in name:
                    parameter.normal_(0, 0.5)
    model.save_pretrained(str(folder / "adapter"))
