"""Several prompts (or one prompt on several models) generated together, as one batch submission.

The variants on one model share each forward pass, so the columns fill at the same pace and the
whole comparison costs about what one generation does; each column still times its own tokens.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from playground.core.errors import InvalidInputError
from playground.generation.engine import Ask, Generation, GenerationEngine
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
    """Yield the comparison after each step; a variant that fails shows its error in its column."""
    if not 1 <= len(variants) <= MAX_VARIANTS:
        raise InvalidInputError(f"Compare 1 to {MAX_VARIANTS} prompts at once (got {len(variants)}).")
    settings = settings or SamplingSettings()
    state = Comparison([VariantRun(v) for v in variants], settings, chat=chat)
    asks = [Ask(v.model, v.prompt, settings, system=v.system or None, chat=chat) for v in variants]
    for generations in engine.stream_many(asks):
        for run, generation in zip(state.runs, generations, strict=True):
            if generation.finish_reason == "error":
                run.error = generation.error
            else:
                run.generation = generation
        state.queue_position = max(generation.queue_position for generation in generations)
        yield state
