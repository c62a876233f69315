"""Steering: a concept as a direction in the residual stream, pushed while the model generates.

The direction is the mean, over contrastive pairs ("I love this" / "I hate this"), of the difference of
the residual stream after block ``layer`` at each text's last token (activation addition, Turner et al.
2023; contrastive activation addition, Rimsky et al. 2024). Generating, ``coefficient`` times it is added
after that block at every position. The same prompt runs twice in the model's shared batch (the app's own
generation, beside other users' requests: :mod:`playground.generation.steer`), one row steered and one not,
greedy with the app's repetition penalty, so the difference between the two is the push alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from playground.core.errors import InvalidInputError
from playground.generation.engine import Ask, GenerationEngine
from playground.generation.request import raise_if_failed
from playground.generation.sampling import SamplingSettings
from playground.generation.steer import Steer
from playground.internals.layout import check_index
from playground.text.analysis import sanitize_text

if TYPE_CHECKING:
    from playground.internals.inspector import ModelInspector

SHIPPED_PAIRS: dict[str, tuple[tuple[str, str], ...]] = {
    "positive vs negative": (
        ("I love this, it is wonderful and makes me so happy.", "I hate this, it is awful and makes me so sad."),
        ("What a fantastic day, everything went great.", "What a terrible day, everything went wrong."),
        ("The film was brilliant, moving and delightful.", "The film was dreadful, dull and annoying."),
        ("I feel excited, grateful and full of hope.", "I feel miserable, bitter and full of dread."),
    ),
    "formal vs casual": (
        ("I would be delighted to assist you with this matter.", "yeah sure, I can help with that lol"),
        ("Please find the attached document for your review.", "here's the file, check it out"),
        ("We regret to inform you that the meeting has been postponed.", "heads up, the meeting's pushed back"),
        ("Kindly confirm your attendance at your earliest convenience.", "lmk if you're coming"),
    ),
}
MAX_PAIRS = 64
MAX_NEW_TOKENS = 256
REPETITION_PENALTY = 1.2
"""The app's default: the 135M model's greedy output loops without one."""


@dataclass(frozen=True)
class SteerRequest:
    """A prompt, the layer and strength of the push, and the pairs that define it (a shipped set's name or
    [positive, negative] texts)."""

    prompt: str
    model: str
    layer: int
    coefficient: float
    pairs: str | Sequence[Sequence[str]] = "positive vs negative"
    max_new_tokens: int = 40
    chat: bool = True

    def __post_init__(self) -> None:
        if not (self.prompt or "").strip():
            raise InvalidInputError("Type a prompt: the model answers it twice, steered and not.")
        object.__setattr__(self, "pairs", contrastive_pairs(self.pairs))
        if isinstance(self.coefficient, bool) or not isinstance(self.coefficient, int | float) \
                or not -100 <= self.coefficient <= 100:
            raise InvalidInputError(f"The coefficient is a number from -100 to 100 (got {self.coefficient!r}).")
        tokens = self.max_new_tokens
        if isinstance(tokens, bool) or not isinstance(tokens, int | float) or not float(tokens).is_integer() \
                or not 1 <= tokens <= MAX_NEW_TOKENS:
            raise InvalidInputError(f"max_new_tokens is a whole number from 1 to {MAX_NEW_TOKENS} (got {tokens!r}).")
        object.__setattr__(self, "max_new_tokens", int(tokens))


def contrastive_pairs(pairs: str | Sequence[Sequence[str]]) -> tuple[tuple[str, str], ...]:
    """A shipped set by name, or the given [positive, negative] pairs, checked."""
    if isinstance(pairs, str):
        if pairs not in SHIPPED_PAIRS:
            raise InvalidInputError(f"No pair set named {pairs!r}: the shipped ones are "
                                    f"{', '.join(SHIPPED_PAIRS)}, or give [positive, negative] pairs.")
        return SHIPPED_PAIRS[pairs]
    checked = []
    for pair in pairs or ():
        if isinstance(pair, str) or len(pair) != 2 or not all(isinstance(t, str) and t.strip() for t in pair):
            raise InvalidInputError(f"Each pair is [positive text, negative text], both non-empty (got {pair!r}).")
        checked.append((sanitize_text(pair[0])[0], sanitize_text(pair[1])[0]))
    if not checked or len(checked) > MAX_PAIRS:
        raise InvalidInputError(f"Give 1 to {MAX_PAIRS} contrastive pairs (got {len(checked)}).")
    return tuple(checked)


@dataclass(frozen=True)
class Steering:
    """The two answers as they stream, and the direction's layer and length."""

    steered: str
    unsteered: str
    norm: float
    layer: int
    coefficient: float
    done: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"steered": self.steered, "unsteered": self.unsteered, "norm": self.norm, "layer": self.layer,
                "coefficient": self.coefficient}


def direction(inspector: ModelInspector, model: str, layer: int,
              pairs: Sequence[tuple[str, str]]) -> torch.Tensor:
    """The mean over pairs of positive minus negative residual stream after block ``layer``, last token;
    remembered per model, layer and pairs (a class pushing the same direction re-traces nothing)."""
    def compute() -> torch.Tensor:
        differences = [inspector.trace(positive, model).residual[layer + 1, -1].double()
                       - inspector.trace(negative, model).residual[layer + 1, -1].double()
                       for positive, negative in pairs]
        return torch.stack(differences).mean(0)

    return inspector.derived(("steering direction", model, layer, tuple(pairs)), compute)


def steer(inspector: ModelInspector, engine: GenerationEngine, request: SteerRequest) -> Iterator[Steering]:
    """Both answers, streamed a token at a time: the prompt twice in the model's shared batch (the app's
    generation, with other users' requests), the first row pushed by ``coefficient`` x direction."""
    model = request.model.strip()
    view = inspector.view(model)
    layer = check_index("layer", request.layer, view.parts.num_layers, model)
    push = direction(inspector, model, layer, request.pairs)
    settings = SamplingSettings(max_new_tokens=request.max_new_tokens, repetition_penalty=REPETITION_PENALTY)
    vector = (push * request.coefficient).float()
    asks = [Ask(model, request.prompt, settings, chat=request.chat, steer=Steer(layer, vector)),
            Ask(model, request.prompt, settings, chat=request.chat)]
    norm, coefficient = float(push.norm()), float(request.coefficient)
    generations = None
    for generations in engine.stream_many(asks):
        raise_if_failed(generations)
        steered, unsteered = generations
        yield Steering(steered.text, unsteered.text, norm, layer, coefficient)
    assert generations is not None  # a stream always yields at least once
    yield Steering(generations[0].text, generations[1].text, norm, layer, coefficient, done=True)
