"""Which kind of run a run folder holds (``kind`` in its config.json: absent for fine-tuning), and its config.

The runner, its worker entry point and the status read configs through here, so fine-tuning and pre-training
runs share one runs folder, one Stop, one Resume and one list.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playground.core.errors import InvalidInputError

FINETUNE = "finetune"
PRETRAIN_KINDS = ("pretrain", "pretrain_sweep")


def run_kind(config_path: Path) -> str:
    """The config's ``kind``; a config without one (every fine-tuning run, old ones too) is a fine-tuning run."""
    try:
        data = json.loads(Path(config_path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:
        raise InvalidInputError(f"Could not read the config {config_path}: {error}") from error
    kind = data.get("kind", FINETUNE) if isinstance(data, dict) else FINETUNE
    if kind not in (FINETUNE, *PRETRAIN_KINDS):
        raise InvalidInputError(f"The config {config_path} has an unknown kind {kind!r}.")
    return kind


def load_run_config(config_path: Path) -> Any:
    """The run's config object: a FinetuneConfig, PretrainConfig or SweepConfig (each validates itself)."""
    kind = run_kind(config_path)
    if kind == "pretrain":
        from playground.pretrain.config import PretrainConfig

        return PretrainConfig.load(config_path)
    if kind == "pretrain_sweep":
        from playground.pretrain.sweep import SweepConfig

        return SweepConfig.load(config_path)
    from playground.finetune.config import FinetuneConfig

    return FinetuneConfig.load(config_path)


def prepare_resume(config_path: Path) -> None:
    """What a kind does to its folder before a resumed worker starts: a single pre-training run cuts its events
    back to its last checkpoint (or sets them aside when it has none and starts again); a sweep keeps its points
    and a fine-tuning run its Trainer checkpoints. Every kind says ``resumed`` (queued again), so nobody reads
    the old "cancelled" while the worker starts."""
    kind = run_kind(config_path)
    if kind == "pretrain":
        from playground.pretrain.worker import prepare_events

        prepare_events(Path(config_path).parent)
    else:
        from playground.finetune.events import append_event

        append_event(Path(config_path).parent, "resumed", message="")


def resume_note(config_path: Path) -> str:
    """What Resume does for an interrupted pre-training run, from its folder (a single run from its last
    checkpoint's step, or from step 0 before its first; a sweep from its next unfinished point); empty for a
    fine-tuning run, whose status names its last Trainer checkpoint itself."""
    try:
        kind = run_kind(config_path)
    except InvalidInputError:
        return ""
    if kind == "pretrain":
        from playground.pretrain.worker import resume_message

        return resume_message(Path(config_path).parent)
    if kind == "pretrain_sweep":
        return "Resume continues the sweep from its next unfinished point."
    return ""
