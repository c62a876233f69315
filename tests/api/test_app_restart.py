"""Faults at the scale of the whole app: it is killed mid-run (the machine restarts) and started again.

The app runs as its own process, the way ``make run`` starts it, with a Hugging Face token in its
environment: the test also greps everything the app and its worker wrote for that token.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from bench.load_app import start_app

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
CANARY = f"hf_canary{uuid.uuid4().hex}"
ENDED = ("finished", "failed", "cancelled", "interrupted")


class AppProcess:
    """``python app.py`` as ``make run`` starts it, its output in a log file; killed like a crash, not stopped."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.process, self.url, _, _ = start_app(180, env=env, log=log)

    def crash(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def wait_for(client: Client, run_id: str, done, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    status = client.predict(run_id, api_name="/finetune_status")
    while not done(status) and time.monotonic() < deadline:
        time.sleep(1)
        status = client.predict(run_id, api_name="/finetune_status")
    return status


@pytest.fixture
def app_env(tmp_path) -> dict[str, str]:
    env = {**os.environ, "PLAYGROUND_RUNS": str(tmp_path / "runs"), "HF_TOKEN": CANARY,
           "HF_ENDPOINT": "http://127.0.0.1:9", "PYTHONPATH": str(REPO)}
    env.pop("HF_HUB_OFFLINE", None)  # the push below must really try (and fail fast on a closed port)
    return env


@pytest.fixture
def apps(tmp_path):
    """Every app a test starts, and its training workers, killed at the end even when an assertion failed."""
    started: list[AppProcess] = []
    yield started
    for app in started:
        if app.process.poll() is None:
            app.crash()
    for pid_file in tmp_path.glob("runs/*/worker.pid"):
        try:
            os.killpg(int(pid_file.read_text()), signal.SIGKILL)
        except (OSError, ValueError):
            pass


def test_killed_app_comes_back_with_every_run_and_leaks_no_token(app_env, apps, tmp_path):
    log = tmp_path / "app.log"
    data = tmp_path / "my pirate data.jsonl"
    lines = (REPO / "assets" / "finetune" / "pirate.jsonl").read_text(encoding="utf-8").splitlines()[:24]
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    first = AppProcess(app_env, log)
    apps.append(first)
    client = Client(first.url, verbose=False)
    quick = {"eval_every": 2, "save_every": 2, "eval_size": 4, "probe_tokens": 6}

    # a finished run on an uploaded file: the file is copied into the run, the adapter saved
    done_id = client.predict({**quick, "max_steps": 2, "run_name": "done"}, handle_file(str(data)),
                             api_name="/finetune_start")["run_id"]
    finished = wait_for(client, done_id, lambda s: s["status"] in ENDED)
    assert finished["status"] == "finished", finished["message"]
    config = json.loads((tmp_path / "runs" / done_id / "config.json").read_text())
    assert Path(config["dataset"]).parent == tmp_path / "runs" / done_id and Path(config["dataset"]).is_file()

    # the token is used for a push (that fails: no Hub here) and must appear nowhere
    with pytest.raises(AppError, match="Could not push") as failure:
        client.predict(done_id, "someone/pirate-adapter", CANARY, api_name="/finetune_push")
    assert CANARY not in str(failure.value)

    # a long run, killed with the app after its first checkpoint (as a machine restart kills both)
    cut_id = client.predict({**quick, "max_steps": 60, "eval_every": 50, "run_name": "cut"}, None,
                            api_name="/finetune_start")["run_id"]
    before = wait_for(client, cut_id, lambda s: bool(s["checkpoints"]) or s["status"] in ENDED)
    assert before["status"] == "running" and before["checkpoints"], before
    worker = int((tmp_path / "runs" / cut_id / "worker.pid").read_text())
    first.crash()
    os.killpg(worker, signal.SIGKILL)

    second = AppProcess(app_env, log)
    apps.append(second)
    client = Client(second.url, verbose=False)
    runs = {run["run_id"]: run for run in client.predict(api_name="/finetune_runs")}
    assert runs[done_id]["status"] == "finished" and len(runs[done_id]["losses"]) == 2
    assert runs[done_id]["adapter"] and runs[done_id]["eval_losses"]
    assert runs[cut_id]["status"] == "interrupted" and "Resume continues" in runs[cut_id]["message"]
    kept = runs[cut_id]["step"]
    resumed = client.predict(cut_id, api_name="/finetune_resume")
    assert resumed["status"] in ("queued", "running")
    moving = wait_for(client, cut_id, lambda s: s["step"] > kept or s["status"] in ENDED)
    assert moving["step"] > kept, moving  # it went on from the checkpoint, not from zero
    client.predict(cut_id, api_name="/finetune_cancel")
    assert wait_for(client, cut_id, lambda s: s["status"] in ENDED)["status"] == "cancelled"
    second.crash()

    leaks = [str(path) for path in tmp_path.rglob("*") if path.is_file() and CANARY.encode() in path.read_bytes()]
    assert not leaks, f"the token was written to {leaks}"
