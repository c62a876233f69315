"""The simulated students of the load benchmark: what each one asks, and the loop it runs.

Each student has its own ``gradio_client.Client`` (its own session, as a browser tab has): the
benchmark measures the app as a class meets it, through its public endpoints. gradio_client is
the HTTP client; it does not import gradio.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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


def make_clients(url: str, users: int) -> tuple[list[Any], list[str]]:
    """``users`` clients created in parallel (each its own session); failures listed, not raised.

    They share one TLS context: gradio_client opens a new ``httpx.Client`` for every request, and
    each built a fresh context (reading the CA bundle) even for an http:// app. That was 59% of the
    students' CPU under py-spy, taken from the app they share the machine with; a class's browsers
    run elsewhere.
    """
    import ssl

    from gradio_client import Client

    tls = ssl.create_default_context()

    def make(index: int) -> Any:
        time.sleep(0.05 * (index % 8))  # a light stagger within each wave
        client = Client(url, verbose=False, max_workers=4, analytics_enabled=False)
        client.ssl_verify = tls  # httpx takes a context for verify=, as gradio_client passes it on
        return client

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
