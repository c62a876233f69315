"""Prompt-lookup speculative decoding, shown at work: drafts, acceptances and the speed against plain greedy.

A decode step reads every weight to produce one token; verifying several guessed tokens costs about the
same one read. Prompt lookup (Saxena, 2023; transformers' ``prompt_lookup_num_tokens``) guesses for free:
find the last few generated tokens earlier in the text, and draft the tokens that followed them there.
One forward over [last token + draft] gives the model's greedy choice at every draft position; the
longest agreeing prefix is accepted, the model's own token replaces the first disagreement, and the KV
cache is cropped back to what was kept. The output is therefore plain greedy decoding's, token for token;
only the number of forward passes changes. It pays off where the answer repeats the prompt (summaries,
extraction, editing code) and costs a little where it does not.

Written here rather than through ``generate(prompt_lookup_num_tokens=...)``: transformers does not report
which drafted tokens were accepted, and showing that is the point. Both loops below (speculative and
plain) share one forward helper, so the speed-up compares like with like.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import DynamicCache

from playground.core.errors import InvalidInputError
from playground.core.validation import whole_number
from playground.generation.engine import rendered_ids

MAX_NEW_TOKENS = 512


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


@dataclass
class Step:
    """One verification forward: what was drafted, how much of it the model agreed with, and its own token."""

    drafted: list[int]
    accepted: int
    token: int | None
    """The model's token after the accepted prefix (None when the answer ended inside the draft)."""


@dataclass
class SpeculativeRun:
    ids: list[int] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def drafted(self) -> int:
        return sum(len(s.drafted) for s in self.steps)

    @property
    def accepted(self) -> int:
        return sum(s.accepted for s in self.steps)

    @property
    def forwards(self) -> int:
        return len(self.steps)


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


def _forward(model: Any, ids: list[int], cache: DynamicCache, length: int) -> torch.Tensor:
    """Logits for ``ids`` appended after the ``length`` tokens already in ``cache``."""
    tensor = torch.tensor([ids], device=model.device)
    positions = torch.arange(length, length + len(ids), device=model.device)[None]
    output = model(input_ids=tensor, past_key_values=cache, use_cache=True, position_ids=positions,
                   cache_position=positions[0])
    return output.logits[0].float()


def plain_greedy(model: Any, prompt: list[int], max_new_tokens: int, eos: set[int]) -> tuple[list[int], float]:
    """One forward per token, the baseline the speed-up is measured against (same helper, same cache)."""
    started = time.perf_counter()
    cache, out = DynamicCache(), []
    with torch.inference_mode():
        logits = _forward(model, prompt, cache, 0)
        while len(out) < max_new_tokens:
            token = int(torch.argmax(logits[-1]))
            out.append(token)
            if token in eos:
                break
            logits = _forward(model, [token], cache, len(prompt) + len(out) - 1)
    return out, time.perf_counter() - started


def prompt_lookup(model: Any, prompt: list[int], settings: LookupSettings, eos: set[int]) -> SpeculativeRun:
    """Greedy decoding with prompt-lookup drafts, every step recorded."""
    if not prompt:
        raise InvalidInputError("Type a prompt: drafts are looked up in it.")
    run, started = SpeculativeRun(), time.perf_counter()
    cache = DynamicCache()
    with torch.inference_mode():
        logits = _forward(model, prompt[:-1], cache, 0) if len(prompt) > 1 else None
        pending = prompt[-1]  # the last token not yet in the cache
        while len(run.ids) < settings.max_new_tokens and not (run.ids and run.ids[-1] in eos):
            room = settings.max_new_tokens - len(run.ids) - 1
            drafted = lookup_draft(prompt + run.ids, settings.ngram, settings.draft)[:max(room, 0)]
            kept = len(prompt) - 1 + len(run.ids)
            logits = _forward(model, [pending, *drafted], cache, kept)
            choices = torch.argmax(logits, dim=-1).tolist()
            accepted = 0
            while accepted < len(drafted) and drafted[accepted] == choices[accepted] and drafted[accepted] not in eos:
                accepted += 1
            if accepted < len(drafted) and drafted[accepted] == choices[accepted]:  # the draft's end-of-text
                accepted += 1
            run.ids += drafted[:accepted]
            token = None if (run.ids and run.ids[-1] in eos) else choices[accepted]
            if token is not None:
                run.ids.append(token)
            run.steps.append(Step(drafted, accepted, token))
            rejected = len(drafted) - accepted
            if rejected:  # the pending token and the accepted drafts stay cached (crop takes what to remove)
                cache.crop(-rejected)
            pending = run.ids[-1]
    run.ids = run.ids[:settings.max_new_tokens]
    run.seconds = time.perf_counter() - started
    return run


METHODS = ("prompt lookup",)


@dataclass(frozen=True)
class SpeculativeRequest:
    prompt: str
    model: str
    method: str = "prompt lookup"
    max_new_tokens: int = 96
    chat: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise InvalidInputError("Type a prompt: drafts are looked up in it.")
        if not isinstance(self.model, str) or not self.model.strip():
            raise InvalidInputError("Choose a model.")
        if self.method not in METHODS:
            raise InvalidInputError(f"Speculative method {self.method!r} is not offered here: choose "
                                    f"{', '.join(METHODS)} (a draft model needs one that shares the tokenizer "
                                    "and is smaller than the embedded 135M model; none ships).")
        LookupSettings(max_new_tokens=self.max_new_tokens)  # the same bounds, the same message


@dataclass(frozen=True)
class SpeculativeResult:
    output: str
    tokens: list[dict[str, Any]]
    """Each new token's text and whether it was an accepted draft or the model's own."""
    steps: list[dict[str, Any]]
    """Each forward: the drafted tokens' texts, how many were accepted, the model's token."""
    acceptance: float | None
    forwards: int
    new_tokens: int
    seconds: float
    plain_seconds: float
    speedup: float
    same_as_greedy: bool

    def to_dict(self) -> dict[str, Any]:
        return {"output": self.output, "tokens": self.tokens, "steps": self.steps, "acceptance": self.acceptance,
                "forwards": self.forwards, "new_tokens": self.new_tokens, "seconds": round(self.seconds, 4),
                "plain_seconds": round(self.plain_seconds, 4), "speedup": round(self.speedup, 3),
                "same_as_greedy": self.same_as_greedy}


def speculative(store: Any, request: SpeculativeRequest) -> SpeculativeResult:
    """Prompt lookup and plain greedy on the same prompt and model, one after the other, compared."""
    name = request.model.strip()
    model, tokenizer = store.causal_lm(name), store.hf_tokenizer(name)
    prompt = rendered_ids(tokenizer, request.prompt, None, request.chat, [])[1]
    eos = {int(tokenizer.eos_token_id)} if tokenizer.eos_token_id is not None else set()
    eos |= {int(i) for i in ([model.generation_config.eos_token_id] if isinstance(
        model.generation_config.eos_token_id, int) else model.generation_config.eos_token_id or [])}
    plain_greedy(model, prompt, 2, eos)  # warm: a first forward's one-off costs would land on the first timed loop
    run = prompt_lookup(model, prompt, LookupSettings(max_new_tokens=request.max_new_tokens), eos)
    plain, plain_seconds = plain_greedy(model, prompt, request.max_new_tokens, eos)
    decode = lambda ids: tokenizer.decode(ids, skip_special_tokens=True)  # noqa: E731 - short, local
    tokens = []
    for step in run.steps:
        tokens += [{"text": tokenizer.decode([t]), "drafted": True} for t in step.drafted[:step.accepted]]
        tokens += [] if step.token is None else [{"text": tokenizer.decode([step.token]), "drafted": False}]
    steps = [{"drafted": [tokenizer.decode([t]) for t in s.drafted], "accepted": s.accepted,
              "token": None if s.token is None else tokenizer.decode([s.token])} for s in run.steps]
    return SpeculativeResult(
        output=decode(run.ids), tokens=tokens[:len(run.ids)], steps=steps,
        acceptance=run.accepted / run.drafted if run.drafted else None, forwards=run.forwards,
        new_tokens=len(run.ids), seconds=run.seconds, plain_seconds=plain_seconds,
        speedup=plain_seconds / run.seconds if run.seconds else 1.0, same_as_greedy=run.ids == plain)
