"""What causes it, server side: salience, attribution patching and the patching sweeps against a bare forward.

Baseline, in the same run: ``model(input_ids)`` on the shared sdpa model for the same text (every
position's logits, as a plain forward returns them). The texts are the page's example fact ("the Eiffel
Tower is in the city of" / "the Colosseum ...", answer " Paris" against " Rome") behind a prefix that makes
them 32 tokens (salience and attribution patching, the issue's "under 1 s for a 32-token text") and 16
tokens (the real sweeps, "under 30 s for a 16-token prompt pair"); the salience text is the clean prompt.
Each method reads the traces the page would have cached after its first request; steering is measured
against a plain ``generate`` of the same prompt and length.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Generator
from typing import Any

import torch

from bench import machine_line
from playground.core.iterutil import last
from playground.core.settings import Settings
from playground.internals import patching, salience, steering
from playground.internals.inspector import REMEMBERED, ModelInspector
from playground.quantization.metrics import median_seconds
from playground.workspace import Workspace

COMMAND = "python -m bench causes --write"
MODEL = "smollm2-135m-instruct"
PREFIXES = {
    16: "As every good guidebook says, ",
    32: "We spent a long week travelling around Europe last summer, and the guide on our bus kept repeating "
        "one simple fact: ",
}
"""What goes before the page's example to make a prompt pair of that many tokens (checked in the run)."""
REPEAT = "the app's repeat of a request it has answered (a class following the teacher's example)"
STEPS = (salience.DEFAULT_STEPS, 16)
"""Integrated gradients' steps: the page's default, and fewer."""


def prompt_pair(tokens: int) -> tuple[str, str]:
    """The page's example pair behind the prefix for ``tokens``: clean and corrupted."""
    clean, corrupted, _, _ = patching.EXAMPLE
    prefix = PREFIXES[tokens]
    return prefix + clean[0].lower() + clean[1:], prefix + corrupted[0].lower() + corrupted[1:]


def request_for(tokens: int, what: str = "residual") -> patching.PatchRequest:
    clean, corrupted = prompt_pair(tokens)
    _, _, answer, wrong = patching.EXAMPLE
    return patching.PatchRequest(clean, corrupted, MODEL, answer, wrong, what)


def experiment_of(ws: Workspace, tokens: int) -> patching.Experiment:
    """The pair traced as the page traces it (cached); both prompts must be ``tokens`` tokens long."""
    experiment = patching.experiment_for(ws.inside, request_for(tokens))
    lengths = (experiment.clean.num_tokens, experiment.corrupted.num_tokens)
    if lengths != (tokens, tokens):
        raise RuntimeError(f"the {tokens}-token pair is {lengths} tokens for {MODEL}: change PREFIXES[{tokens}]")
    return experiment


def bare_forward(ws: Workspace, trace: Any) -> Callable[[], None]:
    model = ws.store.causal_lm(MODEL)
    batch = torch.tensor([list(trace.ids)])

    def bare() -> None:
        with torch.inference_mode():
            model(input_ids=batch)

    return bare


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median seconds over ``repeat`` runs (no untimed one: the traces are cached already, and the median
    drops a slow first run), and the last run's result."""
    results: list[Any] = []

    def call() -> None:
        results.append(fn())

    return median_seconds(call, repeat=repeat, warmup=0), results[-1]


def milliseconds(seconds: float) -> str:
    """Whole milliseconds, or two significant figures under 10 ms (a remembered answer is a fraction of one)."""
    ms = seconds * 1e3
    return f"{ms:.0f}" if ms >= 10 else f"{ms:.2g}"


def table(baseline_name: str, baseline: float, rows: list[tuple[str, float]]) -> list[str]:
    lines = ["| operation | ms | x baseline |", "|---|---:|---:|",
             f"| {baseline_name} (baseline) | {milliseconds(baseline)} | 1.00x |"]
    return lines + [f"| {name} | {milliseconds(seconds)} | {seconds / baseline:.1f}x |" for name, seconds in rows]


def first_of(stream: Generator[Any, None, None]) -> Any:
    """A stream's first value, the stream then closed (what a page shows first, and when)."""
    try:
        return next(stream)
    finally:
        stream.close()


def explain_rows(ws: Workspace, repeat: int) -> tuple[float, list[tuple[str, float]], dict[int, tuple[float, float]]]:
    """Salience and attribution patching on the 32-token pair; the IG gap and change at each step count."""
    experiment = experiment_of(ws, 32)
    view, traced = experiment.view, experiment.clean
    text = prompt_pair(32)[0]
    target = ws.inside.token_id(text, MODEL, None)
    baseline_embeddings = salience.neutral_baseline(view, traced)
    rows = [("gradient x input alone (one forward + backward; the page reads it in integrated gradients' first "
             "batch)",
             timed(lambda: salience.gradient_x_input(view, traced, target), repeat)[0])]
    gaps = {}
    for steps in STEPS:
        seconds, (_, gap, change) = timed(
            lambda steps=steps: salience.integrated_gradients(view, traced, target, steps, baseline_embeddings),
            repeat)
        gaps[steps] = (gap, change)
        default = " (the default)" if steps == salience.SalienceRequest(text, MODEL).steps else ""
        rows.append((f"integrated gradients, {steps} steps{default}, completeness gap {gap:+.2f}", seconds))
    rows.append(("attention rollout (30 layers' recorded attention)",
                 timed(lambda: salience.attention_rollout(view, traced), repeat)[0]))
    request = salience.SalienceRequest(text, MODEL, steps=STEPS[-1])
    rows.append((f"whole `salience()` request, {request.steps} steps (the three methods + the neutral baseline's "
                 "embedding)", timed(lambda: salience.salience(ws.inside, request), repeat)[0]))
    page = salience.SalienceRequest(text, MODEL)
    rows.append((f"the page's first salience map at the default {page.steps} steps (the three methods, integrated "
                 f"gradients from the path cut into {salience.FIRST_PIECES} even pieces, its ends included, and "
                 "gradient x input read in the same batch)",
                 timed(lambda: first_of(salience.salience_progress(ws.inside, page)), repeat)[0]))
    last(salience.salience_progress(ws.inside, page, remember=True))  # the first student's request
    rows.append((f"{REPEAT}: the page's salience request again, {page.steps} steps",
                 timed(lambda: last(salience.salience_progress(ws.inside, page, remember=True)), repeat)[0]))
    extra = {"residual": "", "heads": "", "mlp": ", + 2 MLP recording passes"}
    for what in patching.WHATS:
        rows.append((f"attribution patching, {what} (one forward + one backward{extra[what]})",
                     timed(lambda what=what: patching.attribution_patch(experiment, what), repeat)[0]))
    return median_seconds(bare_forward(ws, traced), repeat=5), rows, gaps


def sweep_rows(ws: Workspace, repeat: int) -> tuple[float, list[tuple[str, float]], int]:
    """The real sweeps on the 16-token pair, each with a progress callback as the page passes one."""
    experiment = experiment_of(ws, 16)
    parts = experiment.view.parts
    cells = {"residual": f"{parts.num_layers} layers x 16 positions",
             "heads": f"{parts.num_layers} layers x {parts.num_heads} heads",
             "mlp": f"{parts.num_layers} layers x 16 positions, + 1 MLP recording pass"}
    reports: list[float] = []

    def progress(fraction: float, _: str) -> None:
        reports.append(fraction)

    def sweep_with_progress(sweep: Callable[..., Any]) -> Any:
        reports.clear()
        return sweep(experiment, progress)

    rows = [(f"`{sweep.__name__}` with progress ({cells[what]})",
             timed(lambda sweep=sweep: sweep_with_progress(sweep), repeat)[0])
            for what, sweep in patching.SWEEPS.items()]
    rows.append(("attribution patching, residual, at 16 tokens (one forward + one backward)",
                 timed(lambda: patching.attribution_patch(experiment, "residual"), repeat)[0]))
    request = request_for(16)
    patching.patch(ws.inside, request, remember=True)  # the first student's request
    rows.append((f"{REPEAT}: the residual sweep again",
                 timed(lambda: patching.patch(ws.inside, request, remember=True), repeat)[0]))
    return median_seconds(bare_forward(ws, experiment.clean), repeat=5), rows, len(reports)


def steering_rows(ws: Workspace, repeat: int) -> tuple[float, list[tuple[str, float]], int]:
    """The page's steering request against a plain one-row greedy ``generate`` of as many new tokens."""
    from tabs.causes.layout import STEER_PROMPT

    request = steering.SteerRequest(STEER_PROMPT, MODEL, layer=10, coefficient=4.0)
    steps: list[int] = []

    def steer() -> None:
        steps.append(sum(1 for update in steering.steer(ws.inside, ws.generation, request) if not update.done))

    steer()  # the first request also loads the chat template and the generation config
    seconds = timed(steer, repeat)[0]
    new_tokens = steps[-1]
    model = ws.store.causal_lm(MODEL)
    tokenizer = ws.store.hf_tokenizer(MODEL)
    ids = torch.tensor([ws.generation.prepare(MODEL, request.prompt, new_tokens, chat=request.chat).ids])

    def plain() -> None:
        with torch.inference_mode():
            model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                           min_new_tokens=new_tokens, do_sample=False,
                           repetition_penalty=steering.REPETITION_PENALTY,
                           pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)

    baseline = median_seconds(plain, repeat=repeat, warmup=1)
    fresh = ModelInspector(ws.store, ws.tokenizers)  # nothing traced or remembered yet
    fresh.view(MODEL)
    first = timed(lambda: steering.direction(fresh, MODEL, request.layer, request.pairs), 1)[0]
    rows = [(f"the direction on a first request ({2 * len(request.pairs)} traced forwards of the pairs; "
             "remembered after it)", first),
            ("whole `steer()` request: the direction + two rows (steered and not) in the engine's batch, streamed",
             seconds)]
    return baseline, rows, new_tokens


def run(argv: list[str]) -> str:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    ws = Workspace.create(Settings.from_env())
    ws.inside.view(MODEL)
    load = os.getloadavg()[0]
    explain_base, explain, gaps = explain_rows(ws, args.repeat)
    sweep_base, sweeps, reports = sweep_rows(ws, args.repeat)
    steer_base, steers, new_tokens = steering_rows(ws, args.repeat)
    load = max(load, os.getloadavg()[0])
    ig = {steps: next(s for name, s in explain if name.startswith(f"integrated gradients, {steps} "))
          for steps in STEPS}
    attribution = next(s for name, s in explain if name.startswith("attribution patching, residual"))
    residual = next(s for name, s in sweeps if name.startswith("`patch_residual`"))
    first_map = next(s for name, s in explain if name.startswith("the page's first salience map"))
    repeats = [s for name, s in explain + sweeps if name.startswith(REPEAT)]
    slow = [name.split(" (")[0].split(", completeness")[0] for name, s in explain if s >= 1.0]
    clean32, corrupted32 = prompt_pair(32)
    clean16, corrupted16 = prompt_pair(16)
    change = gaps[STEPS[0]][1]
    gap_text = "; ".join(f"{steps} steps leave a gap of {gap:+.2f}" for steps, (gap, _) in gaps.items())
    lines = [
        "## What causes it: salience, attribution patching and the sweeps against a bare forward",
        "",
        f"`{COMMAND}` on {machine_line()}; {MODEL} (30 layers x 9 heads, sdpa); median of {args.repeat} runs, "
        "each method reading the traces the page has cached after its first request (the neutral baseline "
        "is embedded and the steering pairs traced in every request, as the page does); load average up to "
        f"{load:.1f} during the run.",
        "",
        f"**32 tokens.** Salience explains the top prediction's log-probability after “{clean32}”; attribution "
        f"patching copies that run into the one that ends “…{corrupted32[-36:]}” "
        f"(answer “{patching.EXAMPLE[2].strip()}” against “{patching.EXAMPLE[3].strip()}”).",
        "",
        *table("bare forward of the 32-token text, `model(input_ids)`", explain_base, explain),
        "",
        f"**16 tokens.** “{clean16}” / “{corrupted16}”; the x column is the number of bare forwards.",
        "",
        *table("bare forward of the 16-token clean prompt, `model(input_ids)`", sweep_base, sweeps),
        "",
        f"**Steering**, the page's defaults (layer 10, coefficient 4, the positive/negative pairs), "
        f"{new_tokens} new tokens.",
        "",
        *table(f"plain greedy `generate`, one row, {new_tokens} new tokens", steer_base, steers),
        "",
        "Targets: salience and attribution patching under 1 s for a 32-token text; the full residual sweep, "
        f"with progress, under 30 s for a 16-token pair. Attribution patching (residual) takes {attribution:.2f} s, "
        f"{attribution / explain_base:.1f} forwards. "
        + (f"Over 1 s: {'; '.join(slow)}. " if slow else "Every method is under 1 s. ")
        + "The page and `/salience` stream salience: the first map, with integrated gradients from the path cut into "
        f"{salience.FIRST_PIECES} even pieces ({salience.FIRST_PIECES + 1} points, its ends included), comes in "
        f"{first_map:.2f} s ({'under' if first_map < 1 else 'over'} 1 s), and integrated gradients then "
        "sharpens to the steps asked for, its gap shown as it closes. "
        + f"Integrated gradients at the default {STEPS[0]} steps take {ig[STEPS[0]]:.1f} s: {STEPS[0] + 1} "
        f"forward + backward passes of the text (the worst pieces halved {salience.ROUND} at a time), "
        f"{ig[STEPS[0]] / explain_base:.0f} forwards' time; {STEPS[-1]} steps take {ig[STEPS[-1]]:.1f} s. "
        f"What the steps buy is completeness: the scores should add up to f(input) - f(baseline) = "
        f"{change:+.2f}, and {gap_text}. The residual sweep takes {residual:.1f} s "
        f"({residual / sweep_base:.0f} forwards for {30 * 16} cells, each run resumed from its layer, one batch "
        f"per layer), {'under' if residual < 30 else 'over'} 30 s, with {reports} progress reports, one per "
        "layer. The page's attribution patching request also runs the real sweep, to show their rank "
        "agreement, so it takes the sweep's time plus the estimate's. "
        f"The app (page and API) remembers its {REMEMBERED} latest finished sweeps, estimates and salience results "
        "(steering directions too): a repeat "
        f"takes {milliseconds(max(repeats))} ms at most, so when a class of 30 asks for the teacher's example the "
        "first two requests compute it side by side (the queue runs 2 at a time) and the other 28 get it at once, "
        "instead of waiting up to 15 rounds.",
    ]
    return "\n".join(lines)
