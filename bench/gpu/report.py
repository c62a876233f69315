"""The GPU check's report: markdown and JSON from a list of check results, and the exit status.

Kept apart from the checks (and free of torch and models) so a CPU test can feed it made-up results.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parents[2] / "docs"
STATUSES = ("passed", "failed", "unavailable", "not run")
NO_CUDA = "no CUDA device here: nothing run; run this on a GPU machine"


@dataclass
class CheckResult:
    """One named check: its status, seconds, figures (name -> value) and notes or first error line."""

    name: str
    status: str = "passed"
    seconds: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        return cls(**{key: data[key] for key in ("name", "status", "seconds", "figures", "note") if key in data})


def exit_status(results: list[CheckResult]) -> int:
    """1 when any check failed, else 0 (unavailable and not-run checks are reported, not failures)."""
    return 1 if first_failure(results) else 0


def first_failure(results: list[CheckResult]) -> CheckResult | None:
    return next((result for result in results if result.status == "failed"), None)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown(results: list[CheckResult], machine: dict[str, Any], command: str = "python -m bench.gpu") -> str:
    """docs/gpu.md: the machine, one row per check, then each check's figures."""
    lines = ["# GPU check", "", f"`{command}`; machine:", ""]
    lines += [f"- {key}: {_cell(value)}" for key, value in machine.items()]
    lines += ["", "| check | status | seconds | note |", "|---|---|---:|---|"]
    lines += [f"| {r.name} | {r.status} | {r.seconds:.1f} | {_cell(r.note)} |" for r in results]
    for result in results:
        if result.figures:
            lines += ["", f"## {result.name}", "", "| figure | value |", "|---|---:|"]
            lines += [f"| {_cell(key)} | {_cell(value)} |" for key, value in result.figures.items()]
    return "\n".join(lines) + "\n"


def to_json(results: list[CheckResult], machine: dict[str, Any]) -> str:
    return json.dumps({"machine": machine, "checks": [asdict(r) for r in results],
                       "exit_status": exit_status(results)}, indent=2, default=str)


def from_json(text: str) -> tuple[list[CheckResult], dict[str, Any]]:
    data = json.loads(text)
    return [CheckResult.from_dict(item) for item in data["checks"]], data["machine"]


def write(results: list[CheckResult], machine: dict[str, Any], folder: Path = DOCS) -> tuple[Path, Path]:
    """Write gpu.md and gpu.json into ``folder``; returns both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    md, js = folder / "gpu.md", folder / "gpu.json"
    md.write_text(markdown(results, machine), encoding="utf-8")
    js.write_text(to_json(results, machine) + "\n", encoding="utf-8")
    return md, js
