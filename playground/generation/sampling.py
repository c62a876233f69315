"""Sampling settings and the per-token view of a next-token distribution.

The logits are processed by transformers' own processors, in the order ``generate`` applies
them (repetition penalty, then temperature, top-k, top-p; top-p's result computed without sorting
the vocabulary, see :mod:`playground.generation.nucleus`), so the playground's greedy output
is token for token what ``model.generate`` gives with the same settings.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from playground.core.errors import InvalidInputError
from playground.core.validation import number, whole_number

MAX_NEW_TOKENS_LIMIT = 2048
"""Most new tokens one request may ask for: about a minute of decoding for the 135M model on CPU."""

DEFAULT_REPETITION_PENALTY = 1.2
"""On by default: SmolLM2-135M loops under plain greedy decoding ("I'm sorry. I'm sorry...")."""

MAX_STOP_STRINGS = 8
MAX_SEED = 2**63 - 1

WHOLE_NUMBERS = (  # (field, lowest, highest, hint); sliders and JSON send 128.0, which counts as 128
    ("max_new_tokens", 1, MAX_NEW_TOKENS_LIMIT, "ask for fewer new tokens"),
    ("top_k", 0, 1_000_000, "0 turns top-k off"),
    ("seed", 0, MAX_SEED, "any whole number from 0"),
    ("alternatives", 0, 20, "how many runner-up tokens to keep"),
)
NUMBERS = (  # (field, lowest, highest, hint, whether the lowest itself is refused)
    ("temperature", 0.0, 5.0, "use 0 for greedy decoding, about 0.7 for varied text", False),
    ("top_p", 0.0, 1.0, "1.0 turns top-p off", True),
    ("repetition_penalty", 0.0, 10.0, "1.0 turns it off; 1.1 to 1.3 stops small models looping", True),
)


@dataclass(frozen=True)
class SamplingSettings:
    """How the next token is chosen. ``temperature == 0`` means greedy (argmax), reproducibly."""

    max_new_tokens: int = 128
    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    repetition_penalty: float = DEFAULT_REPETITION_PENALTY
    seed: int = 0
    stop: tuple[str, ...] = field(default_factory=tuple)
    alternatives: int = 5
    penalize_prompt: bool = False
    """False: the penalty counts only generated tokens. transformers' ``generate`` also counts the
    prompt's, which punishes the very answer a few-shot prompt shows ("positive" in its examples)."""

    def __post_init__(self) -> None:
        for name, low, high, hint in WHOLE_NUMBERS:
            object.__setattr__(self, name, whole_number(name, getattr(self, name), low, high, hint))
        for name, low, high, hint, low_open in NUMBERS:
            object.__setattr__(self, name, number(name, getattr(self, name), low, high, hint, low_open=low_open))
        if isinstance(self.stop, str) or not all(isinstance(s, str) for s in self.stop):
            raise InvalidInputError("stop must be a list of strings.")
        if len(self.stop) > MAX_STOP_STRINGS or any(len(s) > 200 for s in self.stop):
            raise InvalidInputError(f"At most {MAX_STOP_STRINGS} stop strings of up to 200 characters.")
        object.__setattr__(self, "stop", tuple(s for s in self.stop if s))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "stop": list(self.stop)}


def logits_processors(settings: SamplingSettings, prompt_length: int) -> Any:
    """transformers' processors for these settings, in ``generate``'s order, for rows whose first
    ``prompt_length`` ids are the prompt (which the repetition penalty skips unless told otherwise)."""
    return processors_skipping(settings, None if settings.penalize_prompt else prompt_length)


def processors_skipping(settings: SamplingSettings, skip: int | torch.Tensor | None) -> Any:
    """transformers' processors for these settings, the penalty blind to the first ``skip`` ids of each
    row (one count per row as a tensor: rows of a batch have prompts of their own lengths)."""
    from transformers.generation.logits_process import (
        LogitsProcessorList,
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
    )

    from playground.generation.nucleus import NucleusWarper

    processors = LogitsProcessorList()
    if settings.repetition_penalty != 1.0:
        processors.append(RepetitionPenaltyLogitsProcessor(float(settings.repetition_penalty),
                                                           prompt_ignore_length=skip))
    if not settings.greedy:
        if settings.temperature != 1.0:
            processors.append(TemperatureLogitsWarper(float(settings.temperature)))
        if settings.top_k:
            processors.append(TopKLogitsWarper(top_k=settings.top_k))
        if settings.top_p < 1.0:
            processors.append(NucleusWarper(top_p=float(settings.top_p)))  # TopPLogitsWarper's result, faster
    return processors


@dataclass(frozen=True)
class Alternative:
    """A token the model also considered, with its probability."""

    id: int
    text: str
    prob: float


@dataclass(frozen=True)
class TokenChoice:
    """One generated token as a learner wants to see it.

    ``prob`` and ``entropy`` describe the model's own distribution (softmax of the raw
    logits); ``sampled_prob`` is the chance it had under the settings actually used.
    ``raw_rank`` is its place among the raw logits and ``rank`` its place under the processed scores
    (1 = the top). Temperature, top-k and top-p keep the order of what they keep, so only the repetition
    penalty makes the two differ: :attr:`penalty_moved` marks a token the penalty picked differently.
    """

    id: int
    text: str
    piece: str
    prob: float
    sampled_prob: float
    entropy_bits: float
    alternatives: tuple[Alternative, ...]
    special: bool = False
    raw_rank: int | None = None
    rank: int | None = None
    """None where they are unknown (an endpoint sends its own probabilities)."""

    @property
    def penalty_moved(self) -> bool:
        return self.raw_rank is not None and self.rank is not None and self.raw_rank != self.rank

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "alternatives": [asdict(a) for a in self.alternatives],
                "penalty_moved": self.penalty_moved}


View = tuple[float, float, list[tuple[int, float]], int]
"""(probability of the chosen token, entropy in bits, top-k (id, probability), the chosen token's rank)
of raw logits."""


def distribution_views(logits: torch.Tensor, tokens: list[int], ks: list[int]) -> list[View]:
    """The view of every row of ``[rows, vocab]`` raw logits at once: four vocabulary-wide operations
    for the whole batch instead of four per row (they dominate a step's Python side)."""
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    probs = log_probs.exp()
    entropies = (-(probs * log_probs).nan_to_num().sum(dim=-1) / math.log(2)).clamp(min=0.0).tolist()
    k_max = max(ks, default=0)
    top = torch.topk(probs, k_max) if k_max else None
    chosen_logits = logits.gather(1, torch.tensor(tokens, device=logits.device)[:, None])
    ranks = ((logits > chosen_logits).sum(dim=-1) + 1).tolist()
    chosen = probs.gather(1, torch.tensor(tokens, device=probs.device)[:, None])[:, 0].tolist()
    views: list[View] = []
    for row, k in enumerate(ks):
        alternatives = (list(zip(top.indices[row, :k].tolist(), top.values[row, :k].tolist(), strict=True))
                        if top is not None and k else [])
        views.append((chosen[row], entropies[row], alternatives, ranks[row]))
    return views


def penalty_moves(tokens: list[TokenChoice]) -> int:
    """How many tokens the repetition penalty picked differently from the raw logits' order."""
    return sum(token.penalty_moved for token in tokens)
