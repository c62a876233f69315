"""Pre-training: the worker's training speed (tokens per second, from its own step events) against a bare loop of
the same tiny model, objective, batch and context in this process; with ``--sweep``, the default sweep's wall time.

The worker runs through the real entry point (the fine-tuning runner spawning ``python -m playground.finetune``)
in a temporary runs folder, evaluating only at step 0 and at the end, so its timed steps hold no evaluation.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from bench import machine_line
from playground.finetune.events import read_events
from playground.finetune.runner import JobRunner
from playground.pretrain.config import PretrainConfig
from playground.pretrain.corpus import make_corpus, training_rows
from playground.pretrain.objectives import make_batch
from playground.pretrain.results import run_points, scaling_fit
from playground.pretrain.sizes import build_model, count_parameters
from playground.pretrain.sweep import SweepConfig
from playground.pretrain.tokenizer import special_ids, train_bpe

COMMAND = "python -m bench pretrain --sweep --write"
"""The run for the record (the default sizes, then the default sweep: minutes)."""
SMALLEST = ("--layers 1", "--width 32", "--heads 2", "--context 32", "--batch-size 4", "--steps 12", "--skip 2",
            "--vocab-size 512")
"""The quick check that the benchmark works (well under a minute): not a figure for the record."""


def bare_tokens_per_second(config: PretrainConfig, skip: int) -> tuple[float, int]:
    """Plain forward, backward and AdamW step on the worker's model and data, with no events, clipping or schedule;
    returns tokens per second and the model's non-embedding parameters."""
    corpus = make_corpus()
    tokenizer = train_bpe(corpus.train, config.vocab_size)
    rows, _ = training_rows(corpus, tokenizer, config.context, config.steps * config.batch_size,
                            config.eval_sequences)
    model = build_model(config.size(len(tokenizer)), special_ids(tokenizer), seed=config.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=0.1, betas=(0.9, 0.95))
    generator = torch.Generator().manual_seed(config.seed)
    model.train()
    began = 0.0
    for step in range(config.steps):
        if step == skip:
            began = time.perf_counter()
        batch = rows[torch.arange(step * config.batch_size, (step + 1) * config.batch_size) % len(rows)]
        model(**make_batch(config.objective, batch, tokenizer, generator)).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    seconds = time.perf_counter() - began
    return (config.steps - skip) * config.batch_size * config.context / seconds, count_parameters(model).non_embedding


def worker_row(config: PretrainConfig, runs: Path, skip: int) -> dict[str, Any]:
    """The worker's tokens per second between its step ``skip`` and its last step, read from its step events."""
    runner = JobRunner(runs)
    started = time.time()
    run_id = runner.start_job(config)
    summary = runner.wait(run_id, timeout=3600)
    if summary.status != "finished":
        return {"error": summary.message or summary.status}
    steps = {event["step"]: event["time"] for event in read_events(runner.run_dir(run_id))
             if event["event"] == "step"}
    first, last = skip, max(steps)
    seconds = steps[last] - steps[first]
    return {"tokens_per_second": (last - first) * config.batch_size * config.context / seconds,
            "to_first_step": steps[min(steps)] - started}


def sweep_row(runs: Path) -> dict[str, Any]:
    """The default sweep through the worker: wall time from the start request to its last word."""
    runner = JobRunner(runs)
    config = SweepConfig()
    began = time.perf_counter()
    run_id = runner.start_job(config)
    summary = runner.wait(run_id, timeout=7200)
    wall = time.perf_counter() - began
    plan = config.plan()
    points = run_points(run_id, runner.run_dir(run_id))
    return {"status": summary.status, "message": summary.message, "wall": wall, "points": len(plan),
            "steps": sum(point.steps for point in plan), "tokens_per_step": config.batch_size * config.context,
            "results": points, "fit": scaling_fit(points) if points else None}


def sweep_lines(sweep: dict[str, Any]) -> list[str]:
    """The sweep's wall time, then what it found: each budget's losses by size (the best in bold) and the fit."""
    lines = ["", f"The default sweep ({sweep['points']} points, {sweep['steps']:,} steps of "
             f"{sweep['tokens_per_step']} tokens, through the worker): {sweep['wall']:.0f} s wall time, "
             f"{sweep['status']} ({sweep['message']})."]
    if not sweep["results"]:
        return lines
    sizes = sorted({point["params"] for point in sweep["results"]})
    budgets = sorted({point["budget"] for point in sweep["results"]})
    loss = {(point["params"], point["budget"]): point["loss"] for point in sweep["results"]}
    lines += ["", "| held-out loss | " + " | ".join(f"N = {size:,}" for size in sizes) + " |",
              "|---|" + "---:|" * len(sizes)]
    for budget in budgets:
        row = [loss.get((size, budget)) for size in sizes]
        best = min(value for value in row if value is not None)
        lines.append(f"| {budget:.0e} FLOPs | " + " | ".join(
            "" if value is None else (f"**{value:.3f}**" if value == best else f"{value:.3f}") for value in row) + " |")
    fit = sweep["fit"]
    lines += ["", f"Fitted law: E = {fit['E']:.2f}, alpha = {fit['alpha']:.2f}, beta = {fit['beta']:.2f} "
              f"(Chinchilla: alpha {fit['chinchilla']['alpha']:.2f}, beta {fit['chinchilla']['beta']:.2f}); "
              + ("warnings: " + " ".join(fit["warnings"]) if fit["warnings"] else "no warnings.")]
    return lines


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench pretrain")
    parser.add_argument("--family", default="decoder", choices=("decoder", "encoder", "encoder-decoder"))
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--heads", type=int, default=2)
    parser.add_argument("--context", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--vocab-size", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--skip", type=int, default=5, help="first steps left out of both timings (warm-up), 1 or more")
    parser.add_argument("--sweep", action="store_true", help="also time the default sweep (minutes)")
    parser.add_argument("--runs", default="", help="keep the runs in this folder (default: a temporary one)")
    args = parser.parse_args(argv)
    if not 1 <= args.skip < args.steps - 1:
        parser.error("--skip must be at least 1 and leave at least two timed steps")
    return args


def run(argv: list[str]) -> str:
    args = parse(argv)
    config = PretrainConfig(family=args.family, layers=args.layers, width=args.width, heads=args.heads,
                            context=args.context, batch_size=args.batch_size, vocab_size=args.vocab_size,
                            steps=args.steps, eval_every=args.steps, eval_sequences=8, sample_tokens=8,
                            run_name="bench")
    runs = Path(args.runs or tempfile.mkdtemp(prefix="bench-pretrain-"))
    runs.mkdir(parents=True, exist_ok=True)
    bare, params = bare_tokens_per_second(config, args.skip)
    job = worker_row(config, runs, args.skip)
    shape = (f"{config.family} ({config.objective}), {config.layers} layers x {config.width} wide, {config.heads} "
             f"heads ({params:,} non-embedding parameters), context {config.context}, batch {config.batch_size}, "
             f"BPE of {config.vocab_size}")
    lines = ["## Pre-training: the worker against a bare training loop", "",
             f"`{command(argv)}` on {machine_line()}; {shape}, {config.steps} steps, the first {args.skip} left "
             "out of both timings. The worker runs through the runner's real entry point in a temporary runs "
             "folder and is timed from its own step events (evaluation only at step 0 and after the last step, "
             "outside the timed steps); the bare loop is forward, backward and an AdamW step on the same model, "
             "objective, batch and context in the benchmark's process, with no events, clipping or schedule.", "",
             "| loop | tokens/s | vs bare |", "|---|---:|---:|",
             f"| bare loop | {bare:,.0f} | 1.00x |"]
    if "error" in job:
        lines.append(f"| worker | failed: {job['error']} | |")
    else:
        lines += [f"| worker | {job['tokens_per_second']:,.0f} | {job['tokens_per_second'] / bare:.2f}x |", "",
                  f"From the start request to the worker's first step: {job['to_first_step']:.1f} s (a new process "
                  "imports torch and transformers, learns the BPE and tokenizes the corpus). Per step the worker "
                  "adds gradient clipping, the schedule, one `loss.item()` and one fsynced event line; a "
                  "checkpoint (weights, AdamW, generator) after each evaluation is outside the timed steps."]
    if args.sweep:
        lines += sweep_lines(sweep_row(runs))
    else:
        lines += ["", "The default sweep was not timed (add `--sweep`: it takes minutes)."]
    return "\n".join(lines)


def command(argv: list[str]) -> str:
    """The command that measured this section, as the document shows it."""
    return " ".join(["python -m bench pretrain", *argv, "--write"])
