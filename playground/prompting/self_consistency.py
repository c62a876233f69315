"""Self-consistency: N sampled reasoning paths of one prompt, decoded together, then the majority answer.

The Prompt lab page and its ``/generate`` endpoint stream it from here, and the evaluation builds its paths
with the same rule (:func:`path_settings`), so a learner sees the very paths and vote the scores count.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from playground.generation.engine import Ask, GenerationEngine
from playground.generation.request import Generation, raise_if_failed
from playground.generation.sampling import SamplingSettings
from playground.prompting.answers import Vote, vote
from playground.prompting.techniques import RenderedPrompt, Task, Technique


def path_settings(settings: SamplingSettings, technique: Technique, path: int) -> SamplingSettings:
    """Path ``path``'s settings: the temperature asked for, or the technique's own when that is 0 (greedy
    paths would all be the same path), and seed ``settings.seed + path`` so each path draws its own."""
    return replace(settings, temperature=settings.temperature or technique.temperature, seed=settings.seed + path)


@dataclass(frozen=True)
class PathsState:
    """The paths so far; ``vote`` is set once every path has finished."""

    settings: list[SamplingSettings]
    generations: list[Generation]
    vote: Vote | None = None

    @property
    def temperature(self) -> float:
        return self.settings[0].temperature if self.settings else 0.0

    def to_dict(self) -> dict:
        return {"answer": self.vote.answer if self.vote else None,
                "answers": list(self.vote.answers) if self.vote else [],
                "temperature": self.temperature,
                "paths": [{"seed": s.seed, **g.to_dict()} for s, g in zip(self.settings, self.generations,
                                                                          strict=True)]}


def self_consistency(engine: GenerationEngine, model: str, rendered: RenderedPrompt, settings: SamplingSettings,
                     technique: Technique, task: Task, chat: bool) -> Iterator[PathsState]:
    """Stream ``technique.samples`` paths decoded as one batch; the last state carries the vote."""
    paths = [path_settings(settings, technique, path) for path in range(technique.samples)]
    asks = [Ask(model, rendered.prompt, path, system=rendered.system or None, chat=chat) for path in paths]
    generations: list[Generation] = []
    for generations in engine.stream_many(asks):
        if not all(g.done for g in generations):
            yield PathsState(paths, list(generations))
    raise_if_failed(generations)
    yield PathsState(paths, list(generations), vote((g.text for g in generations), task, technique))
