"""Threads done with torch hand their OpenMP workers back (a handler when it returns, a caller before it
waits for a batch, a batch thread when idle), so that libgomp keeps the decoding thread's workers
spinning instead of taking the machine for oversubscribed (playground.core.openmp says why)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import torch

from playground.core.openmp import can_release_openmp_workers, release_openmp_workers
from playground.generation.sampling import SamplingSettings
from tabs.shared.common import event_handler

MODEL = "smollm2-135m-instruct"

pytestmark = pytest.mark.skipif(not can_release_openmp_workers() or torch.get_num_threads() < 2,
                                reason="needs libgomp (Linux) and at least two torch threads")


def threads_now() -> set[int]:
    """Ids of this process's OS threads; an OpenMP pool's workers are among them."""
    return {int(name) for name in os.listdir("/proc/self/task")}


def parallel_work() -> None:
    """An elementwise op large enough for ATen to split it over an OpenMP team."""
    torch.ones(1 << 22).exp_()


def in_new_thread(body: Callable[[], Any]) -> Any:
    box: list[Any] = []
    thread = threading.Thread(target=lambda: box.append(body()))
    thread.start()
    thread.join()
    return box[0]


def pool_of(work: Callable[[], None], then: Callable[[], None], freed: bool) -> tuple[set[int], set[int]]:
    """In a new thread: the threads that ``work`` started, and which of them are still there after
    ``then`` (waited for up to 5 s when they should be gone: an exiting thread takes a moment)."""
    def body() -> tuple[set[int], set[int]]:
        before = threads_now()
        work()
        started = threads_now() - before
        then()
        deadline = time.monotonic() + (5.0 if freed else 0.2)
        while started & threads_now() and time.monotonic() < deadline:
            time.sleep(0.02)
        return started, started & threads_now()

    return in_new_thread(body)  # checked inside: a thread's pool also goes when the thread ends


def test_a_thread_keeps_its_openmp_workers_until_it_releases_them():
    started, left = pool_of(parallel_work, lambda: None, freed=False)
    assert len(started) >= torch.get_num_threads() - 1, "libgomp made no pool: the other tests prove nothing"
    assert left == started  # without a release the pool lives as long as its thread

    started, left = pool_of(parallel_work, release_openmp_workers, freed=True)
    assert started and left == set()


def test_a_thread_without_workers_can_release_and_compute_again():
    def body() -> float:
        release_openmp_workers()  # nothing to free: a no-op
        parallel_work()
        release_openmp_workers()
        return float(torch.ones(1 << 22).exp_().sum())  # a new pool is made as needed

    assert in_new_thread(body) == pytest.approx(float(torch.e) * (1 << 22), rel=1e-4)


def test_a_handler_frees_its_workers_when_it_returns_or_fails():
    @event_handler
    def handler() -> str:
        parallel_work()
        return "done"

    @event_handler
    def failing() -> None:
        parallel_work()
        raise ValueError("bad input")

    @event_handler
    def streaming():
        parallel_work()
        yield "first"
        parallel_work()
        yield "second"

    def fail_quietly() -> None:
        with pytest.raises(Exception, match="bad input"):
            failing()

    def drain() -> None:
        assert list(streaming()) == ["first", "second"]

    for run in (handler, fail_quietly, drain):
        started, left = pool_of(parallel_work, run, freed=True)
        assert started and left == set(), run.__name__


def test_a_caller_frees_its_workers_before_it_waits_for_the_batch(workspace):
    settings = SamplingSettings(max_new_tokens=4)

    def caller() -> None:
        generation = workspace.generation.generate(MODEL, "Name a colour.", settings)
        assert generation.error is None and generation.tokens_out >= 1

    started, left = pool_of(parallel_work, caller, freed=True)
    assert started and left == set()


def test_a_batch_thread_frees_its_workers_whenever_it_is_idle(workspace):
    settings = SamplingSettings(max_new_tokens=8)
    workspace.generation.generate(MODEL, "Warm the batch up.", settings)
    idle = settled_threads()
    new_while_decoding: set[int] = set()
    for _ in workspace.generation.stream(MODEL, "Name an animal.", settings):
        new_while_decoding |= threads_now() - idle
    assert len(new_while_decoding) >= torch.get_num_threads() - 1  # its pool was made again for this request
    deadline = time.monotonic() + 10
    while threads_now() & new_while_decoding and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not threads_now() & new_while_decoding  # and freed once the request was done


def settled_threads(seconds: float = 5.0) -> set[int]:
    """The thread ids once they have not changed for 0.3 s: the batch thread has gone idle."""
    deadline = time.monotonic() + seconds
    last, since = threads_now(), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < 0.3:
        time.sleep(0.02)
        now = threads_now()
        if now != last:
            last, since = now, time.monotonic()
    return last
