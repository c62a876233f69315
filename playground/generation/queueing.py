"""First come, first served admission to a shared model.

A plain lock or semaphore lets any waiter win; a classroom needs the student who asked first
to be served first, and each waiter to know how many are ahead.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Iterator

from playground.core.errors import BusyError


class FairGate:
    """At most ``limit`` holders at once; waiters are admitted in arrival order.

    With ``max_waiting``, a request that would be further back than that is refused at once
    (:class:`BusyError`): a flood gets "busy, try again" instead of a wait of many minutes.
    """

    def __init__(self, limit: int, max_waiting: int | None = None) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.max_waiting = max_waiting
        self._condition = threading.Condition()
        self._waiting: deque[int] = deque()
        self._holders: set[int] = set()
        self._tickets = itertools.count()

    def join(self) -> int:
        """Take a ticket; it must be given back with :meth:`leave`, admitted or not."""
        with self._condition:
            full = len(self._holders) >= self.limit
            if full and self.max_waiting is not None and len(self._waiting) >= self.max_waiting:
                raise BusyError(f"{len(self._waiting)} requests are already waiting")
            ticket = next(self._tickets)
            self._waiting.append(ticket)
            self._admit()
            return ticket

    def _admit(self) -> None:
        while self._waiting and len(self._holders) < self.limit:
            self._holders.add(self._waiting.popleft())
        self._condition.notify_all()

    def position(self, ticket: int) -> int:
        """0 once admitted; otherwise how many requests are ahead (1 = next in line)."""
        with self._condition:
            if ticket in self._holders:
                return 0
            try:
                return self._waiting.index(ticket) + 1
            except ValueError:
                return 0

    def wait(self, ticket: int, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True once ``ticket`` holds a place."""
        with self._condition:
            return self._condition.wait_for(lambda: ticket in self._holders, timeout=timeout)

    def leave(self, ticket: int) -> None:
        with self._condition:
            self._holders.discard(ticket)
            if ticket in self._waiting:
                self._waiting.remove(ticket)
            self._admit()

    @property
    def busy(self) -> tuple[int, int]:
        """(running, waiting), for status lines."""
        with self._condition:
            return len(self._holders), len(self._waiting)


def wait_in_line(gate: FairGate, ticket: int, poll_seconds: float = 0.5) -> Iterator[int]:
    """Yield the queue position every ``poll_seconds`` until admitted (yields nothing if free)."""
    while not gate.wait(ticket, poll_seconds):
        yield gate.position(ticket)
