"""Train a preset through the worker's own entry point (``train``) in a scratch runs folder and hand back the
tuned model: what the before/after benchmarks (DPO, GRPO) share, so they measure the path users run."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from playground.finetune.config import FinetuneConfig
from playground.finetune.events import read_events
from playground.finetune.train import train
from playground.models.store import ModelStore


@dataclass
class TrainedPreset:
    model: Any
    """The base model with the run's adapter, in eval mode."""
    seconds: float
    steps: list[dict[str, Any]]
    """The run's step events, in order."""


@contextmanager
def trained_preset(store: ModelStore, model: str, config: FinetuneConfig, label: str) -> Iterator[TrainedPreset]:
    """Train ``config`` on ``model``; the run folder lives while the block runs. ``label`` names the method in
    the error a failed run raises."""
    from peft import PeftModel

    with tempfile.TemporaryDirectory(prefix=f"bench-{label.lower()}-") as scratch:
        run_dir = Path(scratch) / f"20261206-000000-{label.lower()}"
        run_dir.mkdir()
        config.save(run_dir / "config.json")
        started = time.monotonic()
        if train(run_dir) != 0:
            raise SystemExit(f"the {label} run failed: {read_events(run_dir)[-1]}")
        seconds = time.monotonic() - started
        steps = [event for event in read_events(run_dir) if event["event"] == "step"]
        tuned = PeftModel.from_pretrained(store.private_causal_lm(model, dtype=torch.float32),
                                          str(run_dir / "adapter")).eval()
        yield TrainedPreset(tuned, seconds, steps)
