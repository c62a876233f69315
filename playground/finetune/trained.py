"""A finished (or stopped) run's model, used from the page: beside its base on one prompt, or merged.

Many users share one run: its model loads once and merges once (``AdapterModels``), and the fine-tuned
column waits in its base model's line like any generation (``side_by_side``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground.core.errors import InvalidInputError
from playground.finetune.adapters import AdapterModels, side_by_side
from playground.finetune.config import FinetuneConfig
from playground.finetune.run_kinds import FINETUNE, run_kind
from playground.finetune.runner import JobRunner
from playground.generation.engine import GenerationEngine
from playground.generation.request import Generation
from playground.generation.sampling import SamplingSettings

TRY_TOKENS = 64
"""New tokens per column when the page tries both models: enough to hear the tuned style, quick on CPU."""


def tuned_runs(runner: JobRunner) -> list[str]:
    """Fine-tuning runs that saved a model or an adapter, newest first: what "base against fine-tuned" can
    compare (a pre-training run's model has no base; it loads as a local model instead)."""
    ids = []
    for run in runner.runs():
        folder = runner.run_dir(run.run_id)
        try:
            fine_tuning = run_kind(folder / "config.json") == FINETUNE
        except InvalidInputError:
            continue  # an unreadable config: the runs table says so
        if fine_tuning and ((folder / "adapter" / "adapter_config.json").is_file()
                            or (folder / "model" / "config.json").is_file()):
            ids.append(run.run_id)
    return ids


def chosen_run(run_id: str | None) -> str:
    """The run asked for, or the message a page shows when none is chosen yet."""
    if not run_id:
        raise InvalidInputError("Choose a run first.")
    return run_id


def adapter_of(runner: JobRunner, run_id: str | None) -> tuple[FinetuneConfig, Path]:
    """The run's config and where its adapter is (or would be) saved; a reward model's run is refused (it
    scores answers, writes none)."""
    folder = runner.run_dir(chosen_run(run_id))
    config = FinetuneConfig.load(folder / "config.json")
    if config.training_method.scorer:
        raise InvalidInputError(f"Run {run_id} trained a reward model: it scores answers and writes none. Score "
                                "answers with it below (/reward_score), or use it as a GRPO reward.")
    return config, folder / "adapter"


def tuned_model(runner: JobRunner, engine: GenerationEngine, adapters: AdapterModels,
                run_id: str | None) -> tuple[FinetuneConfig, Any]:
    """The run's trained model: base + adapter (LoRA, QLoRA, DPO), or its whole saved weights (full, distill)."""
    config, adapter = adapter_of(runner, run_id)
    if config.training_method.saves == "adapter":
        return config, adapters.model(config.base_model, adapter)
    whole = adapter.parent / "model"
    if not (whole / "config.json").is_file():
        raise InvalidInputError(f"Run {run_id} has no saved model yet: it is saved when the run finishes or is "
                                "stopped.")
    return config, engine.load(str(whole))[0]


@dataclass(frozen=True)
class TryRequest:
    """One prompt for the base model and the run's fine-tuned model."""

    run_id: str
    prompt: str
    max_new_tokens: int = TRY_TOKENS

    def __post_init__(self) -> None:
        chosen_run(self.run_id)
        if not isinstance(self.prompt, str):
            raise InvalidInputError(f"The prompt must be text, got {self.prompt!r}.")
        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 1:
            raise InvalidInputError(f"max_new_tokens must be a whole number from 1, got {self.max_new_tokens!r}.")


def try_both(runner: JobRunner, engine: GenerationEngine, adapters: AdapterModels,
             request: TryRequest) -> Iterator[tuple[Generation, Generation]]:
    """The base model's and the fine-tuned model's answers as they grow (the tuned one labelled by the run id);
    the pair waits in the base model's line like any generation."""
    config, tuned = tuned_model(runner, engine, adapters, request.run_id)
    settings = SamplingSettings(max_new_tokens=request.max_new_tokens)
    yield from side_by_side(engine, tuned, config.base_model, request.prompt, settings, label=request.run_id)


def merge_run(runner: JobRunner, adapters: AdapterModels, run_id: str | None) -> str:
    """Merge once per saved adapter, into ``merged/`` beside it (published whole, one merge at a time); a
    run that trained whole weights says there is nothing to merge and where its model is."""
    config, _ = adapter_of(runner, run_id)
    adapter = runner.adapter(str(run_id))
    destination = adapters.merge(config.base_model, adapter, adapter.parent / "merged")
    return (f"Merged weights saved in `{destination}`: load them like any model (the Prompt lab takes the "
            "folder as a model name).")
