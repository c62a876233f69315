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
    """What a kind does to its folder before a resumed worker starts: a single pre-training run keeps no
    checkpoint and starts again, so its old events are set aside first; a sweep keeps its points and says it is
    ``resumed`` (queued again), so nobody reads its old "cancelled" while the worker starts."""
    kind = run_kind(config_path)
    if kind == "pretrain":
        from playground.pretrain.worker import restart_events

        restart_events(Path(config_path).parent)
    elif kind == "pretrain_sweep":
        from playground.finetune.events import append_event

        append_event(Path(config_path).parent, "resumed", message="")


def resume_without_checkpoint(config_path: Path) -> str:
    """What Resume does for a run that saved no checkpoint: pre-training runs resume anyway (a single run from
    step 0, a sweep from its next unfinished point); empty for a fine-tuning run, which cannot."""
    try:
        kind = run_kind(config_path)
    except InvalidInputError:
        return ""
    if kind == "pretrain":
        return "Resume starts it again from step 0 (pre-training runs keep no checkpoint)."
    if kind == "pretrain_sweep":
        return "Resume continues the sweep from its next unfinished point."
    return ""
