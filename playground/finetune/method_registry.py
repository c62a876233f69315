"""Training methods, registered once each (as peft registers its tuners): what a method is, in one place.

Each entry says what the method saves, how it loads its base, what data it reads, how it is estimated and
where its Trainer is built; the worker, the runner, the estimate, the evaluation and the page read these
fields instead of testing the method's name. No torch here: the config and the page import it, and the
builder is named by module path and imported only in the worker.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from playground.core.errors import InvalidInputError


@dataclass(frozen=True)
class TrainingMethod:
    name: str
    summary: str
    builder: str
    """``module:function`` building the method's Trainer (``build(config, run_dir, device, callback_of)``)."""
    saves: Literal["adapter", "model"]
    """A LoRA adapter over the base model, or whole weights."""
    trains: Literal["all", "adapter", "student"]
    """Which parameters learn: every weight, a LoRA adapter, or a half-depth student's every weight."""
    data: Literal["pairs", "preferences", "prompts"] = "pairs"
    """(prompt, response) pairs, (prompt, chosen, rejected) preferences, or prompts (with an optional answer)
    that the model answers itself and the rewards score (GRPO)."""
    base_in_4bit: bool = False
    """The base loads as 4-bit NF4 weights (QLoRA)."""
    time_factor: float = 1.0
    """A step's cost against LoRA's, rough, from `bench finetune` (docs/benchmarks.md): per row (both answers
    included) for pairs; per sampled answer for GRPO (0.9 and 1.35 from the reward and GRPO rows of 2026-12-06,
    reward_full scaled from reward as full SFT is from LoRA)."""
    state_words: str = "LoRA weights + gradients + Adam state"
    """What the training state is, as the estimate says it."""
    answers_per_row: int = 1
    """How many answers a row's forward reads (DPO: chosen and rejected)."""
    teacher: bool = False
    """It learns from a teacher model's distributions (the base, when no teacher is named)."""
    scorer: bool = False
    """The result is a reward model (a scalar head that scores answers), not a model that generates: no
    probes, no chat, no merge into a generator; /reward_score reads it."""

    @property
    def lora_settings(self) -> bool:
        """The LoRA settings (rank, alpha, dropout, adapted layers) apply: the page shows them only then."""
        return self.trains == "adapter"

    def load(self) -> Callable[..., Any]:
        module, _, function = self.builder.partition(":")
        return getattr(importlib.import_module(module), function)


REGISTRY: dict[str, TrainingMethod] = {}


def register(method: TrainingMethod) -> TrainingMethod:
    if method.name in REGISTRY:
        raise ValueError(f"The training method {method.name!r} is registered twice.")
    REGISTRY[method.name] = method
    return method


def training_method(name: str) -> TrainingMethod:
    """The registered method, or a message listing the known ones (a hand-edited config, say)."""
    found = REGISTRY.get(name)
    if found is None:
        raise InvalidInputError(f"Unknown method {name!r}: choose one of {', '.join(REGISTRY)}.")
    return found


SFT = "playground.finetune.methods.sft:build_sft"
register(TrainingMethod("full", "every weight trains", SFT, saves="model", trains="all", time_factor=1.3,
                        state_words="gradients + Adam state"))
register(TrainingMethod("lora", "a low-rank adapter on a 16/32-bit base", SFT, saves="adapter", trains="adapter"))
register(TrainingMethod("qlora", "a low-rank adapter on a 4-bit NF4 base", SFT, saves="adapter", trains="adapter",
                        base_in_4bit=True, time_factor=1.7))
register(TrainingMethod("dpo", "a LoRA policy learns preference pairs against itself with the adapter off",
                        "playground.finetune.methods.dpo:build_dpo", saves="adapter", trains="adapter",
                        data="preferences", time_factor=4.5, answers_per_row=2,
                        state_words="LoRA policy weights + gradients + Adam state"))
register(TrainingMethod("distill", "a half-depth student learns the teacher's token distributions",
                        "playground.finetune.methods.distill:build_distill", saves="model", trains="student",
                        time_factor=1.4, teacher=True, state_words="student weights, gradients + Adam state"))
register(TrainingMethod("reward", "a LoRA adapter and a scalar head learn to score chosen above rejected",
                        "playground.finetune.methods.reward:build_reward", saves="adapter", trains="adapter",
                        data="preferences", time_factor=0.9, answers_per_row=2, scorer=True,
                        state_words="LoRA weights + score head + gradients + Adam state"))
register(TrainingMethod("reward_full", "every weight and a scalar head learn to score chosen above rejected",
                        "playground.finetune.methods.reward:build_reward", saves="model", trains="all",
                        data="preferences", time_factor=1.2, answers_per_row=2, scorer=True,
                        state_words="gradients + Adam state"))
register(TrainingMethod("grpo", "a LoRA policy samples groups of answers and learns from their rewards",
                        "playground.finetune.methods.grpo:build_grpo", saves="adapter", trains="adapter",
                        data="prompts", time_factor=1.35,
                        state_words="LoRA policy weights + gradients + Adam state"))
