"""One module per training method (sft: full, lora, qlora; dpo; distill), each building a Trainer
the worker drives the same way: same events, STOP file, checkpoints and run folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playground.core.device import Device
from playground.finetune.config import FinetuneConfig


@dataclass
class Built:
    """A method's Trainer, ready to train, and what the trade-off table needs to know about it."""

    trainer: Any
    tokenizer: Any
    notes: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


def result_folder(config: FinetuneConfig) -> str:
    """Where the trained result is saved in the run folder: a LoRA adapter, or whole weights."""
    return config.training_method.saves


def build(config: FinetuneConfig, run_dir: Path, device: Device, callback_of: Any) -> Built:
    """The Trainer for ``config.method`` (its registered builder); ``callback_of(tokenizer)`` makes the
    events callback."""
    return config.training_method.load()(config, run_dir, device, callback_of)


def parameter_info(model: Any) -> dict[str, Any]:
    """Trainable and total parameters, and the weights' size in memory (quantized weights at their size)."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    weights = sum(p.numel() * p.element_size() for p in model.parameters()) + \
        sum(b.numel() * b.element_size() for b in model.buffers())
    if getattr(model, "is_loaded_in_4bit", False) or any("4bit" in type(p).__name__ for p in model.parameters()):
        total = sum(p.numel() * (2 if "4bit" in type(p).__name__ else 1) for p in model.parameters())
    info = {"trainable_params": trainable, "total_params": total, "weights_mb": weights / 2**20}
    if getattr(model, "peft_config", None):
        from playground.finetune.targets import adapted_modules

        info["adapted_modules"] = adapted_modules(model)
    return info
