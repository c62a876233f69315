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
import concurrent.futures
import json
import math
import os
import random
import shlex
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground.bench import machine_line

COMMAND = "python -m playground.bench load"
ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reliability.md"
"""``--write`` records this benchmark here rather than in docs/benchmarks.md."""
HEADER = """# Reliability

How the app behaves when a classroom uses it at once, when things fail, and what it refuses.
Each section is recorded by the command it names and replaced when that command runs again.
"""

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
- Tokenize alone, 30 students: 17 requests/s, p95 1.3 s, and the students' clients used more CPU
  (0.9 cores) than the app (0.2). The load generator sharing the machine makes every figure here
  pessimistic next to a class whose browsers run elsewhere.

Chosen from these figures (in `app.py`, `tabs/attention.py`, `playground/generation.py`):
- `/attention` and the page's attention pass: concurrency_id `attention-forward`, limit 2 (was 4).
  A repeated text is cached, and on 2 cores more passes at once only add contention.
- Tokenize: its own group, limit 4; its p95 met the target with it.
- Generation: Gradio's `generation` group (limit 8) plus the engine's line per model, 2 decoding at
  once. Gradio fixes a concurrency_id per endpoint while the model is a request argument, so the
  per-model line lives in the engine (`FairGate`). It refuses a request with "The model ... is busy:
  N requests are already waiting for it. Try again in a minute." once 40 wait: a class of 30 (27
  waiting at peak) never sees it, a flood does, instead of waits of minutes.
- Gradio's `max_size` 128 for all endpoints together (4x the peak of 29 events), past which it
  answers "queue is full, please try again"."""

TOKENIZE_P95_TARGET = 1.0
DEFAULT_MIX = "tokenize=50,attention=25,generate=15,generate_tokens=10"
CAUSAL = "smollm2-135m-instruct"
TOKENIZERS = ("smollm2-135m-instruct", "minilm-l6", "cl100k_base")
ATTENTION_MODELS = {"smollm2-135m-instruct": (30, 9), "minilm-l6": (6, 12)}
"""Embedded models for /attention: (layers, heads); one causal, one bidirectional."""
ERROR_CHARS = 200

TEXTS = (
    "The cat sat on the mat.",
    "Tokenizers split unbelievably long words into pieces.",
    "Attention lets every token look at the others.",
    "Paris is the capital of France, and Berlin is the capital of Germany.",
    "I deposited money at the bank, then sat on the river bank.",
    "def add(a, b):\n    return a + b",
    "Ünïcödé wörds, naïve café, façade — and an em dash.",
    "東京は日本の首都です。",
    "Emoji count too: 🤖🚀🌍 and 👩‍💻.",
    "Привет, как дела? Всё хорошо.",
    "x² + y² = r², and π ≈ 3.14159.",
    "The quick brown fox jumps over the lazy dog 1234567890 times.",
    "Large language models predict the next token, one at a time.",
    "   leading spaces, trailing spaces   ",
)
PROMPTS = (
    "Why is the sky blue?",
    "Name three colours.",
    "What is a token?",
    "Write a haiku about autumn.",
    "Translate 'good morning' into French.",
    "What is 12 + 30?",
    "Give one tip for learning Python.",
    "Explique la photosynthèse en une phrase.",
)


@dataclass(frozen=True)
class Call:
    """One request a student sends: the endpoint and its positional arguments."""

    endpoint: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Record:
    user: int
    endpoint: str
    started: float
    """Seconds after the clock started."""
    seconds: float
    first_output: float | None
    """Seconds to the first streamed value (/generate only)."""
    error: str | None


def tokenize_call(rng: random.Random, _options: argparse.Namespace) -> Call:
    text = rng.choice(TEXTS)
    if rng.random() < 0.5:  # a student's own text: a second sentence or a number
        text = f"{text} {rng.choice(TEXTS)}" if rng.random() < 0.5 else f"{text} #{rng.randint(1, 9999)}"
    return Call("tokenize", (text, rng.choice(TOKENIZERS)))


def attention_call(rng: random.Random, _options: argparse.Namespace) -> Call:
    model = rng.choice(sorted(ATTENTION_MODELS))
    layers, heads = ATTENTION_MODELS[model]
    text = rng.choice(TEXTS)
    if rng.random() < 0.3:
        text = f"{text} {rng.choice(TEXTS)}"
    return Call("attention", (text, model, rng.randrange(layers), rng.randrange(heads)))


def generation_args(rng: random.Random, options: argparse.Namespace) -> tuple[Any, ...]:
    temperature = rng.choice((0.0, 0.7))
    return (rng.choice(PROMPTS), CAUSAL, options.max_new_tokens, temperature,
            0.95 if temperature else 1.0, rng.randint(0, 1000))


ACTIONS: dict[str, Callable[[random.Random, argparse.Namespace], Call]] = {
    "tokenize": tokenize_call,
    "attention": attention_call,
    "generate": lambda rng, options: Call("generate", generation_args(rng, options)),
    "generate_tokens": lambda rng, options: Call("generate_tokens", generation_args(rng, options)),
}


def parse_mix(text: str) -> dict[str, float]:
    """'tokenize=50,attention=25' -> weights; unknown names and negative weights are refused."""
    mix: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, _, weight = part.partition("=")
        name = name.strip()
        if name not in ACTIONS:
            raise argparse.ArgumentTypeError(f"unknown action {name!r}; choose from {', '.join(ACTIONS)}")
        try:
            value = float(weight)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"{part!r}: write name=weight") from error
        if value < 0:
            raise argparse.ArgumentTypeError(f"{part!r}: weights cannot be negative")
        mix[name] = value
    if not mix or sum(mix.values()) <= 0:
        raise argparse.ArgumentTypeError("the mix needs at least one positive weight")
    return mix


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile: the smallest value with at least p% of the values at or below it."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = math.ceil(p / 100 * len(ordered))
    return ordered[min(max(rank, 1), len(ordered)) - 1]


def error_text(error: BaseException) -> str:
    message = str(error).strip() or "(no message)"
    return f"{type(error).__name__}: {message}"[:ERROR_CHARS]


def timed_call(client: Any, call: Call, timeout: float) -> tuple[float, float | None]:
    """(seconds to the final result, seconds to the first streamed value); raises what the call raised."""
    started = time.perf_counter()
    job = client.submit(*call.args, api_name=f"/{call.endpoint}")
    first: float | None = None
    if call.endpoint == "generate":  # streams: note when the first text arrives
        while not job.done():
            if first is None and job.outputs():
                first = time.perf_counter() - started
            if time.perf_counter() - started > timeout:
                break
            time.sleep(0.02)
    try:
        job.result(timeout=max(0.0, timeout - (time.perf_counter() - started)))
    except concurrent.futures.TimeoutError as error:
        job.cancel()
        raise TimeoutError(f"no result after {timeout:g} s") from error
    seconds = time.perf_counter() - started
    return seconds, (first if first is not None else seconds) if call.endpoint == "generate" else None


def student(user: int, client: Any, rng: random.Random, options: argparse.Namespace, mix: dict[str, float],
            clock: float, deadline: float, records: list[Record], lock: threading.Lock) -> None:
    """One student's loop until the deadline; every failure becomes a record, never an exception."""
    names, weights = list(mix), list(mix.values())
    time.sleep(rng.uniform(0, options.think_max))  # students do not all click at the same instant
    while time.perf_counter() < deadline:
        call = ACTIONS[rng.choices(names, weights)[0]](rng, options)
        started = time.perf_counter()
        try:
            seconds, first = timed_call(client, call, options.timeout)
            record = Record(user, call.endpoint, started - clock, seconds, first, None)
        except Exception as error:  # noqa: BLE001 - counted, the student carries on
            record = Record(user, call.endpoint, started - clock, time.perf_counter() - started, None,
                            error_text(error))
        with lock:
            records.append(record)
        think = rng.uniform(options.think_min, options.think_max)
        if time.perf_counter() + think >= deadline:
            break
        time.sleep(think)


def cpu_seconds(pid: int | None = None) -> float | None:
    """User plus system CPU seconds of this process (or of ``pid``, via psutil where installed)."""
    if pid is None:
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    try:
        import psutil

        times = psutil.Process(pid).cpu_times()
        return times.user + times.system
    except Exception:  # noqa: BLE001 - psutil missing or the process gone: not reported
        return None


def machine_busy_seconds() -> float | None:
    """CPU seconds every process on this machine has used (all cores), via psutil where installed."""
    try:
        import psutil

        times = psutil.cpu_times()
        # guest time is already inside user time on Linux
        return sum(times) - sum(getattr(times, name, 0.0) for name in
                                ("idle", "iowait", "steal", "guest", "guest_nice"))
    except Exception:  # noqa: BLE001
        return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def local_env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def start_app(timeout: float) -> tuple[subprocess.Popen, str, float, Path]:
    """``app.py`` on 127.0.0.1 and a free port; (process, url, seconds to answer, log file)."""
    import tempfile

    port = free_port()
    handle, name = tempfile.mkstemp(prefix="load-bench-app-", suffix=".log")
    log = Path(name)
    started = time.perf_counter()
    with os.fdopen(handle, "wb") as sink:
        process = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)],
                                   cwd=ROOT, env=local_env(), stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_up(url, process, timeout)
    except Exception as error:
        stop_app(process)
        raise RuntimeError(f"{error} (the app's output: {log})") from error
    except BaseException:
        stop_app(process)
        raise
    return process, url, time.perf_counter() - started, log


def wait_until_up(url: str, process: subprocess.Popen | None, timeout: float) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the app exited with {process.returncode} before answering")
        try:
            with opener.open(url.rstrip("/") + "/config", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def stop_app(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


QUEUE_PROBE = """
import json
from app import build_app
from playground.generation import GENERATIONS_PER_MODEL
app = build_app()
queue = app._queue
rows = {}
for fn in app.fns.values():
    if fn.api_name in %r:
        limit = fn.concurrency_limit
        shared = str(fn.concurrency_id)
        rows[fn.api_name] = {"limit": queue.default_concurrency_limit if limit == "default" else limit,
                             "id": None if shared.isdigit() else shared}
print(json.dumps({"max_size": queue.max_size, "default_limit": queue.default_concurrency_limit,
                  "per_model": GENERATIONS_PER_MODEL, "endpoints": rows}))
"""


def queue_settings() -> dict | None:
    """This checkout's queue settings, read from ``build_app()`` in a subprocess (the library
    itself never imports gradio); None where they cannot be read."""
    try:
        done = subprocess.run([sys.executable, "-c", QUEUE_PROBE % (tuple(ACTIONS),)], cwd=ROOT,
                              env=local_env(), capture_output=True, text=True, timeout=120)
        return json.loads(done.stdout.strip().splitlines()[-1])
    except Exception:  # noqa: BLE001 - described as unknown in the report
        return None


def make_clients(url: str, users: int) -> tuple[list[Any], list[str]]:
    """``users`` clients created in parallel (each its own session); failures listed, not raised."""
    from gradio_client import Client

    def make(index: int) -> Any:
        time.sleep(0.05 * (index % 8))  # a light stagger within each wave
        return Client(url, verbose=False, max_workers=4, analytics_enabled=False)

    clients, failures = [], []
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, users)) as pool:
        for future in [pool.submit(make, i) for i in range(users)]:
            try:
                clients.append(future.result())
            except Exception as error:  # noqa: BLE001
                failures.append(error_text(error))
    return clients, failures


def warm_up(client: Any, timeout: float) -> list[str]:
    """Load every model and tokenizer once, before the clock (a class meets an app already
    running); returns the errors, which are reported, not raised."""
    calls = [Call("tokenize", ("Warm up.", name)) for name in TOKENIZERS]
    calls += [Call("attention", ("Warm up.", model, 0, 0)) for model in sorted(ATTENTION_MODELS)]
    calls.append(Call("generate_tokens", ("Warm up.", CAUSAL, 2, 0.0, 1.0, 0)))
    failures = []
    for call in calls:
        try:
            timed_call(client, call, timeout)
        except Exception as error:  # noqa: BLE001
            failures.append(f"/{call.endpoint}: {error_text(error)}")
    return failures


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
    lines += ["", queue_line(queue, options.url is not None)]
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


def queue_line(queue: dict | None, remote: bool) -> str:
    if queue is None:
        return "Queue settings: could not be read from this checkout's `build_app()`."
    parts = []
    for name, row in queue["endpoints"].items():
        shared = f"concurrency_id `{row['id']}`" if row["id"] else "its own concurrency id"
        parts.append(f"`/{name}` concurrency_limit {row['limit']} ({shared})")
    where = "this checkout's `app.py` (the app at `--url` may differ)" if remote else "the app under test"
    return (f"Queue settings of {where}: `max_size` {queue['max_size']}, default concurrency_limit "
            f"{queue['default_limit']}; {'; '.join(parts)}; and the engine decodes at most "
            f"{queue['per_model']} generations per model at once (first come, first served).")


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
                f"once (concurrency_id `generation`) and the engine decodes {queue['per_model']} per model; "
                "the others wait in line (the engine's first come, first served line, then Gradio's queue). "
                "No queue setting shortens that wait: only fewer or shorter generations, or a faster "
                "engine, would.")
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


def run(argv: list[str]) -> str:
    parser = argparse.ArgumentParser(prog="python -m playground.bench load")
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

    queue = queue_settings()
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
