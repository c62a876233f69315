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

    def __init__(self, maxsize: int, max_bytes: int | None = None,
                 size_of: Callable[[V], int] | None = None) -> None:
        """At most ``maxsize`` entries and, with ``max_bytes``, at most that many bytes by ``size_of``.

        The newest entry is kept even when it alone is larger: whoever computed it is about to ask
        again (the next head of the same long text), and recomputing it for every click costs more.
        """
        if (max_bytes is None) != (size_of is None):
            raise ValueError("max_bytes and size_of go together")
        self._maxsize = maxsize
        self._max_bytes = max_bytes
        self._size_of = size_of
        self._values: OrderedDict[Hashable, V] = OrderedDict()
        self._sizes: dict[Hashable, int] = {}
        self._bytes = 0
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
        size = self._size_of(value) if self._size_of is not None else 0
        with self._guard:
            self._bytes += size - self._sizes.get(key, 0)
            self._values[key], self._sizes[key] = value, size
            self._values.move_to_end(key)
            while len(self._values) > self._maxsize or (
                    self._max_bytes is not None and self._bytes > self._max_bytes and len(self._values) > 1):
                oldest, _ = self._values.popitem(last=False)
                self._bytes -= self._sizes.pop(oldest)

    @property
    def bytes(self) -> int:
        """What the kept entries weigh by ``size_of`` (0 without one)."""
        with self._guard:
            return self._bytes

    def __len__(self) -> int:
        with self._guard:
            return len(self._values)
