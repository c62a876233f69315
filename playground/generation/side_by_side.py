"""Several prompts (or one prompt on several models) generated together, a token each in turn.

Round-robin in one thread rather than one thread per variant: the columns fill at the same
pace, and each generation times only its own steps, so its latency and tokens per second are
its own even though the variants share the processor.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from playground.core.errors import InvalidInputError, PlaygroundError
from playground.generation.engine import Generation, GenerationEngine
from playground.generation.sampling import SamplingSettings

MAX_VARIANTS = 4


@dataclass(frozen=True)
class Variant:
    prompt: str
    model: str
    system: str = ""


@dataclass
class VariantRun:
    variant: Variant
    generation: Generation | None = None
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.error is not None or (self.generation is not None and self.generation.done)

    def to_dict(self, with_tokens: bool = False) -> dict[str, Any]:
        """``{prompt, output, tokens_in, tokens_out, seconds, ...}`` (the /compare_prompts row)."""
        row: dict[str, Any] = {"prompt": self.variant.prompt, "model": self.variant.model,
                               "system": self.variant.system, "error": self.error}
        if self.generation is not None:
            row.update(self.generation.to_dict(with_tokens=with_tokens))
            row["prompt"] = self.variant.prompt
            row["rendered_prompt"] = self.generation.prompt.text
        else:
            row.update(output="", tokens_in=0, tokens_out=0, seconds=0.0)
        return row


@dataclass
class Comparison:
    runs: list[VariantRun]
    settings: SamplingSettings
    queue_position: int = 0
    chat: bool = True

    @property
    def done(self) -> bool:
        return all(run.done for run in self.runs)

    def to_dict(self) -> dict[str, Any]:
        return {"settings": self.settings.to_dict(), "chat_template": self.chat,
                "variants": [run.to_dict(with_tokens=True) for run in self.runs]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


def compare(engine: GenerationEngine, variants: list[Variant], settings: SamplingSettings | None = None,
            chat: bool = True) -> Iterator[Comparison]:
    """Yield the comparison after each round of tokens; a variant that fails shows its error."""
    if not 1 <= len(variants) <= MAX_VARIANTS:
        raise InvalidInputError(f"Compare 1 to {MAX_VARIANTS} prompts at once (got {len(variants)}).")
    settings = settings or SamplingSettings()
    state = Comparison([VariantRun(v) for v in variants], settings, chat=chat)
    streams = [engine.stream(v.model, v.prompt, settings, system=v.system or None, chat=chat, wait=False)
               for v in variants]

    def waiting(position: int) -> Comparison:
        state.queue_position = position
        return state

    def rounds() -> Iterator[Comparison]:
        state.queue_position = 0
        while not state.done:
            for run, stream in zip(state.runs, streams, strict=True):
                if run.done:
                    continue
                try:
                    run.generation = next(stream)
                except StopIteration:
                    run.error = run.error or "stopped"
                except PlaygroundError as error:
                    run.error = str(error)
            yield state

    try:
        yield from engine.queued([v.model for v in variants], rounds, waiting)
    finally:
        for stream in streams:
            stream.close()
