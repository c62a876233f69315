"""Shared fixtures: one workspace on the real embedded models, one launched app per session."""

from __future__ import annotations

import os
import socket

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("no_proxy", "127.0.0.1,localhost")
OWN_RUNS: str | None = None
"""The runs folder this session made (fine-tuning runs from tests never land in the user's run list), removed
when the session ends: a whole suite's runs take about 1 GB."""
if "PLAYGROUND_RUNS" not in os.environ:
    import tempfile

    os.environ["PLAYGROUND_RUNS"] = OWN_RUNS = tempfile.mkdtemp(prefix="playground-test-runs-")

import pytest  # noqa: E402

from playground.core.settings import Settings  # noqa: E402
from playground.workspace import Workspace  # noqa: E402


@pytest.fixture(scope="session")
def workspace():
    """Real embedded models from the shared cache that `make test` prepared. At the end, any training
    worker a failed test left running is killed: by design a worker outlives the app, not the tests."""
    ws = Workspace.create(Settings.from_env())
    yield ws
    kill_leftover_workers(ws.settings.runs_dir)


def pytest_sessionfinish(session, exitstatus) -> None:
    """After every fixture's teardown (the workspace's kills any worker left running): the session's own runs
    folder goes, not one the caller named in PLAYGROUND_RUNS."""
    if OWN_RUNS is not None:
        import shutil

        shutil.rmtree(OWN_RUNS, ignore_errors=True)


def kill_leftover_workers(runs_dir) -> None:
    import signal
    from pathlib import Path

    from playground.finetune.runner import PID_FILE

    for pid_file in runs_dir.glob(f"*/{PID_FILE}"):
        try:
            pid = int(pid_file.read_text(encoding="utf-8"))
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"playground.finetune" in command:  # not a recycled pid of someone else's
                os.killpg(pid, signal.SIGKILL)
        except (OSError, ValueError):
            pass  # already gone


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def app_url(workspace: Workspace):
    """The full app launched on 127.0.0.1 and a free port, closed after the session."""
    from app import build_app, launch_options

    app = build_app(workspace)
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
               **launch_options())
    yield f"http://127.0.0.1:{port}/"
    app.close()


@pytest.fixture(scope="session")
def served_model(workspace: Workspace, tmp_path_factory: pytest.TempPathFactory):
    """A real ``transformers serve`` on the prepared embedded model, on a free port. The workspace's
    engine knows it as the endpoint ``served``; yields the name to generate with (``served:<folder>``)."""
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    from playground.generation.endpoints import Endpoint
    from playground.models.registry import resolve

    folder = resolve(workspace.settings.default_model, workspace.settings).location
    port = free_port()
    command = [str(Path(sys.executable).with_name("transformers")), "serve", folder, "--port", str(port),
               "--host", "127.0.0.1", "--device", "cpu"]
    log = tmp_path_factory.mktemp("transformers-serve") / "server.log"
    with log.open("wb") as sink:  # a file, not a pipe: a pipe nobody reads fills up and blocks the server
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as reply:
                if reply.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"transformers serve did not start: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.5)
    engine = workspace.generation
    before = engine.endpoints
    engine.endpoints = before.with_endpoint(Endpoint("served", f"http://127.0.0.1:{port}/v1"))
    yield f"served:{folder}"
    engine.endpoints = before
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
