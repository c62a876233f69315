"""What a page watching the runs shows: the run it opens on, its status line and probe answers, the run
history, and what differs between the runs picked for comparison.

The page polls every two seconds: it reads the runs once per poll, and their ``runs_fingerprint`` says
whether anything it shows changed, so an unchanged poll sends nothing to the browser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from playground.core.errors import InvalidInputError
from playground.finetune.events import RunSummary
from playground.finetune.runner import JobRunner
from playground.text.analysis import VISIBLE_WHITESPACE

NO_RUN = ("No run yet in this visit: choose settings and press **Start** (earlier runs stay under "
          "**Run shown** and in the run history).")
STATUS_ICONS = {"running": "⏳", "finished": "✅", "failed": "❌", "cancelled": "⏹️", "interrupted": "⚠️"}


def activity(summary: RunSummary) -> str:
    """Why the step count stands still, while it does: the base model's probe, an evaluation, the end's scores."""
    if not (summary.evaluating and summary.status == "running"):
        return ""
    if summary.step == 0:
        return " · 🔎 probing the base model before step 1"
    if summary.max_steps and summary.step >= summary.max_steps:
        return " · 🔎 scoring the base and the trained model before the run finishes"
    return " · 🔎 evaluating (eval loss and probe answers; steps resume after it)"


def status_markdown(summary: RunSummary | None) -> str:
    """The run's status in one line (Markdown): step, pace, time left, and what the worker said."""
    if summary is None:
        return NO_RUN
    eta = f" · about {summary.eta_seconds / 60:.1f} min left" if summary.eta_seconds else ""
    pace = f" · {pace_text(summary.seconds_per_step)}" if summary.seconds_per_step else ""
    icon = STATUS_ICONS.get(summary.status, "⏳")
    message = f"<br>{summary.message}" if summary.message else ""
    notes = "".join(f"<br>ℹ️ {note}" for note in summary.notes)
    return (f"{icon} **{summary.run_id}**: {summary.status} · step {summary.step} of {summary.max_steps}"
            f"{activity(summary)}{pace}{eta}{message}{notes}")


def pace_text(seconds_per_step: float) -> str:
    """A pre-training step of the default tiny model takes about 20 ms: "0.0 s/step" said nothing."""
    return f"{seconds_per_step * 1000:.0f} ms/step" if seconds_per_step < 1 else f"{seconds_per_step:.1f} s/step"


def shown_run(run_id: str | None, runs: list[RunSummary]) -> str | None:
    """The run the page shows: the user's choice, else the newest one still running, else none.

    A fresh visit must not open on a leftover run ("cancelled · step 4 of 40") the user never started.
    """
    if run_id in [r.run_id for r in runs]:
        return run_id
    return next((r.run_id for r in runs if r.status in ("queued", "running")), None)


def run_rows(runs: list[RunSummary]) -> list[list[Any]]:
    """The run history: id, status, progress, the last losses and the worker's message."""
    return [[r.run_id, r.status, f"{r.step}/{r.max_steps}", round(r.losses[-1][1], 4) if r.losses else None,
             round(r.eval_losses[-1][1], 4) if r.eval_losses else None, r.message] for r in runs]


def probe_rows(summary: RunSummary | None) -> list[list[Any]]:
    """Each evaluation's probe answers, newest first; step 0 is the base model's, before training."""
    if summary is None:
        return []
    return [[probe["step"] or "0 (base)", *sample_pair(sample)]
            for probe in reversed(summary.probes) for sample in probe["samples"]]


def sample_pair(sample: dict[str, Any]) -> tuple[str, str]:
    """(what the model was given, what it answered): a probe's prompt and output, or a pre-training run's sample
    (a continuation's prompt and completion, an encoder's masked or corrupted input and the text it filled in)."""
    given = sample.get("prompt", sample.get("input", ""))
    answered = sample["output"] if "output" in sample else sample.get("completion", sample.get("filled", ""))
    return shown_newlines(given), shown_newlines(answered)


def shown_newlines(text: str) -> str:
    """Newlines drawn as ↵: a table cell shows no line breaks, and a young model's favourite sample, newlines
    only, read as a blank answer."""
    return text.replace("\n", VISIBLE_WHITESPACE["\n"])


def config_diff(configs: dict[str, dict[str, Any]]) -> list[list[Any]]:
    """Only the settings that differ between the chosen runs."""
    if len(configs) < 2:
        return []
    keys = sorted(set().union(*configs.values()))
    return [[key, *[str(config.get(key)) for config in configs.values()]]
            for key in keys if len({str(config.get(key)) for config in configs.values()}) > 1]


def diff_note(picked: int, rows: list[list[Any]]) -> str:
    """What the comparison says in words, where a table would be empty."""
    if picked < 2:
        return "*Pick two or more runs under **Overlay runs** to list the settings that differ.*"
    return "" if rows else "**No differences:** the chosen runs used the same settings."


def runs_fingerprint(runs: list[RunSummary], *controls: Any) -> str:
    """What the page shows, in brief: a poll that finds it unchanged sends nothing to the browser."""
    return repr([(r.run_id, r.status, r.step, len(r.losses), len(r.eval_losses), r.message) for r in runs]
                + [controls])


@dataclass(frozen=True)
class WatchRequest:
    """What a page watches: the run it was showing (if any) and the runs picked for comparison."""

    run_id: str | None = None
    chosen: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.run_id is not None and not isinstance(self.run_id, str):
            raise InvalidInputError(f"run_id must be a run id or empty, got {self.run_id!r}.")
        chosen = self.chosen or ()
        if isinstance(chosen, str) or not all(isinstance(item, str) for item in chosen):
            raise InvalidInputError(f"The runs to compare must be a list of run ids, got {chosen!r}.")
        object.__setattr__(self, "chosen", tuple(chosen))


@dataclass(frozen=True)
class RunsState:
    """Every run, the one shown, the ones picked and the settings that differ between those."""

    runs: list[RunSummary]
    shown: RunSummary | None
    picked: list[RunSummary]
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    diff_rows: list[list[Any]] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return [r.run_id for r in self.runs]

    def to_dict(self) -> dict[str, Any]:
        return {"runs": [r.to_dict() for r in self.runs], "shown": self.shown.run_id if self.shown else None,
                "status": status_markdown(self.shown), "probes": probe_rows(self.shown),
                "history": run_rows(self.runs), "picked": [r.run_id for r in self.picked],
                "diff": self.diff_rows, "diff_note": diff_note(len(self.picked), self.diff_rows)}


def watch_runs(runner: JobRunner, request: WatchRequest, runs: list[RunSummary] | None = None) -> RunsState:
    """What the page shows for ``request``: reads the runs (unless given) and each picked run's config."""
    runs = runner.runs() if runs is None else runs
    current = shown_run(request.run_id, runs)
    picked = [r for r in runs if r.run_id in request.chosen]
    configs = {r.run_id: runner.config(r.run_id) for r in picked}
    return RunsState(runs, next((r for r in runs if r.run_id == current), None), picked, configs,
                     config_diff(configs))
