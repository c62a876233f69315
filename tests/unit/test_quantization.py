"""Quantization on the real embedded model: sizes, quality against fp32, failures per row."""

from __future__ import annotations

import pytest
import torch

from playground.core.errors import InvalidInputError
from playground.quantization.methods import METHODS, available_methods, load_variant
from playground.quantization.metrics import first_difference, kl_and_agreement, perplexity, weight_bytes

MODEL = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def lab(workspace):
    return workspace.quantization


def test_weight_bytes_count_tied_weights_once(workspace):
    model = workspace.store.causal_lm(MODEL)
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    params = sum(p.numel() for p in model.parameters())  # parameters() lists a tied weight once
    buffers = sum(b.numel() * b.element_size() for b in model.buffers())  # rotary frequencies
    assert weight_bytes(model) == params * 4 + buffers


def test_4bit_smaller_than_8bit_smaller_than_fp32(workspace):
    sizes = {}
    for name in ("fp32", "bnb-int8", "bnb-nf4", "bnb-nf4-dq"):
        variant = load_variant(workspace.store, MODEL, name)
        sizes[name] = variant.weight_bytes
        variant.release()
    assert sizes["bnb-nf4-dq"] < sizes["bnb-nf4"] < sizes["bnb-int8"] < sizes["fp32"]


def test_metrics_against_itself_and_a_perturbation():
    logits = torch.randn(12, 50)
    assert kl_and_agreement(logits, logits) == (0.0, 1.0)
    kl, agreement = kl_and_agreement(logits, logits + torch.randn(12, 50))
    assert kl > 0 and 0 <= agreement < 1
    ids = torch.randint(0, 50, (12,))
    uniform = torch.zeros(12, 50)
    assert perplexity(uniform, ids) == pytest.approx(50.0)
    assert first_difference([1, 2, 3], [1, 2, 4]) == 2 and first_difference([1, 2], [1, 2, 3]) is None


def test_comparison_rows(lab):
    *_, state = lab.compare(MODEL, ["bnb-int8", "fp16"], "Name a colour.", max_new_tokens=8)
    rows = {row.method: row for row in state.rows}
    assert list(rows) == ["fp32", "bnb-int8", "fp16"]  # fp32 added first as the reference
    fp32, int8 = rows["fp32"], rows["bnb-int8"]
    assert fp32.kl_vs_fp32 == 0 and fp32.top1_agreement == 1 and fp32.first_difference is None
    assert int8.status == "done" and int8.kl_vs_fp32 > 0 and 0.5 <= int8.top1_agreement <= 1
    assert abs(int8.perplexity / fp32.perplexity - 1) < 0.06  # 8-bit: within a few percent
    assert int8.weight_bytes < fp32.weight_bytes and int8.tokens_per_s > 0 and int8.prefill_seconds > 0
    assert fp32.output and int8.output
    if torch.cuda.is_available():
        assert rows["fp16"].status == "done"
    else:
        assert rows["fp16"].status == "unavailable" and "CUDA" in rows["fp16"].error


def test_results_are_cached_per_model_method_and_prompt(lab):
    first = list(lab.compare(MODEL, ["fp32"], "Name a fruit.", max_new_tokens=4))
    again = list(lab.compare(MODEL, ["fp32"], "Name a fruit.", max_new_tokens=4))
    assert len(again) < len(first)  # no loading / measuring steps the second time
    assert again[-1].rows[0] is first[-1].rows[0]


def test_a_failing_method_fails_its_row_only(lab, monkeypatch):
    import playground.quantization.lab as compare_module

    real = compare_module.load_variant

    def broken(store, model, name, *args, **kwargs):
        if name == "bf16":
            raise MemoryError
        return real(store, model, name, *args, **kwargs)

    monkeypatch.setattr(compare_module, "load_variant", broken)
    *_, state = lab.compare(MODEL, ["bf16"], "Name a tree.", max_new_tokens=4)
    rows = {row.method: row for row in state.rows}
    assert rows["bf16"].status == "failed" and "Out of memory" in rows["bf16"].error
    assert rows["fp32"].status == "done"
    assert lab.gate.busy == (0, 0)


def test_bad_requests(lab):
    with pytest.raises(InvalidInputError, match="Unknown quantization method"):
        next(lab.compare(MODEL, ["int3"], "hi"))
    with pytest.raises(InvalidInputError, match="at least one method"):
        next(lab.compare(MODEL, [], "hi"))
    with pytest.raises(InvalidInputError, match="empty"):
        next(lab.compare(MODEL, ["fp32"], ""))


def test_every_method_reports_availability():
    rows = available_methods("cpu")
    assert {row["method"] for row in rows} == set(METHODS)
    fp16 = next(row for row in rows if row["method"] == "fp16")
    assert not fp16["available"] and "CUDA" in fp16["reason"]
    assert all(row["available"] for row in rows if row["method"] in ("fp32", "bf16", "bnb-nf4", "torchao-int8"))


def test_llama_cpp_runs_the_original_gguf(lab):
    """Optional backend (llama-cpp-python is not in requirements): skipped where it is absent."""
    pytest.importorskip("llama_cpp")
    *_, state = lab.compare(MODEL, ["llama.cpp-q4_1"], "Name a colour.", max_new_tokens=8)
    fp32, gguf = state.rows
    assert gguf.status == "done", gguf.error
    # the fp32 weights were dequantized from this very file: the two agree closely
    assert gguf.weight_bytes < fp32.weight_bytes / 4
    assert abs(gguf.perplexity / fp32.perplexity - 1) < 0.05 and gguf.top1_agreement >= 0.9
