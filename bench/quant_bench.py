"""Quantization: every method available here against fp32, in one run (the tab's own measurements).

Speed follows LLM-Perf (batch 1, 256-token prompt, 64 new tokens, greedy); quality is perplexity on
the shipped reference text and KL divergence / top-1 agreement against fp32 on a fixed prompt.
"""

from __future__ import annotations

import argparse
import statistics

from bench import machine_line
from playground.core.iterutil import last
from playground.core.settings import Settings
from playground.quantization.lab import QuantLab
from playground.quantization.methods import METHODS
from playground.workspace import Workspace

COMMAND = "python -m bench quant --write"
MODEL = "smollm2-135m-instruct"
PROMPT = "Explain what a lighthouse does, in two sentences."


def run(argv: list[str]) -> str:
    parser = argparse.ArgumentParser(prog="python -m bench quant")
    parser.add_argument("--model", default=MODEL)
    parser.add_argument("--repeat", type=int, default=3, help="runs; speed is the median (a 2-core VM is noisy)")
    args = parser.parse_args(argv)
    ws = Workspace.create(Settings.from_env())
    runs = []
    for _ in range(args.repeat):  # a fresh lab each time: its rows are cached otherwise
        state = last(QuantLab(ws.generation).compare(args.model, list(METHODS), PROMPT))
        assert state is not None
        runs.append(state)
    for index, row in enumerate(state.rows):
        done = [run.rows[index] for run in runs if run.rows[index].status == "done"]
        if done:
            row.tokens_per_s = statistics.median(r.tokens_per_s for r in done)
            row.prefill_seconds = statistics.median(r.prefill_seconds for r in done)
            row.load_seconds = statistics.median(r.load_seconds for r in done)
    reference = state.rows[0]
    device = state.device
    lines = [
        f"## Quantization: {args.model} on {device.upper()}",
        "",
        f"`{COMMAND}` on {machine_line()}; median of {args.repeat} runs for times. Speed: batch 1, "
        "256-token prompt, 64 new tokens, greedy. "
        f"Perplexity on `assets/quantization/reference.txt`; KL and top-1 agreement against fp32 on "
        f"“{PROMPT}” (chat template applied).",
        "",
        "| method | weights (MB) | vs fp32 | load (s) | prefill (ms) | tokens/s | vs fp32 | perplexity | "
        "KL vs fp32 | top-1 agreement | first differing token |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in state.rows:
        if row.status != "done":
            lines.append(f"| {row.method} | {row.error} | | | | | | | | | |")
            continue
        lines.append(
            f"| {row.method} | {row.weight_bytes / 1e6:.1f} | {row.weight_bytes / reference.weight_bytes:.2f}x | "
            f"{row.load_seconds:.2f} | {row.prefill_seconds * 1e3:.0f} | {row.tokens_per_s:.1f} | "
            f"{row.tokens_per_s / reference.tokens_per_s:.2f}x | {row.perplexity:.2f} | {row.kl_vs_fp32:.4f} | "
            f"{row.top1_agreement:.0%} | {'none' if row.first_difference is None else row.first_difference + 1} |")
    lines += ["", "llama.cpp computes the output layer at every prompt position here (the measurements need "
              "all logits), which inflates its prefill; its decode rate is unaffected.", "",
              "Weights are the real bytes of every stored tensor (scales included; the tied "
              "embedding stays fp32 in every method). The embedded model's fp32 weights were dequantized "
              "from Q4_1, so 4-bit methods re-quantize values that were 4-bit already."]
    return "\n".join(lines)
