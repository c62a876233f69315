"""Generation: the app's engine against ``model.generate`` (and llama.cpp when installed).

LLM-Perf's method: batch 1, a 256-token prompt, 64 new tokens, greedy. Time to first token
is prefill plus one token; the decode rate counts the tokens after the first over their time.
All rows decode the same prompt ids with the same repetition penalty, in one run.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import torch

from bench import machine_line
from bench.attention_bench import text_of
from playground.core.settings import Settings
from playground.generation.sampling import SamplingSettings
from playground.workspace import Workspace

COMMAND = "python -m bench generate --write"
MODEL = "smollm2-135m-instruct"
PROMPT_TOKENS, NEW_TOKENS = 256, 64


NOTES = """Where the time goes: the Linear layers' matrix products (`aten::mm`, about 78% of a decode
step in torch.profiler). They were not bound by memory bandwidth on this CPU: a plain read runs at
25-51 GB/s, while a 16-row step took its 540 MB of weights at about 4.5 GB/s, because MKL's sgemm lays
each weight out again for its kernel on every call. The shared models now run on weights prepacked once
for oneDNN (`playground/models/prepacked.py`): the LM head's product (49152 x 576) takes 5.3 ms instead
of 12.4 for one row and 7.8 instead of 22.4 for 16, and a 16-row step about half its time. The row with
`PLAYGROUND_PREPACK=0` is the same `generate` on MKL's `F.linear`.

The engine decodes in its model's batch thread. libgomp, torch's OpenMP runtime, keeps a pool of
worker threads for every thread that has run a parallel region; once the pools together hold more
threads than there are CPUs, it lets each worker spin only briefly before it sleeps, even while the
other pools are idle. A decode step is a few hundred small parallel regions, and each then waited for
a worker to be woken: on this 2-vCPU machine the main thread's pool (the baseline rows', as a handler's
that loaded the model) beside the batch thread's was enough. A 1536x576 product took 225 us instead of
88, and the engine read 0.45-0.79x the baseline in earlier runs of this table. Threads now free their
pools once done with torch (`playground/core/openmp.py`): a caller before it waits for a batch, a
handler when it returns, a batch thread when it is idle. The row "idle OpenMP workers not freed" is
the engine with those releases switched off, in the same run.

Other cheap wins, tried: a static cache gives nothing here (it saves the `cat` but attention then runs
over the whole preallocated length); bf16 weights halve the bytes read, at a small cost in precision
(the Quantization tab measures it), but bytes were not the limit: 0.58-1.44x the baseline across runs
of this table on these VMs, so it stays a server option (`--dtype`), off by default. llama.cpp reads
Q4_1 weights (about 5 bits per weight) with hand-written kernels: several times faster decoding, a
slower prefill on 2 threads."""


def median_pair(measure: Callable[[], tuple[float, float, int]], repeat: int) -> tuple[float, float, int]:
    """Median (time to first token, decode tokens/s) over ``repeat`` runs after one warm-up."""
    measure()
    runs = [measure() for _ in range(repeat)]
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), runs[-1][2])


def engine_row(ws: Workspace, text: str, alternatives: int) -> Callable[[], tuple[float, float, int]]:
    settings = SamplingSettings(max_new_tokens=NEW_TOKENS, alternatives=alternatives)

    def measure() -> tuple[float, float, int]:
        generation = ws.generation.generate(MODEL, text, settings, chat=False)
        return generation.first_token_seconds, generation.decode_tokens_per_second, generation.tokens_out

    return measure


@contextlib.contextmanager
def openmp_workers_kept() -> Iterator[None]:
    """The engine as it was before threads freed their idle OpenMP workers: this row's comparison."""
    with mock.patch("playground.generation.engine.release_openmp_workers", lambda: None), \
            mock.patch("playground.generation.scheduler.release_openmp_workers", lambda: None):
        yield


def kept_workers_row(ws: Workspace, text: str) -> Callable[[], tuple[float, float, int]]:
    measure = engine_row(ws, text, 5)

    def kept() -> tuple[float, float, int]:
        with openmp_workers_kept():
            return measure()

    return kept


def bare_generate(ws: Workspace, ids: torch.Tensor, dtype: torch.dtype = torch.float32, prepacked: bool = True,
                  **options: Any) -> Callable[[], tuple[float, float, int]]:
    import copy

    from transformers import RepetitionPenaltyLogitsProcessor

    from playground.models.prepacked import unpack_linears

    model = ws.store.causal_lm(MODEL)
    if dtype != torch.float32 or not prepacked:
        model = copy.deepcopy(model).to(dtype)  # a private copy: the shared model stays as it is
        if not prepacked:
            unpack_linears(model)

    def timed(new_tokens: int) -> tuple[float, int]:
        penalty = RepetitionPenaltyLogitsProcessor(1.2, prompt_ignore_length=ids.shape[1])
        started = time.perf_counter()
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                             do_sample=False, logits_processor=[penalty], **options)
        return time.perf_counter() - started, out.shape[1] - ids.shape[1]

    def measure() -> tuple[float, float, int]:
        first, _ = timed(1)
        total, produced = timed(NEW_TOKENS)
        return first, (produced - 1) / (total - first), produced

    return measure


def llama_cpp_row(text: str) -> Callable[[], tuple[float, float, int]] | None:
    """llama.cpp on the same Q4_1 GGUF (the CPU ceiling), when llama-cpp-python is installed."""
    try:
        from llama_cpp import Llama
    except ImportError:
        return None
    import os

    from playground.models.embedded import smollm2_gguf_path

    gguf = smollm2_gguf_path()
    if gguf is None:
        return None
    llm = Llama(model_path=str(gguf), n_ctx=1024, n_threads=os.cpu_count(), verbose=False)

    def measure() -> tuple[float, float, int]:
        llm.reset()  # no prompt-prefix reuse between runs
        started = time.perf_counter()
        first = None
        count = 0
        for _chunk in llm.create_completion(text, max_tokens=NEW_TOKENS, temperature=0.0,
                                            repeat_penalty=1.2, stream=True):
            count += 1
            if first is None:
                first = time.perf_counter() - started
        total = time.perf_counter() - started
        return first or total, (count - 1) / (total - (first or total)) if count > 1 else 0.0, count

    return measure


def levels(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def section(argv: list[str]) -> str:
    """The concurrent run records its own section beside the single-request one."""
    return "generate-batch" if any(arg.startswith("--concurrent") for arg in argv) else "generate"


def run(argv: list[str]) -> str:
    parser = argparse.ArgumentParser(prog="python -m bench generate")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrent", type=levels, default=None,
                        help="users at once, e.g. 1,4,16,32: the batched engine under concurrency")
    args = parser.parse_args(argv)
    if args.concurrent:
        from bench import batch_bench

        return batch_bench.run(args.concurrent)
    ws = Workspace.create(Settings.from_env())
    text = text_of(ws, PROMPT_TOKENS)
    prepared = ws.generation.prepare(MODEL, text, NEW_TOKENS, chat=False)
    ids = torch.tensor([prepared.ids])
    rows: list[tuple[str, tuple[float, float, int]]] = [
        ("`model.generate` (baseline)", median_pair(bare_generate(ws, ids), args.repeat)),
        # right after the baseline, whose pool the main thread still holds, as a handler thread did
        ("engine, per-token view, idle OpenMP workers not freed",
         median_pair(kept_workers_row(ws, text), args.repeat)),
        ("engine, per-token view (5 alternatives)", median_pair(engine_row(ws, text, 5), args.repeat)),
        ("engine, no alternatives", median_pair(engine_row(ws, text, 0), args.repeat)),
    ]
    try:
        rows.append(("`model.generate`, static cache", median_pair(
            bare_generate(ws, ids, cache_implementation="static"), args.repeat)))
    except Exception as error:  # noqa: BLE001 - recorded, not fatal
        rows.append((f"`model.generate`, static cache: failed ({type(error).__name__})", (0.0, 0.0, 0)))
    rows.append(("`model.generate`, MKL's `F.linear` (`PLAYGROUND_PREPACK=0`)", median_pair(
        bare_generate(ws, ids, prepacked=False), args.repeat)))
    rows.append(("`model.generate`, bf16 copy of the weights", median_pair(
        bare_generate(ws, ids, dtype=torch.bfloat16), args.repeat)))
    llama = llama_cpp_row(text)
    if llama is not None:
        rows.append(("llama.cpp, Q4_1 GGUF (llama-cpp-python)", median_pair(llama, args.repeat)))
    base_first, base_rate, _ = rows[0][1]
    lines = [
        "## Generation: engine against `model.generate`",
        "",
        f"`{COMMAND}` on {machine_line()}; {MODEL} fp32, {len(prepared.ids)}-token prompt, "
        f"{NEW_TOKENS} new tokens, greedy, repetition penalty 1.2; median of {args.repeat} runs "
        "after a warm-up.",
        "",
        "| path | first token (ms) | decode tokens/s | tokens/s vs baseline | tokens out |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, (first, rate, produced) in rows:
        ratio = f"{rate / base_rate:.2f}x" if rate and base_rate else "n/a"
        lines.append(f"| {name} | {first * 1e3:.0f} | {rate:.1f} | {ratio} | {produced} |")
    lines += ["", f"Target: the engine at 0.9x the baseline's decode rate or better (baseline first "
              f"token {base_first * 1e3:.0f} ms).", "", NOTES]
    return "\n".join(lines)
