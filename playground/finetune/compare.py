"""The trade-off table across runs: what each method trained, what it cost, what it reached.

Read from the run folders alone (the worker's ``model`` and terminal events, the step events, the saved
result's files and, once run, ``evaluation.json``), so it works for any past run after a restart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playground.core.errors import InvalidInputError
from playground.finetune.config import FinetuneConfig
from playground.finetune.events import TERMINAL, read_events
from playground.finetune.methods import result_folder
from playground.finetune.runner import JobRunner

EVALUATION = "evaluation.json"
MAX_RUNS = 12
COLUMNS = ("run_id", "method", "status", "trainable_params", "trainable_pct", "peak_memory_mb", "memory_kind",
           "weights_mb", "seconds_per_step", "tokens_per_second", "saved_mb", "final_loss", "final_eval_loss",
           "reward_margin", "kl", "reward_mean", "pair_accuracy", "base_accuracy", "tuned_accuracy")


def folder_mb(folder: Path) -> float | None:
    if not folder.is_dir():
        return None
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 2**20


def _last(events: list[dict[str, Any]], kind: str, key: str) -> Any:
    return next((e[key] for e in reversed(events) if e.get("event") == kind and e.get(key) is not None), None)


def run_row(runner: JobRunner, run_id: str) -> dict[str, Any]:
    """One run's line of the table (None where the run has not measured it, or the method has no such thing)."""
    folder = runner.run_dir(run_id)
    config = FinetuneConfig.load(folder / "config.json")
    events = read_events(folder)
    summary = runner.status(run_id)
    model = next((e for e in events if e.get("event") == "model"), {})
    end = next((e for e in reversed(events) if e.get("event") in TERMINAL), {})
    trainable, total = model.get("trainable_params"), model.get("total_params")
    gpu = end.get("peak_gpu_mb")
    seconds, tokens = end.get("train_seconds"), end.get("tokens_seen")
    evaluation = read_evaluation(folder)
    return {
        "run_id": run_id, "method": config.method, "status": summary.status,
        "trainable_params": trainable, "total_params": total,
        "trainable_pct": round(100 * trainable / total, 3) if trainable and total else None,
        "peak_memory_mb": round(gpu if gpu is not None else end["peak_rss_mb"], 1) if end.get("peak_rss_mb") else None,
        "memory_kind": ("GPU allocated" if gpu is not None else "worker RSS") if end.get("peak_rss_mb") else None,
        "weights_mb": round(model["weights_mb"], 1) if model.get("weights_mb") else None,
        "seconds_per_step": round(summary.seconds_per_step, 3) if summary.seconds_per_step else None,
        "tokens_per_second": round(tokens / seconds, 1) if tokens and seconds else None,
        "saved_mb": _rounded(folder_mb(folder / result_folder(config))),
        "final_loss": _rounded(summary.losses[-1][1] if summary.losses else None, 4),
        "final_eval_loss": _rounded(summary.eval_losses[-1][1] if summary.eval_losses else None, 4),
        "reward_margin": _rounded(_last(events, "step", "reward_margin"), 4),
        "kl": _rounded(_last(events, "step", "kl"), 4),
        "reward_mean": _rounded(_last(events, "step", "reward_mean"), 4),
        "pair_accuracy": _last(events, "reward_eval", "accuracy"),
        "base_accuracy": evaluation.get("base", {}).get("accuracy"),
        "tuned_accuracy": evaluation.get("tuned", {}).get("accuracy"),
    }


def _rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(float(value), digits)


def read_evaluation(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / EVALUATION).read_text(encoding="utf-8")).get("labelled", {}) or {}
    except (OSError, ValueError, AttributeError):
        return {}


def compare(runner: JobRunner, run_ids: list[str]) -> list[dict[str, Any]]:
    """The table's rows, in the order asked; an unknown id is a clear error, not a missing row."""
    if not isinstance(run_ids, list) or not all(isinstance(run_id, str) for run_id in run_ids):
        raise InvalidInputError("Give a list of run ids (like [\"20261123-101500-my-run\"]).")
    if not run_ids:
        raise InvalidInputError("Choose at least one run to compare.")
    if len(run_ids) > MAX_RUNS:
        raise InvalidInputError(f"At most {MAX_RUNS} runs at once; {len(run_ids)} were given.")
    return [run_row(runner, run_id) for run_id in dict.fromkeys(run_ids)]
