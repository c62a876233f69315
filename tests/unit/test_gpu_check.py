"""The GPU check's report and its no-CUDA mode, on a CPU with made-up results (no model loads)."""

from __future__ import annotations

import sys

import pytest
import torch

from bench.gpu import report
from bench.gpu.report import CheckResult

MACHINE = {"gpu": "NVIDIA H200", "gpu_memory_gb": 139.8, "cuda": "12.4", "torch": "2.5.1",
           "package bitsandbytes": "missing"}


def results(failed: bool = False) -> list[CheckResult]:
    return [
        CheckResult("quantization", "passed", 12.5, {"fp32 tokens/s": 120.25, "bnb-int8": "unavailable: no bnb"},
                    "random weights: speed and memory only"),
        CheckResult("finetune (LoRA, QLoRA)", "failed" if failed else "passed", 30.0,
                    note="lora loss did not fall" if failed else ""),
        CheckResult("app endpoints", "not run", note="not run: time budget"),
    ]


def test_markdown_rows() -> None:
    text = report.markdown(results(), MACHINE)
    assert "| quantization | passed | 12.5 | random weights: speed and memory only |" in text
    assert "| app endpoints | not run | 0.0 | not run: time budget |" in text
    assert "| fp32 tokens/s | 120 |" in text and "| bnb-int8 | unavailable: no bnb |" in text
    assert "- gpu: NVIDIA H200" in text


def test_json_round_trip_and_files(tmp_path) -> None:
    made = results(failed=True)
    md, js = report.write(made, MACHINE, tmp_path)
    again, machine = report.from_json(js.read_text(encoding="utf-8"))
    assert again == made and machine == MACHINE
    assert md.read_text(encoding="utf-8") == report.markdown(made, MACHINE)


def test_exit_status() -> None:
    assert report.exit_status(results()) == 0
    assert report.exit_status(results(failed=True)) == 1
    assert report.first_failure(results(failed=True)).name == "finetune (LoRA, QLoRA)"
    with pytest.raises(ValueError):
        CheckResult("x", "maybe")


def test_no_cuda_prints_one_line_and_runs_nothing(monkeypatch, capsys, tmp_path) -> None:
    from bench.gpu.__main__ import main

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    sys.modules.pop("bench.gpu.checks", None)
    assert main(["--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == report.NO_CUDA
    assert "bench.gpu.checks" not in sys.modules and not list(tmp_path.iterdir())


def test_the_causes_check_measures_issue_33s_targets_on_any_device(workspace, monkeypatch) -> None:
    """The check calls the library the page calls, so it runs on this CPU too (slowly), on real weights."""
    from types import SimpleNamespace

    from bench.gpu import checks

    ctx = SimpleNamespace(workspace=workspace, model="smollm2-135m-instruct", note=lambda text="": text)
    figures, _ = checks.causes(ctx)  # type: ignore[arg-type]
    assert figures["salience tokens"] == 32
    assert 0 < figures["salience first map s"] < figures["salience finished s (64 steps)"]
    assert figures["integrated gradients gap share"] < 0.05  # the default's gap on the bench text
    assert figures["attribution patching s"] > 0 and figures["residual sweep s"] > 0
    assert "Colosseum" in checks.patch_request(ctx, 16).corrupted  # the page's own pair  # type: ignore[arg-type]
    monkeypatch.setattr(checks, "SUBJECTS", ("Eiffel Tower, the Louvre and the Colosseum",))
    assert checks.patch_request(ctx, 16) is None  # type: ignore[arg-type]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_the_gpu_check_runs_on_cuda(tmp_path) -> None:
    from bench.gpu.__main__ import main

    assert main(["--out", str(tmp_path)]) == 0, (tmp_path / "gpu.md").read_text(encoding="utf-8")
