"""The caches every user shares: one load per key, bounded where asked, and put that replaces."""

from __future__ import annotations

import threading
import time

from playground.core.keyed_cache import KeyedCache, LRUCache


def test_lru_put_replaces_the_value():
    cache: LRUCache[str] = LRUCache(4)
    cache.put("answer", "old")
    cache.put("answer", "new")
    assert cache.peek("answer") == "new" and len(cache) == 1


def test_lru_put_keeps_the_bound():
    cache: LRUCache[int] = LRUCache(2)
    for index, key in enumerate("abc"):
        cache.put(key, index)
    assert (cache.peek("a"), cache.peek("b"), cache.peek("c")) == (None, 1, 2)


def test_lru_by_weight_drops_the_oldest_but_always_keeps_the_newest():
    cache: LRUCache[bytes] = LRUCache(100, max_bytes=10, size_of=len)
    cache.put("a", b"1234")
    cache.put("b", b"1234")
    assert cache.bytes == 8 and len(cache) == 2
    cache.put("a", b"12")  # replaced: weighed again, and now the newest
    assert cache.bytes == 6
    cache.put("c", b"12345")  # 11 bytes: the oldest ("b") goes
    assert (cache.peek("a"), cache.peek("b"), cache.peek("c")) == (b"12", None, b"12345") and cache.bytes == 7
    cache.put("huge", b"x" * 50)  # heavier than the bound alone: kept, everything older goes
    assert len(cache) == 1 and cache.peek("huge") is not None and cache.bytes == 50


def test_bounded_keyed_cache_loads_once_under_contention_and_evicts_the_oldest():
    cache: KeyedCache[str] = KeyedCache(maxsize=2)
    loads: list[str] = []

    def slow_load(key: str) -> str:
        loads.append(key)
        time.sleep(0.2)  # long enough for every thread to arrive while the first is loading
        return key.upper()

    threads = [threading.Thread(target=cache.get_or_load, args=("a", lambda: slow_load("a"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loads == ["a"]
    cache.get_or_load("b", lambda: slow_load("b"))
    cache.get_or_load("a", lambda: slow_load("a"))  # a use: "b" is now the oldest
    cache.get_or_load("c", lambda: slow_load("c"))
    assert (cache.peek("a"), cache.peek("b"), cache.peek("c")) == ("A", None, "C")
    assert cache.get_or_load("b", lambda: slow_load("b")) == "B" and loads == ["a", "b", "c", "b"]


def test_a_failed_load_stores_nothing_and_the_next_caller_retries():
    cache: KeyedCache[int] = KeyedCache(maxsize=1)

    def broken() -> int:
        raise RuntimeError("disk gone")

    try:
        cache.get_or_load("k", broken)
    except RuntimeError:
        pass
    assert cache.peek("k") is None and cache.get_or_load("k", lambda: 7) == 7
