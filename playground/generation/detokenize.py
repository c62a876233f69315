"""Turning generated ids into text one token at a time, in time proportional to the token, not the text.

Decoding the whole output again after every token is quadratic in its length. Decoding only the new
token is wrong for tokenizers whose pieces depend on their neighbours (SentencePiece's leading space)
and for byte-level pieces that split a UTF-8 character. So, as vLLM and TGI do, a short window is
decoded: the text of the previous piece plus the new tokens, minus the text of the previous piece.
"""

from __future__ import annotations

from typing import Any

REPLACEMENT = "\ufffd"


class IncrementalDetokenizer:
    """Feed ids one at a time; each call returns the text they added (possibly "" while a character
    is still incomplete). The pieces always join to ``tokenizer.decode(all_ids)``."""

    def __init__(self, tokenizer: Any, skip_special_tokens: bool = True) -> None:
        self.tokenizer = tokenizer
        self.skip_special_tokens = skip_special_tokens
        self.ids: list[int] = []
        self.prefix_offset = 0
        self.read_offset = 0

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=self.skip_special_tokens)

    def add(self, token: int, final: bool = False) -> str:
        """The new text after ``token``; ``final`` flushes whatever is pending (even half a character)."""
        self.ids.append(token)
        prefix_text = self._decode(self.ids[self.prefix_offset:self.read_offset])
        new_text = self._decode(self.ids[self.prefix_offset:])
        complete = not new_text.endswith(REPLACEMENT)
        if len(new_text) > len(prefix_text) and (complete or final) and new_text.startswith(prefix_text):
            self.prefix_offset, self.read_offset = self.read_offset, len(self.ids)
            return new_text[len(prefix_text):]
        return ""
