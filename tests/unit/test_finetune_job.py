"""The fine-tuning job on the embedded model, for a few steps on CPU, through the runner."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from playground.core.errors import InvalidInputError
from playground.core.iterutil import last
from playground.finetune.config import FinetuneConfig
from playground.finetune.runner import JobRunner
from playground.finetune.train import complete_checkpoints
from playground.generation.engine import Generation, decode_with
from playground.generation.sampling import SamplingSettings
from tests.launch import accelerate_launch

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
QUICK = dict(max_steps=10, eval_every=5, save_every=5, eval_size=8, probe_tokens=12, learning_rate=1e-3)


@pytest.fixture
def runner(tmp_path, workspace):
    return JobRunner(tmp_path / "runs", tokenizer_of=workspace.store.hf_tokenizer)


def test_a_short_run_learns_saves_and_changes_the_model(runner, workspace):
    run_id = runner.start(FinetuneConfig(run_name="learn", **QUICK))
    summary = runner.wait(run_id, timeout=600)
    assert summary.status == "finished", (summary.message, (runner.run_dir(run_id) / "worker.log").read_text()[-2000:])
    losses = [loss for _, loss in summary.losses]
    assert len(losses) == 10 and sum(losses[-3:]) / 3 < sum(losses[:3]) / 3  # it learned
    assert [step for step, _ in summary.eval_losses] == [5, 10]
    assert summary.probes[-1]["samples"][0]["output"]  # probe answers logged at each eval
    adapter = runner.run_dir(run_id) / "adapter"
    assert (adapter / "adapter_config.json").exists() and (adapter / "adapter_model.safetensors").exists()
    # the reloaded adapter changes what the model says
    tuned = workspace.adapters.model("smollm2-135m-instruct", adapter)
    engine = workspace.generation
    prompt = engine.prepare("smollm2-135m-instruct", "What is the capital of France?", 16)
    settings = SamplingSettings(max_new_tokens=16)
    base = engine.generate("smollm2-135m-instruct", "What is the capital of France?", settings).text
    with torch.inference_mode():
        after = last(decode_with(tuned, engine.load("smollm2-135m-instruct")[1],
                                 Generation("tuned", prompt, settings))).text
    assert after != base
    # a new runner over the same folder (an app restart) sees the run and its curves
    again = JobRunner(runner.runs_dir).status(run_id)
    assert again.status == "finished" and again.losses == summary.losses


def test_stop_saves_the_adapter_and_one_job_at_a_time(runner):
    run_id = runner.start(FinetuneConfig(run_name="stop", **{**QUICK, "max_steps": 200, "eval_every": 100}))
    with pytest.raises(InvalidInputError, match="already running"):
        runner.start(FinetuneConfig(run_name="second", **QUICK))
    deadline = time.monotonic() + 120
    while runner.status(run_id).step < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    reattached = JobRunner(runner.runs_dir)  # the page reloaded or the app restarted: still running
    assert reattached.status(run_id).status == "running" and reattached.active() == run_id
    runner.cancel(run_id)
    summary = runner.wait(run_id, timeout=120)
    assert summary.status == "cancelled" and summary.step < 200
    assert (runner.run_dir(run_id) / "adapter" / "adapter_config.json").exists()


def test_a_killed_worker_is_reported_and_can_resume(runner):
    run_id = runner.start(FinetuneConfig(run_name="killed", **{**QUICK, "max_steps": 200, "eval_every": 100,
                                                               "save_every": 2}))
    deadline = time.monotonic() + 180
    while not runner.status(run_id).checkpoints and time.monotonic() < deadline:
        time.sleep(0.5)
    pid = int((runner.run_dir(run_id) / "worker.pid").read_text())
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30  # the runner notices the dead worker: no fixed sleep
    while runner.status(run_id).status == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    summary = runner.status(run_id)
    assert summary.status == "interrupted" and "stopped without finishing" in summary.message
    assert "checkpoint-" in summary.message
    runner.start(FinetuneConfig(), resume=run_id)
    assert runner.status(run_id).status in ("queued", "running")  # not the old "interrupted" while it starts
    deadline = time.monotonic() + 120
    while runner.status(run_id).step <= summary.step and time.monotonic() < deadline:
        time.sleep(0.5)
    assert runner.status(run_id).step > summary.step  # it went on from the checkpoint
    runner.cancel(run_id)
    assert runner.wait(run_id, timeout=120).status == "cancelled"


def test_run_ids_cannot_escape_the_runs_folder(runner):
    for bad in ("../etc", "/etc/passwd", "20261123-101500-x/../../y", ""):
        with pytest.raises(InvalidInputError):
            runner.status(bad)


def test_a_full_disk_when_saving_ends_the_run_clearly_and_keeps_what_was_written(tmp_path):
    """The worker may write files of at most 256 KB (RLIMIT_FSIZE, as a nearly full disk would allow):
    the checkpoint save fails, the run says so, and the events written before stay readable."""
    folder = tmp_path / "runs" / "20261123-101500-full"
    folder.mkdir(parents=True)
    FinetuneConfig(run_name="full", **{**QUICK, "max_steps": 4, "save_every": 2, "eval_every": 4}).save(
        folder / "config.json")
    limit = 256 * 1024  # the events and the log fit; a LoRA adapter (~1.8 MB) does not

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run([sys.executable, "-m", "playground.finetune", "--config", str(folder / "config.json")],
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, preexec_fn=small_files,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    summary = JobRunner(folder.parent).status(folder.name)
    assert summary.status == "failed" and "disk is full" in summary.message, summary.message
    assert [step for step, _ in summary.losses] == [1, 2]  # the steps before the failed save are all there
    assert not complete_checkpoints(folder)  # the half-written checkpoint is never offered for resuming


def test_accelerate_launch_on_two_processes_writes_one_run(tmp_path):
    """``accelerate launch`` (two CPU processes here, several GPUs on a server): one set of events,
    written by the main process only, probes from the shipped set, a checkpoint and the adapter."""
    folder = tmp_path / "runs" / "20261123-101500-ddp"
    folder.mkdir(parents=True)
    FinetuneConfig(run_name="ddp", **{**QUICK, "max_steps": 4, "eval_every": 4, "save_every": 2,
                                      "batch_size": 2}).save(folder / "config.json")
    accelerate_launch(folder / "config.json")
    summary = JobRunner(folder.parent).status(folder.name)
    assert summary.status == "finished", summary.message
    assert [step for step, _ in summary.losses] == [1, 2, 3, 4]  # once each, not once per process
    assert summary.probes[-1]["samples"][0]["output"]  # the shipped probes, though the config named none
    assert (folder / "adapter" / "adapter_config.json").is_file() and complete_checkpoints(folder)
