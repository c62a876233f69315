"""Thread-safe caches: get-or-load for things loaded once (models), LRU for computed results."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class KeyedCache(Generic[V]):
    """Loads each key once; concurrent callers of the same key wait for that one load.

    A load that raises stores nothing, so a failure half way never leaves a broken entry
    and the next caller tries again. With ``maxsize`` the least recently used entries fall
    out, so a server does not keep everything it ever loaded (a caller still holding an
    evicted value keeps it; the next caller of that key loads it again).
    """

    def __init__(self, maxsize: int | None = None) -> None:
        if maxsize is not None and maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._maxsize = maxsize
        self._values: OrderedDict[Hashable, V] = OrderedDict()
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def get_or_load(self, key: Hashable, load: Callable[[], V]) -> V:
        with self._guard:
            if key in self._values:
                return self._use(key)
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._guard:
                if key in self._values:
                    return self._use(key)
            value = load()
            with self._guard:
                self._values[key] = value
                self._locks.pop(key, None)  # later callers find the value; a failed load keeps its lock
                self._trim()
            return value

    def _use(self, key: Hashable) -> V:
        """The value of a present key, marked as just used (call under the guard)."""
        self._values.move_to_end(key)
        return self._values[key]

    def _trim(self) -> None:
        while self._maxsize is not None and len(self._values) > self._maxsize:
            self._values.popitem(last=False)

    def peek(self, key: Hashable) -> V | None:
        with self._guard:
            return self._values.get(key)

    def __len__(self) -> int:
        with self._guard:
            return len(self._values)


class LRUCache(Generic[V]):
    """A small bounded cache for computed results (not models): oldest entries fall out.

    Two callers missing the same key may both compute it; that costs a duplicate
    computation, never a wrong answer, and keeps the lock out of slow work.
    """

    def __init__(self, maxsize: int) -> None:
        self._maxsize = maxsize
        self._values: OrderedDict[Hashable, V] = OrderedDict()
        self._guard = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        with self._guard:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
        value = compute()
        self.put(key, value)
        return value

    def peek(self, key: Hashable) -> V | None:
        """The cached value, or None; counts as a use."""
        with self._guard:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            return None

    def put(self, key: Hashable, value: V) -> None:
        """Store ``value`` under ``key``, replacing what was there: the newer result wins."""
        with self._guard:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self._maxsize:
                self._values.popitem(last=False)

    def __len__(self) -> int:
        with self._guard:
            return len(self._values)
