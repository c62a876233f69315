"""Contention: students explaining their own texts while the teacher types in Inside the model.

The app is started here (as ``python -m bench load`` starts it). First the teacher alone, the baseline in the same
run: one ``/next_token`` on a new text each second (a new text is a new traced forward, as typing makes it). Then
the same with students, each looping ``/salience`` on texts of its own at the default steps (the What-causes-it
tab's slowest request). The figure is how long the teacher's view waits once the students start, which is what
the two tabs' queues decide (``tabs/shared/queues.py``); the students' own latency is reported beside it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from bench import load_bench, machine_line
from bench.load_app import queue_settings, start_app, stop_app
from bench.load_report import percentile
from bench.load_students import make_clients
from playground.internals.salience import DEFAULT_STEPS

COMMAND = "python -m bench contention --write"
DOC, HEADER = load_bench.DOC, load_bench.HEADER
"""Recorded in docs/reliability.md, beside the classroom load run."""
MODEL = "smollm2-135m-instruct"


def timed_loop(call: Callable[[int], None], stop: float, seconds: list[float], pace: float = 0.0) -> None:
    """``call(n)`` for n = 0, 1, ... until ``stop``, each one timed into ``seconds`` and started at least ``pace``
    seconds after the one before (the teacher types a line a second; a student asks again at once)."""
    number = 0
    while time.perf_counter() < stop:
        started = time.perf_counter()
        call(number)
        seconds.append(time.perf_counter() - started)
        number += 1
        time.sleep(max(0.0, pace - (time.perf_counter() - started)))


def teacher(client: Any, phase: str) -> Callable[[int], None]:
    """A next-token view of a new text (a new text is a new traced forward, as typing makes it; ``phase`` keeps
    the two phases' texts apart)."""
    return lambda number: client.predict(f"The teacher typed {phase} line {number}: the capital of France is",
                                         MODEL, 1.0, 0, 1.0, api_name="/next_token")


def student(client: Any, who: int) -> Callable[[int], None]:
    """Salience of a text of the student's own at the default steps."""
    return lambda number: client.predict(f"Student {who} wrote sentence number {number} about the river near the "
                                         "old", MODEL, "", DEFAULT_STEPS, api_name="/salience")


def spread(seconds: list[float]) -> str:
    return (f"{statistics.median(seconds):.2f} s median, {percentile(seconds, 90):.2f} s p90, "
            f"{max(seconds):.2f} s max ({len(seconds)} requests)")


def run(argv: list[str]) -> str:
    parser = argparse.ArgumentParser(prog="python -m bench contention")
    parser.add_argument("--students", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=90)
    parser.add_argument("--alone", type=float, default=20, help="seconds of the teacher alone first")
    options = parser.parse_args(argv)
    print("contention: starting app.py ...", file=sys.stderr, flush=True)
    process, url, up, _ = start_app(180)
    try:
        queue = queue_settings(url) or {}
        clients, failures = make_clients(url, options.students + 1)
        if failures:
            raise RuntimeError(f"could not connect every client: {failures[0]}")
        teacher(clients[0], "warm-up")(0)  # loads the model and its view
        clients[0].predict("Warm up the", MODEL, "", 4, api_name="/salience")
        alone: list[float] = []
        timed_loop(teacher(clients[0], "alone"), time.perf_counter() + options.alone, alone, pace=1.0)
        busy: list[float] = []
        explained: list[float] = []
        stop = time.perf_counter() + options.seconds
        threads = [threading.Thread(target=timed_loop, args=(teacher(clients[0], "busy"), stop, busy, 1.0),
                                    daemon=True)]
        threads += [threading.Thread(target=timed_loop, args=(student(clients[who], who), stop, explained),
                                     daemon=True) for who in range(1, options.students + 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        stop_app(process)
    endpoints = queue.get("endpoints", {})
    lines = {name: endpoints.get(name, {}) for name in ("next_token", "salience")}
    setting = "; ".join(f"`/{name}` in line `{entry.get('id')}` of {entry.get('limit')}"
                        for name, entry in lines.items())
    ratio = statistics.median(busy) / statistics.median(alone)
    return "\n".join([
        "## Contention: students explaining texts while the teacher types in Inside the model",
        "",
        f"`{COMMAND}` on {machine_line()}; the app started here (it answered after {up:.1f} s), {MODEL}; "
        f"{setting}.",
        "",
        f"- The teacher alone for {options.alone:g} s (baseline): `/next_token` on a new text each second, "
        f"{spread(alone)}.",
        f"- With {options.students} students looping `/salience` on texts of their own at the default "
        f"{DEFAULT_STEPS} steps, for {options.seconds:g} s: the teacher's `/next_token` {spread(busy)}, "
        f"**{ratio:.1f}x** the baseline's median; the students' requests {spread(explained)}.",
    ])
