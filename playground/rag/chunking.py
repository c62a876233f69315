"""Splitting documents into overlapping chunks counted in the model's own tokens.

Windows are cut at token boundaries, moved a few tokens (at most ``snap_reach``) to the best
boundary in reach (a paragraph, else a sentence, else a word start), so a chunk never begins with
"th. During..." when a clean cut is close; where none is (a long URL, a language without spaces)
the plain token cut stays. An end moves back and a start moves forward, so a chunk never exceeds
``chunk_size`` and neighbours share at most ``overlap`` tokens (at least ``overlap - snap_reach``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from playground.core.validation import whole_number

MIN_CHUNK, MAX_CHUNK = 16, 1024
SENTENCE_ENDS = ".!?:;"
WORD, SENTENCE, PARAGRAPH = 1, 2, 3


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


def snap_reach(chunk_size: int) -> int:
    """How far (in tokens) a cut may move to reach a boundary: an eighth of the chunk, 2 to 16."""
    return max(2, min(16, chunk_size // 8))


def boundary_kind(text: str, start: int) -> int:
    """SENTENCE if a token starting at ``start`` begins a sentence or paragraph, WORD if it begins
    a word (whitespace on either side of the cut), else 0 (the cut falls inside a word)."""
    if start <= 0:
        return PARAGRAPH
    if not (text[start - 1].isspace() or text[start].isspace()):
        return 0
    before = start
    while before > 0 and text[before - 1].isspace():
        before -= 1
    gap = text[before:start]
    while start < len(text) and text[start].isspace():  # a token may carry its leading space
        gap += text[start]
        start += 1
    if before == 0 or "\n\n" in gap:
        return PARAGRAPH
    return SENTENCE if "\n" in gap or text[before - 1] in SENTENCE_ENDS else WORD


def _best_cut(kinds: list[int], target: int, low: int, high: int) -> int:
    """The token index in [low, high] with the best boundary, nearest ``target`` among equals;
    ``target`` (kept in range) when nothing in reach is a boundary."""
    candidates = [i for i in range(max(low, 0), min(high, len(kinds) - 1) + 1) if kinds[i]]
    if not candidates:
        return min(max(target, low), high)
    return max(candidates, key=lambda i: (kinds[i], -abs(i - target)))


def chunk_text(text: str, source: str, tokenizer: Any, chunk_size: int, overlap: int) -> list[Chunk]:
    """Windows of at most ``chunk_size`` tokens, each starting about ``chunk_size - overlap`` tokens
    after the last, both ends moved to a paragraph, sentence or word boundary within reach.

    Spans come from the tokenizer's character offsets, so a chunk's text is exactly the
    original text it covers (no decode round trip), and citations point at real positions.
    Neighbours always touch or overlap: no text falls between two chunks.
    """
    chunk_size, overlap = check_sizes(chunk_size, overlap)
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    if not offsets:
        return []
    total = len(offsets)
    kinds = [boundary_kind(text, begin) for begin, _ in offsets] + [PARAGRAPH]  # the end of text is a cut
    reach = snap_reach(chunk_size)
    chunks: list[Chunk] = []
    first = 0
    while True:
        limit = min(first + chunk_size, total)
        last = limit if limit == total else _best_cut(kinds, limit, limit - reach, limit)
        start, end = offsets[first][0], offsets[last - 1][1]
        chunks.append(Chunk(source, len(chunks), text[start:end], start, end, first, last))
        if last == total:
            return chunks
        nominal = last - overlap
        # The next chunk starts after this one's start (progress) and no later than its end (no gap);
        # moving forward only keeps the shared tokens at most ``overlap``.
        first = last if overlap == 0 else _best_cut(kinds, nominal, max(nominal, first + 1),
                                                    min(nominal + reach, last))
