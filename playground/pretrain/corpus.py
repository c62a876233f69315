"""The text a model is pre-trained on: the shipped Shakespeare or the user's own, cleaned, split and cut into
training sequences.

The held-out part is the text's last few percent, cut at a paragraph break: for the shipped corpus that is the
end of the last play, text the model never trains on, so a falling held-out loss means generalisation rather
than memory. The same rule for any text makes the split deterministic without a seed.
"""

from __future__ import annotations

import gzip
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from playground.core.errors import InvalidInputError
from playground.core.paths import ASSETS
from playground.core.validation import number

SHIPPED = ASSETS / "pretrain" / "shakespeare.txt.gz"
SHIPPED_NAME = "Shakespeare's plays"
MAX_CHARS = 20_000_000
HELD_OUT = 0.05
ENCODE_CHUNK = 100_000
"""Characters per piece when encoding: the fast tokenizer encodes a batch of pieces in parallel, where one
5-million-character string would take one core several seconds."""
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def shipped_text() -> str:
    """Shakespeare's 38 plays, about 5 million characters (see assets/pretrain/README.md)."""
    with gzip.open(SHIPPED, "rt", encoding="utf-8") as handle:
        return handle.read()


def clean_text(text: Any) -> tuple[str, list[str]]:
    """Text a tokenizer and a reader can both take: NFC, ``\\n`` line ends, no control characters.

    A file with NUL bytes or a tenth of control characters is not text (a binary pasted or uploaded by
    mistake), so it is refused rather than trained on; a few stray ones are removed.
    """
    if not isinstance(text, str):
        raise InvalidInputError(f"The training text must be a string, got {type(text).__name__}.")
    if len(text) > MAX_CHARS:
        raise InvalidInputError(f"The training text is {len(text):,} characters; the limit is {MAX_CHARS:,}. "
                                "Use an excerpt: a few MB already takes longer than a CPU run can see.")
    notes = []
    normalised = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    if normalised != text:
        notes.append("Line ends and Unicode forms were normalised (NFC).")
    controls = len(_CONTROL.findall(normalised))
    if "\x00" in normalised or controls > 0.1 * len(normalised):
        raise InvalidInputError(f"This does not look like text: {controls:,} of its {len(normalised):,} characters "
                                "are control characters or broken surrogates. Is it a binary file?")
    if controls:
        normalised = _CONTROL.sub("", normalised)
        notes.append(f"{controls:,} control character(s) were removed.")
    if not normalised.strip():
        raise InvalidInputError("The training text is empty: paste or upload some text (a few hundred KB is best).")
    return normalised, notes


@dataclass(frozen=True)
class Corpus:
    """A text split into training and held-out parts, with what cleaning changed."""

    name: str
    train: str
    held_out: str
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "train_chars": len(self.train), "held_out_chars": len(self.held_out),
                "notes": list(self.notes)}


def make_corpus(text: str | None = None, held_out: float = HELD_OUT, name: str | None = None) -> Corpus:
    """The shipped corpus (``text`` None) or the user's ``text``, its last ``held_out`` share held out."""
    share = number("Held-out share", held_out, 0.0, 0.5, "a few percent is enough to measure loss",
                   low_open=True)
    if text is None:
        cleaned, notes, name = shipped_text(), [], name or SHIPPED_NAME
    else:
        cleaned, notes = clean_text(text)
    cut = split_point(cleaned, share)
    return Corpus(name or "your text", cleaned[:cut], cleaned[cut:], tuple(notes))


def split_point(text: str, share: float) -> int:
    """Where the last ``share`` of ``text`` begins: at the paragraph (else line) break nearest that point."""
    target = int(len(text) * (1 - share))
    window = max(len(text) // 20, 1)
    for separator in ("\n\n", "\n"):
        before = text.rfind(separator, max(target - window, 0), target + 1)
        if before > 0:
            return before + len(separator)
    return target


def encode(text: str, tokenizer: Any, max_tokens: int | None = None) -> list[int]:
    """``text`` as token ids without special tokens, encoded in line-aligned pieces, stopping past ``max_tokens``."""
    pieces, start = [], 0
    while start < len(text):
        end = text.find("\n", start + ENCODE_CHUNK)
        end = len(text) if end < 0 else end + 1
        pieces.append(text[start:end])
        start = end
    ids: list[int] = []
    for batch_start in range(0, len(pieces), 8):
        for row in tokenizer(pieces[batch_start:batch_start + 8], add_special_tokens=False)["input_ids"]:
            ids.extend(row)
        if max_tokens is not None and len(ids) >= max_tokens:
            return ids[:max_tokens]
    return ids


def blocks(ids: list[int], context: int, part: str = "training", minimum: int = 1) -> Any:
    """Consecutive, non-overlapping ``context``-token sequences as a ``[n, context]`` tensor (the tail dropped)."""
    import torch

    count = len(ids) // context
    if count < minimum:
        raise InvalidInputError(f"The {part} text is {len(ids):,} tokens: a context of {context} needs at least "
                                f"{minimum * context:,}. Use more text or a shorter context.")
    return torch.tensor(ids[:count * context], dtype=torch.long).view(count, context)


def training_rows(corpus: Corpus, tokenizer: Any, context: int, train_sequences: int,
                  held_out_sequences: int) -> tuple[Any, Any]:
    """Up to ``train_sequences`` training and ``held_out_sequences`` held-out rows of ``context`` tokens.

    Only as much text is encoded as the run can use; a short text gives fewer training rows, which the
    loop passes over again (the run's report says how many times), but at least one row of each.
    """
    train = blocks(encode(corpus.train, tokenizer, train_sequences * context), context, "training")
    held_out = blocks(encode(corpus.held_out, tokenizer, held_out_sequences * context), context, "held-out")
    return train, held_out
