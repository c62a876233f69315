"""Issue 36: a single pre-training run keeps a checkpoint, so Resume continues it (Stop, or a killed worker) and it
ends exactly as an uninterrupted run of the same seed; the curves continue without doubled steps."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from playground.core.settings import Settings
from playground.finetune.events import read_events, summarize
from playground.finetune.run_kinds import prepare_resume
from playground.finetune.runner import JobRunner
from playground.pretrain import checkpoint, worker
from playground.pretrain.config import PretrainConfig
from playground.pretrain.lab import PretrainLab

TINY = dict(layers=1, width=32, heads=2, context=32, vocab_size=512, steps=24, batch_size=4, eval_every=8,
            eval_sequences=4, sample_tokens=4, learning_rate=1e-2)


def new_run(tmp_path: Path, name: str, **changes) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    PretrainConfig(**{**TINY, **changes}).save(folder / "config.json")
    return folder


def stop_before(step: int):
    """A stop check that says "stop" just before ``step`` (the loop asks once before each step)."""
    asked = []

    def stop(run_dir: Path) -> bool:
        asked.append(run_dir)
        return len(asked) >= step

    return stop


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / worker.MODEL / "model.safetensors"))


def final_eval_loss(folder: Path) -> float:
    return next(e for e in reversed(read_events(folder)) if e["event"] == "finished")["eval_loss"]


@pytest.mark.parametrize("family, stop_at", [("decoder", 11), ("encoder", 9)])
def test_a_stopped_run_resumed_ends_as_an_uninterrupted_one(tmp_path, monkeypatch, family, stop_at):
    whole = new_run(tmp_path, "whole", family=family)
    assert worker.run(whole) == 0
    parted = new_run(tmp_path, "parted", family=family)
    monkeypatch.setattr(worker, "stop_requested", stop_before(stop_at))
    assert worker.run(parted) == 0
    stopped = summarize("parted", read_events(parted))
    assert stopped.status == "cancelled" and f"Resume continues from step {stop_at - 1}" in stopped.message
    assert checkpoint.last_step(parted) == stop_at - 1 and len(checkpoint.complete(parted)) == 1  # older removed
    monkeypatch.setattr(worker, "stop_requested", lambda run_dir: False)
    prepare_resume(parted / "config.json")
    assert summarize("parted", read_events(parted)).status == "queued"
    assert worker.run(parted, resume=True) == 0
    summary = summarize("parted", read_events(parted))
    assert summary.status == "finished", summary.message
    assert [step for step, _ in summary.losses] == list(range(1, 25))  # continued, not restarted
    assert final_eval_loss(parted) == pytest.approx(final_eval_loss(whole), abs=1e-6)
    expected, got = weights(whole), weights(parted)
    assert expected.keys() == got.keys()
    assert all(torch.allclose(expected[name], got[name], rtol=0, atol=1e-6) for name in expected)
    assert sum(e["event"] == "model" for e in read_events(parted)) == 1  # the opening events are not repeated


def test_a_half_written_checkpoint_is_never_taken(tmp_path):
    folder = tmp_path / "run"
    (folder / checkpoint.CHECKPOINTS / "step-8").mkdir(parents=True)
    (folder / checkpoint.CHECKPOINTS / "step-16.tmp").mkdir()
    for name in (checkpoint.STATE, checkpoint.RESULT):
        (folder / checkpoint.CHECKPOINTS / "step-8" / name).write_text("x")
        (folder / checkpoint.CHECKPOINTS / "step-16.tmp" / name).write_text("x")
    assert checkpoint.last_step(folder) == 8
    assert worker.resume_message(folder) == "Resume continues from step 8."
    assert worker.resume_message(tmp_path) == worker.RESTART_NOTE


def test_a_killed_worker_resumes_from_its_last_checkpoint(tmp_path):
    lab = PretrainLab(JobRunner(tmp_path / "runs"), Settings(cache_dir=tmp_path / "cache"))
    run_id = lab.start(dict(TINY, steps=2000, eval_every=5, run_name="killed"))
    folder = lab.runner.run_dir(run_id)
    deadline = time.monotonic() + 60
    while checkpoint.last_step(folder) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(int((folder / "worker.pid").read_text()), signal.SIGKILL)
    deadline = time.monotonic() + 30
    while lab.runner.status(run_id).status == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    killed = lab.runner.status(run_id)
    kept = checkpoint.last_step(folder)
    assert killed.status == "interrupted" and f"Resume continues from step {kept}." in killed.message
    lab.runner.resume(run_id)
    deadline = time.monotonic() + 60
    while lab.runner.status(run_id).step <= kept + 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    lab.runner.cancel(run_id)
    summary = lab.runner.wait(run_id, 60)
    assert summary.status == "cancelled" and "Resume continues from step" in summary.message
    steps = [step for step, _ in summary.losses]
    assert steps == list(range(1, steps[-1] + 1)) and steps[-1] > kept + 1  # no step twice, none missing
    began = [e for e in read_events(folder) if e["event"] == "started"]
    assert len(began) == 2 and began[1]["step"] == kept
