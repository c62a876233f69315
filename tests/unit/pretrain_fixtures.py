"""Shared by the pre-training tests: a small BPE trained once on a slice of the shipped corpus."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from playground.pretrain.corpus import make_corpus
from playground.pretrain.tokenizer import train_bpe

BPE_CHARS = 300_000
VOCAB = 1024


@lru_cache(maxsize=1)
def small_bpe() -> Any:
    """A 1,024-entry BPE learned from the corpus' first 300,000 characters (well under a second)."""
    return train_bpe(make_corpus().train[:BPE_CHARS], VOCAB)
