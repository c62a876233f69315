"""What the property tests share: hypothesis settings, strategies for user text, a scratch folder."""

from __future__ import annotations

from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st

FAST = settings(max_examples=60, deadline=None, database=None)
QUICK = settings(max_examples=30, deadline=None, database=None)

# Text a user can save as UTF-8: anything but lone surrogates. NUL is left out where a file must stay text.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
CELL = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=30)
# Lines of "anything" for JSONL: no line breaks of the file's own (\n, \r), everything else allowed,
# including the separators str.splitlines() also breaks on (\x85, \u2028, \x1c...).
LINE = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\n\r\x00"), max_size=30)
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                    | CELL, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(CELL, inner, max_size=3),
                    max_leaves=8)
SUFFIXES = st.sampled_from([".jsonl", ".json", ".ndjson", ".csv", ".tsv", ".txt", ""])


def write(folder: Path, name: str, content: bytes | str) -> Path:
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path
