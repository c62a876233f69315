"""The load benchmark's Markdown: per-endpoint latency, the targets, CPU, queue settings, a timeline."""

from __future__ import annotations

import argparse
import math
import os
import shlex
from collections import Counter
from collections.abc import Sequence

from bench import machine_line
from bench.load_students import (
    ACTIONS,
    CAUSAL,
    ERROR_CHARS,
    TOKENIZE_P95_TARGET,
    TOKENIZERS,
    Record,
)

COMMAND = "python -m bench load"

NOTES = """Measured alongside, to choose the queue settings: 30-second runs of the same mix against
the app with one setting changed at launch (not in `app.py`); one run each on this 2-core machine,
so differences under about a third are noise.

- The slow tokenize requests all fall in the first seconds. The requests sent while the 30
  students arrive (within 2 s) finish together, 1-3 s after they were sent, whatever their
  endpoint, and an HTTP probe of the app waited up to 1 s meanwhile: the CPU is oversubscribed at
  that moment (up to 4 attention forward passes of 2 torch threads each, prefills and decoding,
  30 new sessions). It is not the generation line: tokenize has its own concurrency group (4 at a
  time), whose queue drains in milliseconds once the CPU is free.
- `/attention` at concurrency_limit 1 instead of 4: tokenize p95 in the first 5 s 1.5 s instead of
  3.0 s; afterwards unchanged (0.2-0.4 s), attention p50 unchanged.
- torch at 1 thread instead of 2: tokenize p95 in the first 5 s 2.1 s, generations per second
  1.16 instead of 0.96; with attention at limit 1 as well, no better than either (noise, or the
  two do not add up).
- Where the engine's time went under this load (the model thread's phases wrapped with timers,
  60-second runs, about 16 rows a step): a turn took 525 ms at first, of which the decode pass 242 ms
  (131 ms on an idle machine), choosing tokens row by row 107 ms and prefill passes 148 ms. Choosing
  for every row at once (43 ms), a repeated exercise joining with no pass of its own (prefill 34 ms),
  top-p without sorting the vocabulary and a KV cache that grows in place brought a turn to about
  350 ms and the answer's p50 to 5.6-6.6 s. Then, measured on a slower VM where the previous code read
  6.4-7.8 s: the shared models' Linear layers on weights prepacked once for oneDNN (MKL re-laid each
  weight out on every call: a 16-row step took 74-80 ms instead of 146-194 idle), attention maps from
  the base model without its LM head (a third of a short text's pass), Python's GIL switch interval at
  0.5 ms instead of 5 ms (the model thread waits for the GIL after each of a step's few hundred torch
  ops, and the CPU sat 45% idle while a turn took 3.5x its idle time: turns of 259-290 ms against
  342-374 ms in four alternating runs; 0.2 ms was worse) and Gradio's endpoint statistics refreshed
  every 100 events rather than rebuilt with pandas after each (10% of the GIL-held samples). A turn
  now takes about 200 ms under this load. This VM's speed drifted by half over the afternoon, so the
  figure to trust is the pair run minutes apart: the code before these four changes against this one,
  `/generate` p50 6.36 s against 4.89 s, and later 5.04 s against 3.95 s (that day's record), 0.77x
  and 0.78x; this code's other 120-second runs read 4.27 s and 6.39 s. Next, threads free their idle
  OpenMP pools (`playground/core/openmp.py`: libgomp had let the batch thread's workers sleep between
  a step's parallel regions once idle pools elsewhere outnumbered the CPUs): on a slower day, 5.26 s
  before against 4.84 s after (the record above), minutes apart. Tried and not kept,
  each no better than noise: `OMP_WAIT_POLICY=PASSIVE`, `/attention` at limit 1, torch at one thread
  (60-second runs: 2.3 and 3.4 s against 3.3 s with two). The students' clients share one TLS context
  (gradio_client built one per request, 0.6 of the 2 cores); they now use about 0.1.
- Tokenize alone, 30 students: 17 requests/s, p95 1.3 s, and the students' clients used more CPU
  (0.9 cores) than the app (0.2). The load generator sharing the machine makes every figure here
  pessimistic next to a class whose browsers run elsewhere.

Chosen from these figures (Gradio's in `tabs/shared/queues.py`, the engine's in `playground/core/queues.py`):
- `/attention` and the page's attention pass: concurrency_id `attention-forward`, limit 2 (was 4).
  A repeated text is cached, and on 2 cores more passes at once only add contention.
- Tokenize: its own group, limit 4; its p95 met the target with it.
- Generation: Gradio's `generation` group (limit 32) feeds the engine, which decodes every request on
  a model together in one batch (continuous batching, up to 32 rows; see "Generation: concurrent
  requests, batched" in docs/benchmarks.md). Before batching the engine decoded 2 per model at once and a
  16-token answer waited 24 s at the median with 30 students. Past the batch's caps requests wait first
  come, first served; the engine refuses with "The model ... is busy: N requests are already waiting for
  it. Try again in a minute." once 40 submissions wait: a class never sees it, a flood does.
- Gradio's `max_size` 128 for all endpoints together (4x the peak of 29 events), past which it
  answers "queue is full, please try again"."""



def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile: the smallest value with at least p% of the values at or below it."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = math.ceil(p / 100 * len(ordered))
    return ordered[min(max(rank, 1), len(ordered)) - 1]


def peak_in_flight(records: Sequence[Record], endpoints: set[str]) -> int:
    events = sorted([(r.started, 1) for r in records if r.endpoint in endpoints]
                    + [(r.started + r.seconds, -1) for r in records if r.endpoint in endpoints],
                    key=lambda e: (e[0], e[1]))
    peak = current = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


def fmt(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}"


def shown_arguments(argv: Sequence[str]) -> list[str]:
    """The command line as recorded: ``--save FILE`` changes no figure, so it is left out."""
    shown, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--save":
            skip = True
        elif not arg.startswith("--save="):
            shown.append(arg)
    return shown


def report(options: argparse.Namespace, argv: Sequence[str], mix: dict[str, float], records: list[Record],
           elapsed: float, setup: float, warm: float, setup_failures: list[str], app_line: str,
           queue: dict | None, cpu: tuple[float | None, ...] = (None, None, None)) -> str:
    command = " ".join([COMMAND, *(shlex.quote(a) for a in shown_arguments(argv))])
    total_weight = sum(mix.values())
    mix_text = ", ".join(f"{name} {weight / total_weight:.0%}" for name, weight in mix.items() if weight)
    clients = options.users - sum(not f.startswith("/") for f in setup_failures)
    warm_text = ("no warm-up: cold model loads are inside the figures" if options.no_warm_up else
                 f"then every model and tokenizer was called once, {warm:.1f} s, also before the clock")
    lines = [
        f"## Load: {options.users} simulated students against one app",
        "",
        f"`{command}` on {machine_line()}. {app_line} Each student is a thread with its own "
        f"`gradio_client` session; it picks {mix_text}, waits for the answer, then thinks "
        f"{options.think_min:g}-{options.think_max:g} s. Inputs: short varied texts (some unicode); "
        f"tokenizers {', '.join(TOKENIZERS)}; attention on {CAUSAL} (causal) and minilm-l6 "
        f"(bidirectional), random layer and head; generations on {CAUSAL}, "
        f"{options.max_new_tokens} new tokens, greedy or temperature 0.7; seed {options.seed}.",
        "",
        f"Users: {options.users} ({clients} clients set up in {setup:.1f} s, in parallel, before the "
        f"clock started; {warm_text}). Seconds: {options.seconds:g} asked, {elapsed:.1f} until the last "
        "answer.",
        "",
        "| endpoint | requests | errors | p50 (s) | p95 (s) | max (s) | requests/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    endpoints = [name for name in ACTIONS if any(r.endpoint == name for r in records)]
    for name in [*endpoints, "all"]:
        rows = [r for r in records if name in ("all", r.endpoint)]
        ok = [r.seconds for r in rows if r.error is None]
        errors = sum(r.error is not None for r in rows)
        label = "**all**" if name == "all" else f"`/{name}`"
        lines.append(f"| {label} | {len(rows)} | {errors} | {fmt(percentile(ok, 50))} | "
                     f"{fmt(percentile(ok, 95))} | {fmt(max(ok) if ok else math.nan)} | "
                     f"{len(rows) / elapsed if elapsed else 0:.2f} |")
    firsts = [r.first_output for r in records if r.endpoint == "generate" and r.error is None
              and r.first_output is not None]
    lines += ["", "Latency is from submit to the final result as the student sees it (queue wait "
              "included), over successful requests; percentiles are nearest-rank."]
    if firsts:
        lines[-1] += (f" `/generate` streams: its first text arrived after {fmt(percentile(firsts, 50))} s "
                      f"(p50), {fmt(percentile(firsts, 95))} s (p95).")
    tokenize_ok = [r.seconds for r in records if r.endpoint == "tokenize" and r.error is None]
    p95 = percentile(tokenize_ok, 95)
    verdict = ("not measured (no tokenize requests)" if math.isnan(p95) else
               f"{'met' if p95 < TOKENIZE_P95_TARGET else 'not met'} ({fmt(p95)} s)")
    errors = Counter(r.error for r in records if r.error is not None)
    lines += ["", f"Target: zero errors, {'met' if not errors and not setup_failures else 'not met'} "
              f"({sum(errors.values())} errors); tokenizer p95 under {TOKENIZE_P95_TARGET:g} s while "
              f"generations run, {verdict}."]
    if errors or setup_failures:
        lines += ["", f"Errors (distinct messages, first {ERROR_CHARS} characters):", ""]
        for message, count in errors.most_common():
            where = sorted({r.endpoint for r in records if r.error == message})
            lines.append(f"- {count}x on {', '.join('/' + w for w in where)}: `{message}`")
        for message, count in Counter(setup_failures).most_common():
            stage = "warming up" if message.startswith("/") else "creating a client"
            lines.append(f"- {count}x {stage}: `{message}`")
    lines += ["", cpu_line(*cpu)]
    lines += ["", queue_line(queue)]
    generating = {"generate", "generate_tokens"}
    lines += ["", "Peak requests in flight at once (running or queued): "
              f"{peak_in_flight(records, set(ACTIONS))} in all, "
              f"{peak_in_flight(records, generating)} generations, "
              f"{peak_in_flight(records, {'tokenize'})} tokenize, "
              f"{peak_in_flight(records, {'attention'})} attention.",
              "", "Over time:", "", *timeline(records, elapsed, options.seconds),
              "", what_it_shows(records, queue, elapsed, options.seconds, options.max_new_tokens),
              "", NOTES]
    return "\n".join(lines)


def cpu_line(students: float | None, app: float | None, machine: float | None) -> str:
    """Cores busy on average while the clock ran; what other processes used taints the figures."""
    if students is None:
        return ""
    line = f"CPU while the clock ran, in cores busy on average (of {os.cpu_count()}): "
    if app is not None:
        line += f"the app {app:.2f}, the students' clients {students:.2f}"
        if machine is not None:
            others = max(0.0, machine - app - students)
            line += f", other processes on the machine {others:.2f}"
            if others > 0.25:
                line += " (**the machine was not quiet: the latencies above include that load**)"
    else:
        line += f"the students' clients {students:.2f}"
        if machine is not None:
            line += f", the app and any other processes together {max(0.0, machine - students):.2f}"
    return line + "."


def timeline(records: Sequence[Record], elapsed: float, seconds: float) -> list[str]:
    """Per window of the run: requests started, tokenize latency, generations open (students in line)."""
    step = max(5.0, seconds / 6)
    rows = ["| window (s) | requests started | tokenize p50 (s) | tokenize p95 (s) | "
            "generations open (mean) |", "|---|---:|---:|---:|---:|"]
    start = 0.0
    while start < elapsed:
        end = min(start + step, elapsed)
        started = [r for r in records if start <= r.started < end]
        if end - start < 1 and not started:  # the few moments after the deadline, answers only
            break
        tok = [r.seconds for r in started if r.endpoint == "tokenize" and r.error is None]
        samples = [start + (end - start) * (i + 0.5) / 20 for i in range(20)]
        open_mean = sum(sum(1 for r in records if r.endpoint.startswith("generate")
                            and r.started <= t < r.started + r.seconds) for t in samples) / len(samples)
        rows.append(f"| {start:.0f}-{end:.0f} | {len(started)} | {fmt(percentile(tok, 50))} | "
                    f"{fmt(percentile(tok, 95))} | {open_mean:.1f} |")
        start = end
    return rows


def queue_line(queue: dict | None) -> str:
    if queue is None:
        return "Queue settings: the app did not answer `/server_info`."
    parts = []
    for name in ACTIONS:
        row = queue["endpoints"].get(name)
        if row:
            shared = f"concurrency_id `{row['id']}`" if row["id"] else "its own concurrency id"
            parts.append(f"`/{name}` concurrency_limit {row['limit']} ({shared})")
    return (f"Queue settings of the app under test (its `/server_info`): `max_size` {queue['max_size']}, default "
            f"concurrency_limit {queue['default_limit']}; {'; '.join(parts)}; and the engine decodes up to "
            f"{queue['per_model']} generations per model together in one batch (the rest first come, first "
            f"served), refusing past {queue['waiting_per_model']} waiting.")


def what_it_shows(records: Sequence[Record], queue: dict | None, elapsed: float, seconds: float,
                  max_new_tokens: int) -> str:
    """A few sentences drawn from the figures themselves."""
    sentences = []
    generating = {"generate", "generate_tokens"}
    gens = [r for r in records if r.endpoint in generating and r.error is None]
    per_model = queue["per_model"] if queue else 2
    if gens and elapsed:
        waits = [r.seconds for r in gens]
        peak = peak_in_flight(records, generating)
        lead = ("Generation is the bottleneck: the app" if peak > 2 * per_model else "The app")
        sentences.append(
            f"{lead} finished {len(gens) / elapsed:.2f} generations per second ({max_new_tokens} new tokens "
            f"each) while up to {peak} students had one open; a generation took "
            f"{fmt(percentile(waits, 50))} s at the median, {fmt(min(waits))} s at best.")
        if queue is not None and peak > per_model:
            sentences.append(
                f"Gradio runs {queue['endpoints'].get('generate', {}).get('limit', '?')} generating events at "
                f"once (concurrency_id `generation`) and the engine decodes up to {queue['per_model']} per "
                "model together in one batch; the others wait in line (the engine's first come, first served "
                "line, then Gradio's queue).")
    step = max(5.0, seconds / 6)
    tok = [r for r in records if r.endpoint == "tokenize" and r.error is None]
    first = [r.seconds for r in tok if r.started < step]
    rest = [r.seconds for r in tok if r.started >= step]
    if first and rest:
        users = {r.user for r in records}
        arrived = max(min(r.started for r in records if r.user == user) for user in users)
        sentences.append(
            f"Tokenizing has its own concurrency group, so it never waits in the generation line; it shares "
            f"the CPU. Its p95 was {fmt(percentile(first, 95))} s in the first {step:.0f} s (all {len(users)} "
            f"students sent their first request within {arrived:.1f} s) and {fmt(percentile(rest, 95))} s "
            f"afterwards{', while generations ran' if gens else ''}.")
        per_window_first = sum(1 for r in records if r.started < step)
        per_window_rest = sum(1 for r in records if r.started >= step) / max(1.0, (elapsed - step) / step)
        if per_window_rest < 0.75 * per_window_first:
            sentences.append(
                f"Each student waits for her answer, so those in the generation line send nothing else: "
                f"requests fell from {per_window_first} in the first window to about {per_window_rest:.0f} "
                "per window later, which keeps the other endpoints lightly loaded.")
    if queue is not None:
        total = peak_in_flight(records, set(ACTIONS))
        full = any(r.error and "Queue is full" in r.error for r in records)
        below = "below" if total < queue["max_size"] else "not below"
        sentences.append(f"With one request open per student the queue held at most {total} events, {below} "
                         f"`max_size` {queue['max_size']}; its 'queue is full' refusal (gradio_client's "
                         f"`QueueError`) was {'seen' if full else 'never reached'}.")
    return "What the figures show: " + " ".join(sentences) if sentences else ""
