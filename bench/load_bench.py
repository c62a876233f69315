"""Load: a classroom of simulated students against one running app.

Each student is a thread with its own ``gradio_client.Client`` (its own session) that loops
until the deadline: it picks tokenize, attention or a short generation by weight, calls the
named endpoint with a short, varied input, records the latency it saw (queue wait included)
and any error, then thinks for 0.5-2 s. The app runs on the same machine as the students
(started here as a subprocess unless ``--url`` names one), so the figures include the
clients' own share of the CPU. A client error is counted, never raised.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import threading
import time
from pathlib import Path

from bench.load_app import (
    cpu_seconds,
    machine_busy_seconds,
    queue_settings,
    start_app,
    stop_app,
    wait_until_up,
)
from bench.load_report import report
from bench.load_students import DEFAULT_MIX, Record, make_clients, parse_mix, student, warm_up

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reliability.md"
"""``--write`` records this benchmark here rather than in docs/benchmarks.md."""
HEADER = """# Reliability

How the app behaves when a classroom uses it at once, when things fail, and what it refuses.
Each section is recorded by the command it names and replaced when that command runs again.
"""


def run(argv: list[str]) -> str:
    parser = argparse.ArgumentParser(prog="python -m bench load")
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--url", default=None, help="an app already running (else one is started here)")
    parser.add_argument("--mix", type=parse_mix, default=parse_mix(DEFAULT_MIX),
                        help=f"action weights (default {DEFAULT_MIX})")
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--think-min", type=float, default=0.5)
    parser.add_argument("--think-max", type=float, default=2.0)
    parser.add_argument("--timeout", type=float, default=120, help="seconds before a request counts as failed")
    parser.add_argument("--no-warm-up", action="store_true",
                        help="measure cold models too (by default each model is loaded once first)")
    parser.add_argument("--save", default=None, help="also write every request as JSON lines here")
    parser.add_argument("--start-timeout", type=float, default=180, help="seconds to wait for the app")
    options = parser.parse_args(argv)
    if options.users < 1 or options.seconds <= 0:
        parser.error("--users and --seconds must be positive")
    if not 0 <= options.think_min <= options.think_max:
        parser.error("need 0 <= --think-min <= --think-max")
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    os.environ.setdefault("no_proxy", "127.0.0.1,localhost")
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

    process, log = None, None
    try:
        if options.url:
            url = options.url
            wait_until_up(url, None, options.start_timeout)
            app_line = f"The app at {url}."
        else:
            print("load: starting app.py ...", file=sys.stderr, flush=True)
            process, url, up, log = start_app(options.start_timeout)
            app_line = (f"The app was started by the benchmark (`app.py`, answered after {up:.1f} s) on "
                        "this machine, so it shares the CPU with the students' clients.")
            print(f"load: app up at {url} after {up:.1f} s (log {log})", file=sys.stderr, flush=True)
        queue = queue_settings(url)
        setup_started = time.perf_counter()
        clients, setup_failures = make_clients(url, options.users)
        setup = time.perf_counter() - setup_started
        warm_started = time.perf_counter()
        if clients and not options.no_warm_up:
            setup_failures += warm_up(clients[0], max(options.timeout, options.start_timeout))
        warm = time.perf_counter() - warm_started
        print(f"load: {len(clients)} clients in {setup:.1f} s; running {options.seconds:g} s",
              file=sys.stderr, flush=True)
        records: list[Record] = []
        lock = threading.Lock()
        cpu_before = (cpu_seconds(), cpu_seconds(process.pid) if process else None, machine_busy_seconds())
        clock = time.perf_counter()
        deadline = clock + options.seconds
        threads = [threading.Thread(target=student, daemon=True, name=f"student-{i}",
                                    args=(i, client, random.Random(options.seed * 100_003 + i), options,
                                          options.mix, clock, deadline, records, lock))
                   for i, client in enumerate(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.perf_counter()) + options.timeout + 30)
        elapsed = time.perf_counter() - clock
        cpu_after = (cpu_seconds(), cpu_seconds(process.pid) if process else None, machine_busy_seconds())
        cpu = tuple(None if a is None or b is None else (b - a) / elapsed
                    for a, b in zip(cpu_before, cpu_after, strict=True))
        for client in clients:
            try:
                client.close()
            except Exception:  # noqa: BLE001, S110 - closing is best effort
                pass
    finally:
        if process is not None:
            stop_app(process)
    with lock:
        done = list(records)
    if log is not None:
        if setup_failures or any(r.error for r in done):
            print(f"load: the app's log is kept at {log}", file=sys.stderr, flush=True)
        else:
            log.unlink(missing_ok=True)
    if options.save:
        with open(options.save, "w", encoding="utf-8") as sink:
            for record in done:
                sink.write(json.dumps(record.__dict__) + "\n")
    return report(options, argv, options.mix, done, elapsed, setup, warm, setup_failures, app_line, queue,
                  cpu)
