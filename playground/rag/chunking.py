"""Splitting documents into overlapping chunks counted in the model's own tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from playground.core.validation import whole_number

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


def check_sizes(chunk_size: int, overlap: int) -> tuple[int, int]:
    """The sizes as ints (a slider's 96.0 counts as 96), or the project's error for a bad one."""
    chunk_size = whole_number("chunk_size", chunk_size, MIN_CHUNK, MAX_CHUNK, "tokens per chunk")
    overlap = whole_number("overlap", overlap, 0, chunk_size - 1,
                           "tokens two neighbouring chunks share; less than chunk_size, so each chunk moves on")
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
