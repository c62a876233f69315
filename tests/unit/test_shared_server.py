"""Settings for a shared server: demo limits, server paths, trust_remote_code, auth, Space variables, ZeroGPU."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import types
from dataclasses import replace
from pathlib import Path

import pytest

import app
from playground.core.errors import InvalidInputError, UnknownModelError
from playground.core.settings import DEMO_LIMITS, Settings
from playground.finetune.config import FinetuneConfig
from playground.finetune.runner import JobRunner
from playground.models.registry import resolve
from tabs.shared import zerogpu

REPO = Path(__file__).resolve().parents[2]


def test_demo_mode_and_space_turn_server_paths_off(monkeypatch):
    for name in ("PLAYGROUND_DEMO", "SPACE_ID", "PLAYGROUND_LOCAL_PATHS"):
        monkeypatch.delenv(name, raising=False)
    laptop = Settings.from_env()
    assert laptop.local_paths and not laptop.demo and laptop.limits.upload_mb == 10
    monkeypatch.setenv("PLAYGROUND_DEMO", "1")
    demo = Settings.from_env()
    assert demo.demo and not demo.local_paths and demo.limits == DEMO_LIMITS
    monkeypatch.delenv("PLAYGROUND_DEMO")
    monkeypatch.setenv("SPACE_ID", "someone/llm-playground")
    assert not Settings.from_env().local_paths
    monkeypatch.setenv("PLAYGROUND_LOCAL_PATHS", "1")  # the operator may allow them explicitly
    assert Settings.from_env().local_paths


def test_server_folders_are_refused_as_models_on_a_shared_server(tmp_path):
    folder = tmp_path / "some-model"
    folder.mkdir()
    shared = replace(Settings.from_env(), local_paths=False, runs_dir_override=tmp_path / "runs")
    with pytest.raises(UnknownModelError, match="does not load models from its own folders"):
        resolve(str(folder), shared)
    assert resolve(str(folder), replace(shared, local_paths=True)).origin == "local"
    assert resolve(str(folder), replace(shared, default_model=str(folder))).origin == "local"  # the operator's
    merged = tmp_path / "runs" / "20261123-101500-x" / "merged"
    merged.mkdir(parents=True)
    assert resolve(str(merged), shared).origin == "local"  # a fine-tune the app merged itself
    assert resolve("HuggingFaceTB/SmolLM2-360M", shared).origin == "hub"


def test_runner_caps_steps_and_refuses_server_files_in_demo_mode(tmp_path):
    runner = JobRunner(tmp_path / "runs", limits=DEMO_LIMITS, local_paths=False)
    with pytest.raises(InvalidInputError, match=f"caps a job at {DEMO_LIMITS.train_steps} steps"):
        runner.start(FinetuneConfig(max_steps=DEMO_LIMITS.train_steps + 1))
    for server_file in ("/etc/passwd", "../secrets.jsonl", str(REPO / "README.md")):
        with pytest.raises(InvalidInputError, match="names a file on the server"):
            runner.start(FinetuneConfig(dataset=server_file, max_steps=10))
    assert not any(runner.runs_dir.iterdir())  # nothing was created for refused jobs


def test_a_recycled_pid_is_not_taken_for_a_live_worker(tmp_path):
    """After a machine restart a run's old pid may belong to another process: the run is interrupted."""
    runner = JobRunner(tmp_path / "runs")
    folder = runner.runs_dir / "20261123-101500-old"
    folder.mkdir()
    FinetuneConfig(run_name="old").save(folder / "config.json")
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (folder / "worker.pid").write_text(str(stranger.pid))
        old = time.time() - 60
        os.utime(folder / "worker.pid", (old, old))
        summary = runner.status(folder.name)
        assert summary.status == "interrupted" and "No checkpoint was saved yet" in summary.message
        assert runner.active() is None  # a new job may start
    finally:
        stranger.kill()
        stranger.wait()


def test_trust_remote_code_is_off_unless_asked_for_and_then_warned(monkeypatch):
    monkeypatch.delenv("PLAYGROUND_TRUST_REMOTE_CODE", raising=False)
    settings = app.settings_from(app.parse_args([]))
    assert not settings.trust_remote_code
    assert "trust_remote_code" not in app.header_markdown(settings)
    trusting = app.settings_from(app.parse_args(["--trust-remote-code"]))
    assert trusting.trust_remote_code and app.TRUST_REMOTE_CODE_WARNING in app.header_markdown(trusting)


def test_listens_on_localhost_and_honours_the_space_port(monkeypatch):
    for name in ("PLAYGROUND_HOST", "GRADIO_SERVER_NAME", "PLAYGROUND_PORT", "GRADIO_SERVER_PORT", "PORT"):
        monkeypatch.delenv(name, raising=False)
    args = app.parse_args([])
    assert (args.host, args.port) == ("127.0.0.1", 7860)
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7861")
    args = app.parse_args([])
    assert (args.host, args.port) == ("0.0.0.0", 7861)


def test_demo_flag_sets_limits_and_upload_cap(monkeypatch):
    monkeypatch.delenv("PLAYGROUND_AUTH", raising=False)
    settings = app.settings_from(app.parse_args(["--demo"]))
    assert settings.demo and not settings.local_paths
    options = app.launch_options(settings)
    assert options["max_file_size"] == DEMO_LIMITS.upload_bytes and "auth" not in options
    assert f"capped at {DEMO_LIMITS.train_steps} steps" in app.header_markdown(settings)


def test_auth_from_the_environment(monkeypatch):
    monkeypatch.setenv("PLAYGROUND_AUTH", "teacher:s3cret, student:pass:word")
    assert app.auth_from_env() == [("teacher", "s3cret"), ("student", "pass:word")]
    assert app.launch_options(Settings.from_env())["auth"] == [("teacher", "s3cret"), ("student", "pass:word")]
    monkeypatch.setenv("PLAYGROUND_AUTH", "no-password-here")
    with pytest.raises(SystemExit, match="user:password"):
        app.auth_from_env()


def test_cache_goes_to_persistent_storage_on_a_space(monkeypatch, tmp_path):
    from playground.core import settings as settings_module

    monkeypatch.delenv("PLAYGROUND_CACHE", raising=False)
    monkeypatch.setenv("SPACE_ID", "someone/llm-playground")
    data = tmp_path / "data"
    data.mkdir()
    real_path = settings_module.Path
    monkeypatch.setattr(settings_module, "Path", lambda p: data if p == "/data" else real_path(p))
    assert settings_module.default_cache_dir() == data / "llm-playground"


def test_zerogpu_wraps_model_events_only_on_a_zerogpu_space(monkeypatch, workspace):
    wrapped: list[str] = []

    def gpu(duration: int):
        def decorate(fn):
            wrapped.append(fn.__name__)
            return fn
        return decorate

    monkeypatch.setitem(sys.modules, "spaces", types.SimpleNamespace(GPU=gpu))
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    blocks = app.build_app(workspace)
    assert zerogpu.attach(blocks) == 0 and not wrapped
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    count = zerogpu.attach(blocks)
    model_events = [f for f in blocks.fns.values() if f.concurrency_id in zerogpu.GPU_QUEUES]
    assert count == len(model_events) == len(wrapped) >= 5
    tokenize = next(f for f in blocks.fns.values() if f.api_name == "tokenize")
    assert tokenize.concurrency_id not in zerogpu.GPU_QUEUES  # tokenizing never waits for a GPU
