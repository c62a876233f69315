"""Splitting documents into overlapping chunks counted in the model's own tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from playground.core.errors import InvalidInputError

MIN_CHUNK, MAX_CHUNK = 16, 1024


@dataclass(frozen=True)
class Chunk:
    """A slice of a document: its text, character span, and token span under the chunking tokenizer."""

    source: str
    index: int
    text: str
    start: int
    end: int
    token_start: int
    token_end: int


def _whole(name: str, value: Any) -> int:
    """``value`` as an int: sliders and API callers may send 96.0 (fine) or 96.5, "96", None (refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or (isinstance(value, float) and not value.is_integer()):
        raise InvalidInputError(f"{name} must be a whole number of tokens, got {value!r}.")
    return int(value)


def check_sizes(chunk_size: int, overlap: int) -> tuple[int, int]:
    """The sizes as ints, or the project's error for a size out of range or not a whole number."""
    chunk_size, overlap = _whole("chunk_size", chunk_size), _whole("overlap", overlap)
    if not MIN_CHUNK <= chunk_size <= MAX_CHUNK:
        raise InvalidInputError(f"chunk_size must be between {MIN_CHUNK} and {MAX_CHUNK} tokens, got {chunk_size}.")
    if not 0 <= overlap < chunk_size:
        raise InvalidInputError(f"overlap must be at least 0 and less than chunk_size ({chunk_size}), got {overlap}.")
    return chunk_size, overlap


def chunk_text(text: str, source: str, tokenizer: Any, chunk_size: int, overlap: int) -> list[Chunk]:
    """Windows of ``chunk_size`` tokens, each starting ``chunk_size - overlap`` tokens after the last.

    Spans come from the tokenizer's character offsets, so a chunk's text is exactly the
    original text it covers (no decode round trip), and citations point at real positions.
    """
    chunk_size, overlap = check_sizes(chunk_size, overlap)
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    if not offsets:
        return []
    chunks = []
    step = chunk_size - overlap
    for index, first in enumerate(range(0, len(offsets), step)):
        last = min(first + chunk_size, len(offsets))
        start, end = offsets[first][0], offsets[last - 1][1]
        chunks.append(Chunk(source, index, text[start:end], start, end, first, last))
        if last == len(offsets):
            break
    return chunks
