"""One answer to "which device": Settings.device (PLAYGROUND_DEVICE, else CUDA when present) decides
for the shared models, the quantization lab, the fine-tuning page and the worker alike.

Each test pretends CUDA is present (torch.cuda.is_available patched to True) while the decision
says CPU: code that asked torch on its own would answer "cuda" and disagree.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
import transformers.training_args  # noqa: F401 - imported for real before CUDA is pretended

from playground.core.device import detect_device, device_kind
from playground.finetune import train
from playground.finetune.config import FinetuneConfig
from playground.finetune.estimate import estimate
from playground.finetune.runner import JobRunner
from playground.quantization.methods import METHODS, available_methods, current_device
from playground.workspace import Workspace

MODEL = "smollm2-135m-instruct"


@pytest.fixture
def pretend_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)


@pytest.fixture(scope="module")
def cpu_workspace(workspace) -> Workspace:
    """A workspace whose settings say CPU, its model loaded before CUDA is pretended."""
    ws = Workspace.create(dataclasses.replace(workspace.settings, device="cpu"))
    ws.generation.prepare(MODEL, "Hello", 2)
    return ws


def test_device_kind():
    assert [device_kind(name) for name in ("cpu", "cuda", "cuda:1", " CUDA ", "mps")] == [
        "cpu", "cuda", "cuda", "cuda", "cpu"]


def test_the_environment_decides_for_quantization_and_training(monkeypatch, pretend_cuda):
    monkeypatch.setenv("PLAYGROUND_DEVICE", "cpu")
    assert detect_device() == "cpu"
    assert current_device() == "cpu" and train.training_device() == "cpu"
    rows = {row["method"]: row for row in available_methods()}
    assert rows["fp16"]["available"] is False and rows["fp16"]["device"] == "cpu"


def test_the_quantization_lab_takes_the_stores_device(cpu_workspace, pretend_cuda):
    comparison = cpu_workspace.quantization.compare(MODEL, ["fp16"], "Hello", max_new_tokens=2)
    try:
        state = next(comparison)
    finally:
        comparison.close()
    assert state.device == "cpu"
    assert METHODS["fp16"].unavailable_reason(state.device) is not None  # fp16 is GPU-only: not tried here


def test_training_on_the_cpu_loads_and_trains_in_float32(monkeypatch, pretend_cuda, tmp_path):
    monkeypatch.setenv("PLAYGROUND_DEVICE", "cpu")
    device = train.training_device()
    assert train.model_kwargs(FinetuneConfig(), device)["dtype"] == torch.float32
    qlora = train.model_kwargs(FinetuneConfig(method="qlora"), device)
    assert qlora["device_map"] == {"": "cpu"}  # bitsandbytes would pick the GPU by itself
    assert qlora["quantization_config"].bnb_4bit_compute_dtype == torch.float32
    arguments = train.training_arguments(tmp_path, FinetuneConfig(), device)
    assert arguments.use_cpu and not arguments.bf16


def test_the_worker_is_told_the_apps_device(cpu_workspace, monkeypatch, tmp_path):
    monkeypatch.delenv("PLAYGROUND_DEVICE", raising=False)
    assert cpu_workspace.finetune.device == "cpu"
    assert cpu_workspace.finetune.worker_environment()["PLAYGROUND_DEVICE"] == "cpu"
    assert "PLAYGROUND_DEVICE" not in JobRunner(tmp_path).worker_environment()  # the worker decides alike


def test_the_estimate_names_the_settings_device(cpu_workspace, pretend_cuda):
    config = FinetuneConfig()
    model_config = cpu_workspace.store.config(MODEL)
    assert estimate(config, model_config, cpu_workspace.settings.device).device == "cpu"
    assert estimate(config, model_config, "cuda:0").device == "cuda"
