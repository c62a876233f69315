"""One text under several tokenizers: the Tokenizer tab's comparison, as plain data.

A tokenizer that fails to load (a Hub id without a network, a typo) becomes a failure in its own place,
so one bad name never hides the others.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from playground.core.errors import InvalidInputError, first_line
from playground.core.progress import ProgressFn
from playground.text.analysis import TokenizationResult, TokenizerRegistry, analyse, sanitize_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompareRequest:
    """The text and the tokenizers to compare: names in the order given, blanks and repeats dropped.

    The text is checked and sanitized here, once for every tokenizer; ``notes`` say what was changed.
    """

    text: str
    tokenizers: Sequence[str]
    notes: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        names = self.tokenizers
        if isinstance(names, str) or not all(isinstance(name, str) for name in names or ()):
            raise InvalidInputError("Tokenizers must be a list of names.")
        object.__setattr__(self, "tokenizers",
                           tuple(dict.fromkeys(name.strip() for name in names or () if name.strip())))
        cleaned, notes = sanitize_text(self.text)
        object.__setattr__(self, "text", cleaned)
        object.__setattr__(self, "notes", tuple(notes))


@dataclass(frozen=True)
class TokenizerFailure:
    """A tokenizer that could not be loaded or run, with the reason shown in its place."""

    tokenizer: str
    error: str

    def to_dict(self) -> dict[str, Any]:
        return {"tokenizer": self.tokenizer, "error": self.error}


@dataclass(frozen=True)
class TokenizerComparison:
    """Each requested tokenizer's result or failure, in the order asked."""

    columns: tuple[TokenizationResult | TokenizerFailure, ...]

    @property
    def results(self) -> list[TokenizationResult]:
        return [column for column in self.columns if isinstance(column, TokenizationResult)]

    @property
    def failures(self) -> list[TokenizerFailure]:
        return [column for column in self.columns if isinstance(column, TokenizerFailure)]

    def to_dict(self) -> dict[str, Any]:
        return {"results": [result.to_dict() for result in self.results],
                "failures": [failure.to_dict() for failure in self.failures]}


def compare_tokenizers(registry: TokenizerRegistry, request: CompareRequest,
                       progress: ProgressFn | None = None) -> TokenizerComparison:
    """Tokenize the request's text with each of its tokenizers; ``progress`` reports downloads."""
    columns: list[TokenizationResult | TokenizerFailure] = []
    for name in request.tokenizers:
        try:
            columns.append(analyse(registry.get(name, progress), request.text, list(request.notes)))
        except Exception as error:  # noqa: BLE001 - one bad tokenizer must not hide the others
            log.info("tokenizer %r failed in a comparison: %s", name, first_line(error, with_type=True))
            columns.append(TokenizerFailure(name, str(error)))
    return TokenizerComparison(tuple(columns))
