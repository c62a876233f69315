"""Prompts that start alike share their prefill: the KV of a long common prefix is computed once.

An evaluation sends the same few-shot examples before every item, and a class sends the same system
prompt and chat template; only the tail differs. The cache keeps the prompt KV of recent prefills
(bounded in tokens) and a newcomer starts from the longest prefix it shares with one of them, reading
only the rest. Kept keys and values are never written in place (a batch copies what it adopts before
it writes, see :mod:`playground.generation.kv_cache`), so a kept prefix can be shared by many rows
without copying.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch

MIN_SHARED_TOKENS = 32
"""Shorter shared prefixes are read again: a lookup and a cache copy cost about as much."""


def shared_length(a: tuple[int, ...], b: list[int]) -> int:
    limit = min(len(a), len(b))
    for index in range(limit):
        if a[index] != b[index]:
            return index
    return limit


class PrefixCache:
    """Recent prompts' KV per layer, oldest dropped past ``max_tokens``; used by one thread only."""

    def __init__(self, max_tokens: int) -> None:
        self.max_tokens = max_tokens
        self._entries: OrderedDict[tuple[int, ...], list[tuple[torch.Tensor, torch.Tensor]]] = OrderedDict()
        self.hits = 0
        self.tokens_reused = 0

    @property
    def tokens(self) -> int:
        return sum(len(ids) for ids in self._entries)

    def lookup(self, ids: list[int]) -> tuple[int, Any]:
        """(shared tokens, a KV cache holding them) for the longest kept prefix of ``ids``, or (0, None).

        At least the last token of ``ids`` is always left to read, so the model still gives its logits.
        """
        from transformers.cache_utils import DynamicCache

        best, best_key = 0, None
        for key in self._entries:
            length = min(shared_length(key, ids), len(ids) - 1)
            if length > best:
                best, best_key = length, key
        if best < MIN_SHARED_TOKENS or best_key is None:
            return 0, None
        self._entries.move_to_end(best_key)
        self.hits += 1
        self.tokens_reused += best
        layers = [(keys[..., :best, :], values[..., :best, :]) for keys, values in self._entries[best_key]]
        return best, DynamicCache(ddp_cache_data=layers)

    def add(self, ids: list[int], cache: Any) -> None:
        """Keep the KV of a fully prefilled prompt (``cache`` holds exactly ``ids``)."""
        if len(ids) < MIN_SHARED_TOKENS or len(ids) > self.max_tokens:
            return
        key = tuple(ids)
        self._entries[key] = [(layer.keys, layer.values) for layer in cache.layers]
        self._entries.move_to_end(key)
        while self.tokens > self.max_tokens:
            self._entries.popitem(last=False)
