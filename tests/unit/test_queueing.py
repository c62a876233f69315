"""The fair gate admits in arrival order and never more than its limit."""

from __future__ import annotations

import threading
import time

import pytest

from playground.generation.queueing import FairGate


def test_admission_is_first_come_first_served():
    gate = FairGate(1)
    first = gate.join()
    waiting = [gate.join() for _ in range(3)]
    assert gate.position(first) == 0
    assert [gate.position(t) for t in waiting] == [1, 2, 3]
    gate.leave(waiting[1])  # someone gives up: those behind move up
    assert [gate.position(t) for t in (waiting[0], waiting[2])] == [1, 2]
    gate.leave(first)
    assert gate.position(waiting[0]) == 0 and gate.position(waiting[2]) == 1


@pytest.mark.parametrize("limit", [1, 2])
def test_threads_run_in_order_and_within_the_limit(limit):
    gate = FairGate(limit)
    order: list[int] = []
    running = []
    peak = [0]
    lock = threading.Lock()

    def worker(index: int, ticket: int) -> None:
        while not gate.wait(ticket, 0.05):
            pass
        with lock:
            order.append(index)
            running.append(index)
            peak[0] = max(peak[0], len(running))
        time.sleep(0.02)  # the admitted work itself: held long enough that a gate letting too many in would overlap
        with lock:
            running.remove(index)
        gate.leave(ticket)

    tickets = [gate.join() for _ in range(8)]
    threads = [threading.Thread(target=worker, args=(i, t)) for i, t in enumerate(tickets)]
    for thread in reversed(threads):  # started in reverse: admission still follows the tickets
        thread.start()
    for thread in threads:
        thread.join(5)
    assert peak[0] <= limit and set(order) == set(range(8))
    if limit == 1:  # one at a time: exactly ticket order, whatever order the threads started in
        assert order == list(range(8))
    assert gate.busy == (0, 0)


def test_a_full_line_refuses_at_once_with_a_busy_message():
    from playground.core.errors import BusyError
    from playground.generation.engine import GENERATIONS_PER_MODEL, WAITING_PER_MODEL, GenerationEngine

    gate = FairGate(1, max_waiting=2)
    tickets = [gate.join() for _ in range(3)]  # one holds the model, two wait
    with pytest.raises(BusyError, match="2 requests are already waiting"):
        gate.join()
    gate.leave(tickets[0])  # the line moves: there is room again
    tickets.append(gate.join())
    assert [gate.position(t) for t in tickets[1:]] == [0, 1, 2]

    engine = GenerationEngine(store=None)
    line = engine.gate("smollm2-135m-instruct")
    for _ in range(GENERATIONS_PER_MODEL + WAITING_PER_MODEL):
        line.join()
    with pytest.raises(BusyError, match="The model smollm2-135m-instruct is busy: .* Try again in a minute"):
        list(engine.queued(["smollm2-135m-instruct"], lambda: iter([1]), lambda position: position))
    assert line.busy == (GENERATIONS_PER_MODEL, WAITING_PER_MODEL)  # the refused request left no ticket
