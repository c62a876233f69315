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

from bench import load_bench, machine_line
from bench.load_app import queue_settings, start_app, stop_app
from playground.internals.salience import DEFAULT_STEPS

COMMAND = "python -m bench contention --write"
DOC, HEADER = load_bench.DOC, load_bench.HEADER
"""Recorded in docs/reliability.md, beside the classroom load run."""
MODEL = "smollm2-135m-instruct"


def teacher(client, stop: float, seconds: list[float]) -> None:
    """A next-token view of a new text each second until ``stop``."""
    number = 0
    while time.perf_counter() < stop:
        started = time.perf_counter()
        client.predict(f"The teacher typed line {number}: the capital of France is", MODEL, 1.0, 0, 1.0,
                       api_name="/next_token")
        seconds.append(time.perf_counter() - started)
        number += 1
        time.sleep(max(0.0, 1.0 - (time.perf_counter() - started)))


def student(client, who: int, stop: float, seconds: list[float]) -> None:
    """Salience of a text of its own, again and again, until ``stop``."""
    number = 0
    while time.perf_counter() < stop:
        started = time.perf_counter()
        client.predict(f"Student {who} wrote sentence number {number} about the river near the old", MODEL, "",
                       DEFAULT_STEPS, api_name="/salience")
        seconds.append(time.perf_counter() - started)
        number += 1


def in_threads(jobs: list[Callable[[], None]]) -> None:
    threads = [threading.Thread(target=job, daemon=True) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def spread(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    return (f"{statistics.median(ordered):.2f} s median, {ordered[int(0.9 * (len(ordered) - 1))]:.2f} s p90, "
            f"{ordered[-1]:.2f} s max ({len(ordered)} requests)")


def run(argv: list[str]) -> str:
    parser = argparse.ArgumentParser(prog="python -m bench contention")
    parser.add_argument("--students", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=90)
    parser.add_argument("--alone", type=float, default=20, help="seconds of the teacher alone first")
    options = parser.parse_args(argv)
    from gradio_client import Client

    print("contention: starting app.py ...", file=sys.stderr, flush=True)
    process, url, up, _ = start_app(180)
    try:
        queue = queue_settings(url) or {}
        clients = [Client(url, verbose=False, analytics_enabled=False) for _ in range(options.students + 1)]
        clients[0].predict("Warm up", MODEL, 1.0, 0, 1.0, api_name="/next_token")
        clients[0].predict("Warm up the", MODEL, "", 4, api_name="/salience")
        alone: list[float] = []
        teacher(clients[0], time.perf_counter() + options.alone, alone)
        busy: list[float] = []
        explained: list[float] = []
        stop = time.perf_counter() + options.seconds
        in_threads([lambda: teacher(clients[0], stop, busy)]
                   + [lambda who=who: student(clients[who], who, stop, explained)
                      for who in range(1, options.students + 1)])
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
