"""Stop strings per request: transformers' ``StopStringCriteria`` says when one is complete.

The criterion matches token sequences whose text ends in a stop string, however the tokenizer split
it (``["st", "op"]``, ``["las", "topper"]``), so no decoded-text search is needed on every step; when
it fires, the text is cut where the stop string starts.
"""

from __future__ import annotations

from typing import Any

import torch


class StopStrings:
    """The stop strings of one request, checked after each of its tokens."""

    def __init__(self, tokenizer: Any, stops: tuple[str, ...]) -> None:
        from transformers import StopStringCriteria

        self.stops = stops
        self.criteria = StopStringCriteria(tokenizer, list(stops))

    def cut(self, ids: list[int], text: str, before: str) -> int | None:
        """Where ``text`` ends if the newest token completed a stop string, else None.

        A stop string met before any visible text (a leading newline when the stop is "\\n") is passed
        over: the model has not answered yet.
        """
        tail = ids[-self.criteria.maximum_token_len:]  # all the criterion ever reads
        fired = self.criteria(torch.tensor([tail], dtype=torch.long), None)
        if not bool(fired[0]):
            return None
        return first_stop(text, before, self.stops)


def first_stop(text: str, before: str, stops: tuple[str, ...]) -> int | None:
    """Where the earliest stop string starts, looking only where the new text could complete one."""
    found = []
    for stop in stops:
        index = text.find(stop, max(0, len(before) - len(stop) + 1))
        while index >= 0 and not text[:index].strip():
            index = text.find(stop, index + 1)
        if index >= 0:
            found.append(index)
    return min(found) if found else None
