"""A single pre-training run's checkpoint: what Resume needs to continue exactly where the run left off.

``checkpoints/step-N/`` holds ``state.pt`` (the model's weights, AdamW's averages, the schedule, the data-order
and mask generator's state, torch's own RNG) and ``result.json`` (the curves so far). It is written into a
``.tmp`` folder and renamed into place, so a kill mid-write leaves the previous checkpoint whole and a
half-written folder that no reader takes; older checkpoints are removed once the new one is in place.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from playground.core.errors import PlaygroundError
from playground.pretrain.loop import LoopState, TrainResult

CHECKPOINTS = "checkpoints"
PREFIX = "step-"
STATE, RESULT = "state.pt", "result.json"


def fingerprint(rows: torch.Tensor) -> str:
    """The training rows' hash: a resumed run must see the very same data (tokenizer and corpus rebuilt)."""
    return hashlib.sha256(rows.contiguous().numpy().tobytes()).hexdigest()[:16]


def complete(run_dir: Path) -> list[Path]:
    """Whole checkpoints, oldest first; a ``.tmp`` folder (a kill mid-write) is never one."""
    found = [path for path in (Path(run_dir) / CHECKPOINTS).glob(f"{PREFIX}*")
             if path.name[len(PREFIX):].isdigit() and (path / STATE).is_file() and (path / RESULT).is_file()]
    return sorted(found, key=lambda path: int(path.name[len(PREFIX):]))


def last_step(run_dir: Path) -> int | None:
    """The step the latest whole checkpoint was taken at, or None when there is none."""
    found = complete(run_dir)
    return int(found[-1].name[len(PREFIX):]) if found else None


def save(run_dir: Path, model: Any, state: LoopState, rows: str) -> Path:
    """Write ``state`` and ``model``'s weights as ``checkpoints/step-N`` (atomically), then drop older ones."""
    root = Path(run_dir) / CHECKPOINTS
    root.mkdir(exist_ok=True)
    final = root / f"{PREFIX}{state.step}"
    temporary = root / f"{PREFIX}{state.step}.tmp"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    torch.save({"model": model.state_dict(), "optimizer": state.optimizer, "scheduler": state.scheduler,
                "generator": state.generator, "torch_rng": torch.get_rng_state(), "step": state.step,
                "rows": rows}, temporary / STATE)
    (temporary / RESULT).write_text(json.dumps(state.result.__dict__), encoding="utf-8")
    _fsync(temporary / STATE, temporary / RESULT)
    if final.exists():  # the same step saved twice (a Stop right after an evaluation's checkpoint)
        shutil.rmtree(final)
    os.replace(temporary, final)
    for older in complete(run_dir)[:-1]:
        shutil.rmtree(older, ignore_errors=True)
    return final


def load(run_dir: Path, model: Any, rows: str) -> LoopState | None:
    """The latest whole checkpoint loaded into ``model``, as the loop's start state; None when there is none."""
    found = complete(run_dir)
    if not found:
        return None
    saved = torch.load(found[-1] / STATE, map_location="cpu", weights_only=False)
    if saved.get("rows") != rows:
        raise PlaygroundError("The training data came out different from the checkpoint's (the corpus or the "
                              "tokenizer changed): start a new run instead of resuming this one.")
    model.load_state_dict(saved["model"])
    torch.set_rng_state(saved["torch_rng"])
    result = TrainResult(**json.loads((found[-1] / RESULT).read_text(encoding="utf-8")))
    return LoopState(step=int(saved["step"]), optimizer=saved["optimizer"], scheduler=saved["scheduler"],
                     generator=saved["generator"], result=result)


def _fsync(*paths: Path) -> None:
    for path in paths:
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
