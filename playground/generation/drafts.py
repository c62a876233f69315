"""Where speculative decoding's guesses come from: the text itself (prompt lookup) or a smaller model.

Both drafters answer the same question, "which tokens probably come next?", so the verification loop in
:mod:`playground.generation.speculative` takes either and the two methods differ only here. A draft model's
token ids must mean the same text as the target's, hence :func:`tokenizer_differences`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch
from transformers import DynamicCache

from playground.core.validation import whole_number

MAX_NEW_TOKENS = 512
PROBES = ("Hello, world!", " The quick brown fox jumps over the lazy dog.", "naïve café, 東京 🙂 — ünïcödé",
          "def f(x):\n    return x ** 2  # square", "3.14159 + 2718 = ?")
"""Texts both tokenizers must split into the same ids: words, Unicode, code and digits."""


def forward(model: Any, ids: list[int], cache: DynamicCache, length: int) -> torch.Tensor:
    """Logits for ``ids`` appended after the ``length`` tokens already in ``cache``."""
    tensor = torch.tensor([ids], device=model.device)
    positions = torch.arange(length, length + len(ids), device=model.device)[None]
    output = model(input_ids=tensor, past_key_values=cache, use_cache=True, position_ids=positions,
                   cache_position=positions[0])
    return output.logits[0].float()


class Drafter(Protocol):
    """Guesses the next tokens; told after each verification how many of its guesses the target kept."""

    forwards: int
    """Forward passes of a draft model (0 for a drafter that runs none)."""

    def propose(self, ids: list[int], room: int) -> list[int]:
        """At most ``room`` guessed tokens to follow ``ids`` (the prompt and the answer so far)."""
        ...

    def update(self, drafted: int, accepted: int) -> None:
        """The target accepted ``accepted`` of the ``drafted`` tokens just proposed."""
        ...


@dataclass(frozen=True)
class LookupSettings:
    max_new_tokens: int = 96
    ngram: int = 3
    """The longest suffix looked up; shorter ones are tried when it is not found."""
    draft: int = 8
    """Tokens drafted per step at most."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "max_new_tokens", whole_number("max_new_tokens", self.max_new_tokens, 1,
                                                                 MAX_NEW_TOKENS, "how long the answer may be"))
        object.__setattr__(self, "ngram", whole_number("ngram", self.ngram, 1, 8, "the suffix looked up"))
        object.__setattr__(self, "draft", whole_number("draft", self.draft, 1, 32, "tokens guessed per step"))


def lookup_draft(ids: list[int], ngram: int, draft: int) -> list[int]:
    """The tokens that followed the latest earlier occurrence of the text's last n tokens (n from ``ngram``
    down to 1); empty when no suffix occurs earlier."""
    for n in range(min(ngram, len(ids) - 1), 0, -1):
        suffix = ids[-n:]
        for start in range(len(ids) - n - 1, -1, -1):
            if ids[start:start + n] == suffix:
                follow = ids[start + n:start + n + draft]
                if follow:
                    return follow
    return []


class LookupDrafter:
    """Prompt lookup: free guesses copied from the text, a fixed length (nothing to adapt: a guess costs
    nothing, and a rejected one only a little extra compute in the verifying forward)."""

    forwards = 0

    def __init__(self, settings: LookupSettings) -> None:
        self.settings = settings

    def propose(self, ids: list[int], room: int) -> list[int]:
        return lookup_draft(ids, self.settings.ngram, self.settings.draft)[:max(room, 0)]

    def update(self, drafted: int, accepted: int) -> None:
        pass


@dataclass(frozen=True)
class DraftSettings:
    """A draft model's guess length adapts as transformers' assistant does (its "heuristic" schedule):
    ``draft`` tokens first, two more after a fully accepted draft, one fewer after a rejection, between 1
    and ``most``. A fixed length wastes draft forwards where the models disagree and leaves speed unused
    where they agree, and how much they agree depends on the prompt."""

    draft: int = 4
    most: int = 16

    def __post_init__(self) -> None:
        object.__setattr__(self, "most", whole_number("most", self.most, 1, 32, "the longest guess"))
        object.__setattr__(self, "draft", whole_number("draft", self.draft, 1, self.most, "the first guess"))


class ModelDrafter:
    """Assisted decoding: a smaller model writes the guesses greedily, keeping its own KV cache across steps
    (cropped back to the tokens the target kept, so each step only feeds it what is new)."""

    def __init__(self, model: Any, settings: DraftSettings, eos: set[int], vocabulary: int) -> None:
        self.model, self.most, self.eos = model, settings.most, eos
        self.size = settings.draft
        self.vocabulary = vocabulary
        """The target's embedding rows: a draft model with a larger (padded) matrix must not guess beyond."""
        self.cache, self.cached = DynamicCache(), []
        self.forwards = 0

    def propose(self, ids: list[int], room: int) -> list[int]:
        length = min(self.size, room)
        if length <= 0:
            return []
        keep = 0
        while keep < min(len(self.cached), len(ids) - 1) and self.cached[keep] == ids[keep]:
            keep += 1
        if keep < len(self.cached):  # its rejected guesses leave its cache
            self.cache.crop(keep - len(self.cached))
        drafted: list[int] = []
        with torch.inference_mode():
            logits = forward(self.model, ids[keep:], self.cache, keep)
            self.cached, self.forwards = list(ids), self.forwards + 1
            while True:
                token = int(torch.argmax(logits[-1, :self.vocabulary]))
                drafted.append(token)
                if len(drafted) >= length or token in self.eos:
                    return drafted
                logits = forward(self.model, [token], self.cache, len(self.cached))
                self.cached.append(token)
                self.forwards += 1

    def update(self, drafted: int, accepted: int) -> None:
        if drafted:
            self.size = min(self.most, self.size + 2) if accepted == drafted else max(1, self.size - 1)


def tokenizer_differences(target: Any, draft: Any) -> list[str]:
    """What makes ``draft``'s token ids mean other text than ``target``'s (empty when nothing does): the
    vocabulary size, the ids of a few probe texts, the ids of every special token either one has."""
    found = []
    if len(target) != len(draft):
        found.append(f"vocabulary size {len(target):,} against {len(draft):,}")
    for text in PROBES:
        mine, theirs = target.encode(text, add_special_tokens=False), draft.encode(text, add_special_tokens=False)
        if mine != theirs:
            found.append(f"{text!r} is tokens {mine[:5]}{'…' if len(mine) > 5 else ''} against "
                         f"{theirs[:5]}{'…' if len(theirs) > 5 else ''}")
            break
    specials = sorted(set(target.all_special_tokens) | set(draft.all_special_tokens))
    differing = [(token, target.convert_tokens_to_ids(token), draft.convert_tokens_to_ids(token))
                 for token in specials]
    differing = [d for d in differing if d[1] != d[2]]
    if differing:
        found.append("special tokens " + ", ".join(f"{token} (id {mine} against {theirs})"
                                                   for token, mine, theirs in differing[:4])
                     + (f" and {len(differing) - 4} more" if len(differing) > 4 else ""))
    return found
