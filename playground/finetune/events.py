"""A run's events: one JSON object per line in ``events.jsonl``, appended by the worker, read by anyone.

The page, the API and a restarted app learn everything about a run from its folder, so nothing
is lost when the page reloads or the app restarts. Besides started, step, eval, checkpoint and the
terminal events, the worker writes ``evaluating`` {step} when an evaluation (eval loss and probe answers)
begins, so a page can say why the step count stands still, and ``probe`` {step: 0, samples} with the base
model's answers before step 1, to compare the later probes against. Before training it writes ``model``
{method, trainable_params, total_params, weights_mb} (what the trade-off table reads); step events may
carry a method's own measures (DPO and the reward model: reward_margin, reward_accuracy; distillation: kl,
ce; GRPO: reward_mean, reward_std, kl, completion_tokens and ``rewards`` {name: mean}), eval events
eval_accuracy (reward model) or eval_reward (GRPO), and the terminal event train_seconds and tokens_seen beside
peak_rss_mb. GRPO writes ``groups`` {step, groups: [{prompt, answers: [{text, rewards, advantage}]}]} after
each step; a reward model's run ends with ``reward_eval`` {pairs, accuracy, low, high, chosen, rejected}.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

EVENTS = "events.jsonl"
TERMINAL = ("finished", "failed", "cancelled")
MEASURES = ("reward_margin", "reward_accuracy", "kl", "ce", "reward_mean", "reward_std", "completion_tokens")
"""A step event's method-specific measures, kept per step in ``RunSummary.measures``."""
EVAL_MEASURES = ("eval_accuracy", "eval_reward")


def append_event(run_dir: Path, kind: str, **data: Any) -> None:
    """Append one event; a whole line per write, flushed and fsynced, so a reader never sees half."""
    line = json.dumps({"event": kind, "time": time.time(), **data}, ensure_ascii=False)
    with open(run_dir / EVENTS, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_events(run_dir: Path) -> list[dict[str, Any]]:
    """Every complete event; a line cut short by a crash is skipped.

    Lines end at a line feed only: not str.splitlines(), which also breaks at U+2028, U+2029 and
    U+0085, and json.dumps(..., ensure_ascii=False) writes those raw inside a probe answer or a
    message. A character torn by the crash is replaced, so only its own line is lost.
    """
    path = run_dir / EVENTS
    if not path.exists():
        return []
    return parse_events(path.read_text(encoding="utf-8", errors="replace"))


def parse_events(text: str) -> list[dict[str, Any]]:
    """The events in ``text``, one per line (see :func:`read_events` on why lines end at a line feed only);
    a line that is not JSON (cut short by a crash) is skipped."""
    events = []
    for line in text.split("\n"):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


@dataclass
class RunSummary:
    """What the events say about a run (``status`` also looks at whether its worker still lives)."""

    run_id: str
    status: str = "queued"
    message: str = ""
    step: int = 0
    max_steps: int = 0
    losses: list[list[float]] = field(default_factory=list)
    eval_losses: list[list[float]] = field(default_factory=list)
    learning_rates: list[list[float]] = field(default_factory=list)
    grad_norms: list[list[float]] = field(default_factory=list)
    probes: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What the worker said beside the curves: data notes at the start, the end-of-run evaluation's scores."""
    adapter: str | None = None
    started: float | None = None
    updated: float | None = None
    measures: dict[str, list[list[float]]] = field(default_factory=dict)
    """[step, value] per method-specific measure (see ``MEASURES``; eval ones under their eval_ names)."""
    reward_means: dict[str, list[list[float]]] = field(default_factory=dict)
    """GRPO: [step, mean] per reward."""
    groups: dict[str, Any] | None = None
    """GRPO: the latest step's groups {step, groups}."""
    reward_eval: dict[str, Any] | None = None
    """A reward model's held-out accuracy, its interval and both answers' scores."""
    evaluating: bool = False
    """An evaluation (or the base model's probe before step 1) is under way: the step count stands still."""
    eval_every: int = 0
    evaluations: int = 0
    eval_seconds: float = 0.0
    """Time spent evaluating so far: kept out of the training pace, added back per evaluation still to come."""
    paused_seconds: float = 0.0
    """Time a resumed run sat stopped (its last event before Resume to its worker's "started"): not training."""
    _eval_began: float | None = None
    _paused_since: float | None = None
    _eval_step: int = 0

    @property
    def seconds_per_step(self) -> float | None:
        """Training seconds per step, evaluations excluded (they would make the pace jump after each)."""
        if self.started is None or self.updated is None or self.step < 1:
            return None
        return max(self.updated - self.started - self.eval_seconds - self.paused_seconds, 0.0) / self.step

    @property
    def eta_seconds(self) -> float | None:
        per_step = self.seconds_per_step
        if per_step is None or self.status != "running":
            return None
        left = per_step * (self.max_steps - self.step)
        if self.eval_every and self.evaluations:
            evaluations_left = max(self.max_steps // self.eval_every - self.step // self.eval_every, 0)
            left += self.eval_seconds / self.evaluations * evaluations_left
        return left

    def copied(self) -> RunSummary:
        """A copy with its own lists and dicts: events added to it later never reach what callers hold."""
        return replace(self, losses=list(self.losses), eval_losses=list(self.eval_losses),
                       learning_rates=list(self.learning_rates), grad_norms=list(self.grad_norms),
                       probes=list(self.probes), checkpoints=list(self.checkpoints), notes=list(self.notes),
                       measures={name: list(values) for name, values in self.measures.items()},
                       reward_means={name: list(values) for name, values in self.reward_means.items()})

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "status": self.status, "message": self.message, "step": self.step,
                "max_steps": self.max_steps, "losses": self.losses, "eval_losses": self.eval_losses,
                "learning_rates": self.learning_rates, "grad_norms": self.grad_norms, "probes": self.probes,
                "checkpoints": self.checkpoints, "notes": self.notes, "adapter": self.adapter,
                "evaluating": self.evaluating, "measures": self.measures, "reward_means": self.reward_means,
                "groups": self.groups, "reward_eval": self.reward_eval,
                "seconds_per_step": self.seconds_per_step, "eta_seconds": self.eta_seconds}


def summarize(run_id: str, events: list[dict[str, Any]]) -> RunSummary:
    return add_events(RunSummary(run_id), events)


def add_events(summary: RunSummary, events: list[dict[str, Any]]) -> RunSummary:
    """``summary`` (changed in place, and returned) with ``events`` added after the ones it holds: a run's
    summary is a fold over its events, so a reader can add only the lines written since it last looked."""
    for event in events:
        kind = event.get("event")
        previous, summary.updated = summary.updated, event.get("time", summary.updated)
        if kind == "resumed":
            summary._paused_since = previous if previous is not None else summary.updated
        elif kind == "started" and summary._paused_since is not None and summary.updated is not None:
            summary.paused_seconds += max(summary.updated - summary._paused_since, 0.0)
            summary._paused_since = None
        if kind in ("eval", "probe", *TERMINAL) or (kind == "step" and event.get("step", 0) > summary._eval_step):
            _end_evaluation(summary)
        if kind == "started":
            summary.status, summary.max_steps = "running", int(event.get("max_steps", 0))
            summary.started = event.get("time") if summary.started is None else summary.started
            summary.step = int(event.get("step", summary.step))
            summary.eval_every = int(event.get("eval_every") or summary.eval_every)
        elif kind == "evaluating":  # written before its step's own step event: the Trainer logs after
            summary.evaluating, summary._eval_began = True, event.get("time")
            summary._eval_step = int(event.get("step", summary.step))
        elif kind == "probe":
            summary.probes.append({"step": event.get("step", 0), "samples": event.get("samples", [])})
        elif kind == "step":
            summary.step = int(event["step"])
            summary.losses.append([event["step"], event["loss"]])
            if event.get("lr") is not None:
                summary.learning_rates.append([event["step"], event["lr"]])
            if event.get("grad_norm") is not None:
                summary.grad_norms.append([event["step"], event["grad_norm"]])
            _add_measures(summary.measures, event, MEASURES)
            for name, value in (event.get("rewards") or {}).items():
                if value is not None:
                    summary.reward_means.setdefault(name, []).append([event["step"], value])
        elif kind == "eval":
            summary.eval_losses.append([event["step"], event["eval_loss"]])
            _add_measures(summary.measures, event, EVAL_MEASURES)
            summary.probes.append({"step": event["step"], "samples": event.get("samples", [])})
        elif kind == "checkpoint":
            summary.checkpoints.append(event["path"])
        elif kind == "groups":
            summary.groups = {"step": event.get("step", 0), "groups": event.get("groups", [])}
        elif kind == "reward_eval":
            summary.reward_eval = {key: event[key] for key in ("pairs", "accuracy", "low", "high", "chosen",
                                                                 "rejected") if key in event}
        elif kind == "note" and event.get("message"):
            summary.notes.append(str(event["message"]))
        elif kind == "model" and event.get("adapted_modules"):
            summary.notes.append(f"LoRA adapts {', '.join(map(str, event['adapted_modules']))} (the names of this "
                                 "model's own layers).")
        elif kind == "resumed":  # a Resume (fine-tuning or a sweep), before its worker's "started"
            summary.status, summary.message = "queued", ""
        elif kind in TERMINAL:
            summary.status, summary.message = kind, event.get("message", "")
            summary.adapter = event.get("adapter", summary.adapter)
    return summary


def _add_measures(measures: dict[str, list[list[float]]], event: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        if event.get(name) is not None:
            measures.setdefault(name, []).append([event["step"], event[name]])


def _end_evaluation(summary: RunSummary) -> None:
    """An evaluation ends with its eval (or probe) event; a step or the run's end also closes one."""
    if summary.evaluating and summary._eval_began is not None and summary.updated is not None:
        summary.eval_seconds += max(summary.updated - summary._eval_began, 0.0)
        summary.evaluations += 1
    summary.evaluating, summary._eval_began = False, None
