"""Two answers to one prompt, generated together and shown blind: the ballot the class votes on.

The two contenders are two models, two settings of one model, or two samples of the same one (then they
share a name and the vote only feeds the preference data, not the leaderboard). Both are decoded as one
batch through the app's engine and streamed in the order the voter will see them, drawn before the first
token so the columns never swap.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from playground.core.errors import InvalidInputError, PlaygroundError
from playground.core.validation import number, whole_number
from playground.generation.engine import Ask, GenerationEngine
from playground.generation.sampling import SamplingSettings
from playground.preferences.votes import Ballot, VoteStore, swapped

MAX_NEW_TOKENS = 512


@dataclass(frozen=True)
class Contender:
    """A system that answers: a model and its sampling temperature."""

    model: str
    temperature: float = 0.7

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise InvalidInputError("Choose a model for each answer.")
        object.__setattr__(self, "model", self.model.strip())
        object.__setattr__(self, "temperature", number("temperature", self.temperature, 0, 2, "0 = greedy"))

    @property
    def label(self) -> str:
        return f"{self.model} · temperature {self.temperature:g}"


@dataclass(frozen=True)
class BallotRequest:
    prompt: str
    first: Contender
    second: Contender
    max_new_tokens: int = 96
    chat: bool = True
    seed: int | None = None
    """None: a fresh seed, so asking again gives other samples."""

    def __post_init__(self) -> None:
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise InvalidInputError("Type a prompt: both answers are to it.")
        object.__setattr__(self, "max_new_tokens", whole_number("max_new_tokens", self.max_new_tokens, 1,
                                                                 MAX_NEW_TOKENS, "how long each answer may be"))


@dataclass(frozen=True)
class BallotState:
    """The two answers as they stream, in the order shown; ``ballot`` once both are done."""

    answers: tuple[str, str]
    ballot: Ballot | None = None

    def to_dict(self) -> dict[str, Any]:
        return self.ballot.to_dict() if self.ballot else {"a": self.answers[0], "b": self.answers[1]}


def make_ballot(engine: GenerationEngine, votes: VoteStore, request: BallotRequest,
                rng: random.Random | None = None) -> Iterator[BallotState]:
    """Both answers decoded together, then a ballot held by ``votes`` until someone votes on it."""
    rng = rng or random.Random()
    seed = request.seed if request.seed is not None else rng.randrange(2**31)
    contenders = [request.first, request.second][::-1] if swapped(rng) else [request.first, request.second]
    asks = [Ask(c.model, request.prompt, SamplingSettings(max_new_tokens=request.max_new_tokens,
                                                          temperature=c.temperature, seed=seed + index),
                chat=request.chat) for index, c in enumerate(contenders)]
    generations = []
    for generations in engine.stream_many(asks):
        yield BallotState((generations[0].text, generations[1].text))
    failed = [g.error for g in generations if g.finish_reason == "error"]
    if failed:
        raise PlaygroundError(f"An answer could not be generated: {failed[0]}")
    if not any(g.text.strip() for g in generations):  # one empty answer is a real one to vote against (Ballot)
        raise PlaygroundError("Both answers came back empty (the model ended its turn at once), so there is "
                              "nothing to compare: generate again, or try another prompt or temperature.")
    a, b = ((c.label, g.text) for c, g in zip(contenders, generations, strict=True))
    yield BallotState((a[1], b[1]), votes.hold(Ballot.shown(request.prompt, a, b)))
