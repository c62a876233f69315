"""Speculative decoding, shown at work: drafts, acceptances and the speed against plain greedy.

A decode step reads every weight to produce one token; verifying several guessed tokens costs about the
same one read. The guesses come from a drafter (:mod:`playground.generation.drafts`): prompt lookup
(Saxena, 2023; transformers' ``prompt_lookup_num_tokens``) copies, for free, the tokens that followed the
last few tokens' earlier occurrence in the text; a draft model (assisted decoding, Leviathan et al. 2023;
transformers' ``assistant_model``) is a smaller model with the same tokenizer that writes them greedily.
One forward over [last token + draft] gives the model's greedy choice at every draft position; the
longest agreeing prefix is accepted, the model's own token replaces the first disagreement, and the KV
cache is cropped back to what was kept. The output is therefore plain greedy decoding's, token for token;
only the number of forward passes changes. Lookup pays off where the answer repeats the prompt (summaries,
extraction, editing code); a draft model wherever it predicts the target well and costs much less.

Written here rather than through ``generate(prompt_lookup_num_tokens=...)`` or ``assistant_model``:
transformers does not report which drafted tokens were accepted, and showing that is the point. One
verification loop serves both methods, and it and plain greedy share one forward helper, so the speed-up
compares like with like.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import DynamicCache

from playground.core.errors import InvalidInputError
from playground.generation.drafts import (
    MAX_NEW_TOKENS,
    Drafter,
    DraftSettings,
    LookupDrafter,
    LookupSettings,
    ModelDrafter,
    forward,
    lookup_draft,
    tokenizer_differences,
)
from playground.generation.engine import rendered_ids

__all__ = ["MAX_NEW_TOKENS", "METHODS", "LookupSettings", "DraftSettings", "SpeculativeRequest",
           "SpeculativeResult", "assisted", "load_draft", "lookup_draft", "plain_greedy", "prompt_lookup",
           "speculative", "verify"]


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
    draft_forwards: int = 0
    """Forward passes of the draft model (0 for prompt lookup)."""

    @property
    def drafted(self) -> int:
        return sum(len(s.drafted) for s in self.steps)

    @property
    def accepted(self) -> int:
        return sum(s.accepted for s in self.steps)

    @property
    def forwards(self) -> int:
        return len(self.steps)


def plain_greedy(model: Any, prompt: list[int], max_new_tokens: int, eos: set[int]) -> tuple[list[int], float]:
    """One forward per token, the baseline the speed-up is measured against (same helper, same cache)."""
    started = time.perf_counter()
    cache, out = DynamicCache(), []
    with torch.inference_mode():
        logits = forward(model, prompt, cache, 0)
        while len(out) < max_new_tokens:
            token = int(torch.argmax(logits[-1]))
            out.append(token)
            if token in eos:
                break
            logits = forward(model, [token], cache, len(prompt) + len(out) - 1)
    return out, time.perf_counter() - started


def verify(model: Any, prompt: list[int], max_new_tokens: int, eos: set[int], drafter: Drafter) -> SpeculativeRun:
    """Greedy decoding that checks ``drafter``'s guesses, every step recorded. One forward over [the token
    not yet cached + the guesses] gives the model's own choice after each; the agreeing prefix is kept, the
    model's choice follows it, and the cache is cropped back to what was kept."""
    if not prompt:
        raise InvalidInputError("Type a prompt: the drafts and the answer continue it.")
    run, started = SpeculativeRun(), time.perf_counter()
    cache = DynamicCache()
    with torch.inference_mode():
        if len(prompt) > 1:
            forward(model, prompt[:-1], cache, 0)
        pending = prompt[-1]  # the last token not yet in the cache
        while len(run.ids) < max_new_tokens and not (run.ids and run.ids[-1] in eos):
            room = max_new_tokens - len(run.ids) - 1
            drafted = drafter.propose(prompt + run.ids, room)[:max(room, 0)]
            kept = len(prompt) - 1 + len(run.ids)
            logits = forward(model, [pending, *drafted], cache, kept)
            choices = torch.argmax(logits, dim=-1).tolist()
            accepted = 0
            while accepted < len(drafted) and drafted[accepted] == choices[accepted] and drafted[accepted] not in eos:
                accepted += 1
            if accepted < len(drafted) and drafted[accepted] == choices[accepted]:  # the draft's end-of-text
                accepted += 1
            drafter.update(len(drafted), accepted)
            run.ids += drafted[:accepted]
            token = None if (run.ids and run.ids[-1] in eos) else choices[accepted]
            if token is not None:
                run.ids.append(token)
            run.steps.append(Step(drafted, accepted, token))
            rejected = len(drafted) - accepted
            if rejected:  # the pending token and the accepted drafts stay cached (crop takes what to remove)
                cache.crop(-rejected)
            pending = run.ids[-1]
    run.ids = run.ids[:max_new_tokens]
    run.draft_forwards = drafter.forwards
    run.seconds = time.perf_counter() - started
    return run


def prompt_lookup(model: Any, prompt: list[int], settings: LookupSettings, eos: set[int]) -> SpeculativeRun:
    """Greedy decoding with prompt-lookup drafts."""
    return verify(model, prompt, settings.max_new_tokens, eos, LookupDrafter(settings))


def assisted(model: Any, draft: Any, prompt: list[int], max_new_tokens: int, eos: set[int],
             settings: DraftSettings = DraftSettings()) -> SpeculativeRun:
    """Greedy decoding with a draft model's guesses (it must share ``model``'s tokenizer: see
    :func:`load_draft`)."""
    drafter = ModelDrafter(draft, settings, eos, model.get_input_embeddings().num_embeddings)
    return verify(model, prompt, max_new_tokens, eos, drafter)


METHODS = ("prompt lookup", "draft model")
NO_DRAFT_SHIPS = ("none ships that is smaller than the embedded 135M model, so give a local folder or Hub id, "
                  "or use the embedded smollm2-135m-instruct as the draft of a bigger SmolLM2 target")


@dataclass(frozen=True)
class SpeculativeRequest:
    prompt: str
    model: str
    method: str = "prompt lookup"
    max_new_tokens: int = 96
    chat: bool = True
    draft_model: str = ""
    """A smaller causal model sharing ``model``'s tokenizer (method "draft model" only)."""

    def __post_init__(self) -> None:
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise InvalidInputError("Type a prompt: drafts are looked up in it.")
        if not isinstance(self.model, str) or not self.model.strip():
            raise InvalidInputError("Choose a model.")
        if self.method not in METHODS:
            raise InvalidInputError(f"Speculative method {self.method!r} is not offered here: choose "
                                    f"{' or '.join(repr(m) for m in METHODS)}.")
        draft = self.draft_model.strip() if isinstance(self.draft_model, str) else self.draft_model
        if draft and self.method != "draft model":
            raise InvalidInputError(f"A draft model ({draft!r}) is only used by method 'draft model': choose "
                                    "that method, or clear the draft model to use prompt lookup.")
        if self.method == "draft model" and not (isinstance(draft, str) and draft):
            raise InvalidInputError("Method 'draft model' needs a draft model: a smaller causal model with the "
                                    f"same tokenizer as the one checked ({NO_DRAFT_SHIPS}).")
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
    method: str = "prompt lookup"
    draft_forwards: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"output": self.output, "tokens": self.tokens, "steps": self.steps, "acceptance": self.acceptance,
                "forwards": self.forwards, "new_tokens": self.new_tokens, "seconds": round(self.seconds, 4),
                "plain_seconds": round(self.plain_seconds, 4), "speedup": round(self.speedup, 3),
                "same_as_greedy": self.same_as_greedy, "method": self.method,
                "draft_forwards": self.draft_forwards}


def load_draft(store: Any, request: SpeculativeRequest, tokenizer: Any) -> Any:
    """The draft model through the shared store, once its tokenizer is known to be the target's: another
    tokenizer's id 1234 is other text, so every guess would be rejected (or, past the target's vocabulary,
    crash its embedding)."""
    name = request.draft_model.strip()
    differences = tokenizer_differences(tokenizer, store.hf_tokenizer(name))
    if differences:
        raise InvalidInputError(f"The draft model {name!r} does not share {request.model.strip()!r}'s tokenizer, "
                                f"so its token ids would mean other text: {'; '.join(differences)}. Choose a "
                                "smaller model of the same family (one tokenizer).")
    return store.causal_lm(name)


def speculative(store: Any, request: SpeculativeRequest) -> SpeculativeResult:
    """Speculative decoding (``request.method``) and plain greedy on the same prompt and model, one after
    the other, compared."""
    name = request.model.strip()
    model, tokenizer = store.causal_lm(name), store.hf_tokenizer(name)
    draft = load_draft(store, request, tokenizer) if request.method == "draft model" else None
    prompt = rendered_ids(tokenizer, request.prompt, None, request.chat, [])[1]
    eos = {int(tokenizer.eos_token_id)} if tokenizer.eos_token_id is not None else set()
    eos |= {int(i) for i in ([model.generation_config.eos_token_id] if isinstance(
        model.generation_config.eos_token_id, int) else model.generation_config.eos_token_id or [])}
    for warmed in (model,) if draft is None else (model, draft):
        plain_greedy(warmed, prompt, 2, eos)  # a first forward's one-off costs would land on the first timed loop
    if draft is None:
        run = prompt_lookup(model, prompt, LookupSettings(max_new_tokens=request.max_new_tokens), eos)
    else:
        run = assisted(model, draft, prompt, request.max_new_tokens, eos)
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
        speedup=plain_seconds / run.seconds if run.seconds else 1.0, same_as_greedy=run.ids == plain,
        method=request.method, draft_forwards=run.draft_forwards)
