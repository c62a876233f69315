"""A thread-safe get-or-load cache: one load per key, however many users ask at once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class KeyedCache(Generic[V]):
    """Loads each key once; concurrent callers of the same key wait for that one load.

    A load that raises stores nothing, so a failure half way never leaves a broken entry
    and the next caller tries again.
    """

    def __init__(self) -> None:
        self._values: dict[Hashable, V] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def get_or_load(self, key: Hashable, load: Callable[[], V]) -> V:
        with self._guard:
            if key in self._values:
                return self._values[key]
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._guard:
                if key in self._values:
                    return self._values[key]
            value = load()
            with self._guard:
                self._values[key] = value
            return value

    def peek(self, key: Hashable) -> V | None:
        with self._guard:
            return self._values.get(key)


class LRUCache(Generic[V]):
    """A small bounded cache for computed results (not models): oldest entries fall out.

    Two callers missing the same key may both compute it; that costs a duplicate
    computation, never a wrong answer, and keeps the lock out of slow work.
    """

    def __init__(self, maxsize: int) -> None:
        from collections import OrderedDict

        self._maxsize = maxsize
        self._values: OrderedDict[Hashable, V] = OrderedDict()
        self._guard = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        with self._guard:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
        value = compute()
        with self._guard:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self._maxsize:
                self._values.popitem(last=False)
        return value

    def peek(self, key: Hashable) -> V | None:
        """The cached value, or None; counts as a use."""
        with self._guard:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            return None

    def put(self, key: Hashable, value: V) -> None:
        self.get_or_compute(key, lambda: value)

    def __len__(self) -> int:
        with self._guard:
            return len(self._values)
