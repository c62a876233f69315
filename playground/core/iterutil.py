"""Small iterator helpers shared by the streaming code paths."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")


def last(items: Iterable[T]) -> T | None:
    """The final item of a stream (its finished state), or None if it yielded nothing."""
    tail = deque(items, maxlen=1)
    return tail[0] if tail else None
