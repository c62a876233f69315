"""Evaluation: every technique x item as one batch submission, against answering item by item.

``python -m bench evaluate --write``: the shipped sentiment set (40 items) with zero-shot, few-shot and
role prompting, greedy, each technique's own answer budget and stop strings. The item-by-item path is
what the evaluation did before batching: one request alone after another, each reading its whole prompt.
Both paths must give the same answers; the table says how many differ.
"""

from __future__ import annotations

import argparse
import time

from bench import machine_line
from playground.core.iterutil import last
from playground.core.settings import Settings
from playground.generation.engine import Generation, decode_with
from playground.generation.sampling import SamplingSettings
from playground.prompting import techniques as prompts
from playground.prompting.evaluation import ask_for, evaluate, shipped_items
from playground.workspace import Workspace

COMMAND = "python -m bench evaluate --write"
MODEL = "smollm2-135m-instruct"
TECHNIQUES = ("zero-shot", "few-shot", "role")


def run(argv: list[str]) -> str:
    parser = argparse.ArgumentParser(prog="python -m bench evaluate")
    parser.add_argument("--items", type=int, default=40)
    args = parser.parse_args(argv)
    ws = Workspace.create(Settings.from_env())
    task = prompts.task("sentiment")
    items = shipped_items(task)[:args.items]
    base = SamplingSettings()
    ws.generation.generate(MODEL, "Warm up.", SamplingSettings(max_new_tokens=2))

    lm, tokenizer = ws.generation.load(MODEL)
    started = time.perf_counter()
    serial: list[str] = []
    for name in TECHNIQUES:
        for item in items:  # the old path: one request alone at a time, every prompt read in full
            ask = ask_for(MODEL, task, prompts.technique(name), item, base, 0, False)
            prepared = ws.generation.prepare(MODEL, ask.prompt, ask.settings.max_new_tokens, system=ask.system,
                                             chat=False)
            result = last(decode_with(lm, tokenizer, Generation(MODEL, prepared, ask.settings)))
            serial.append(result.text if result else "")
    serial_seconds = time.perf_counter() - started

    started = time.perf_counter()
    final = list(evaluate(ws.generation, MODEL, task, items, list(TECHNIQUES), base))[-1]
    batched_seconds = time.perf_counter() - started
    batched = [output for score in final.scores for result in score.items for output in result.outputs]
    differ = sum(a != b for a, b in zip(serial, batched, strict=True))
    cache = ws.generation.scheduler(MODEL).prefix_cache
    accuracy = ", ".join(f"{s.technique} {s.accuracy:.0%}" for s in final.scores)
    return "\n".join([
        "## Evaluation: one batch against item by item",
        "",
        f"`{COMMAND}` on {machine_line()}; {MODEL} fp32, sentiment, {len(items)} items x "
        f"{len(TECHNIQUES)} techniques ({', '.join(TECHNIQUES)}), greedy, chat template off.",
        "",
        "| path | seconds | answers per second | vs item by item |",
        "|---|---:|---:|---:|",
        f"| item by item (before batching) | {serial_seconds:.1f} | {len(serial) / serial_seconds:.2f} | 1.00x |",
        f"| one batch submission (the app now) | {batched_seconds:.1f} | {len(batched) / batched_seconds:.2f} | "
        f"{serial_seconds / batched_seconds:.2f}x |",
        "",
        f"Answers that differ between the two paths: {differ} of {len(serial)}. Accuracy: {accuracy}. "
        f"Prefix cache: {cache.hits} prompts started from a kept prefix ({cache.tokens_reused:,} prompt tokens "
        "not read again: the few-shot examples every item of a technique shares).",
    ])
