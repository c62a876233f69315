"""A scaling sweep: several model sizes, each trained at several compute budgets, one after another in one run.

Budgets are in training FLOPs (``C = 6 N D``, N the non-embedding parameters): each size trains for the
tokens its budget buys, so the runs of one budget form an IsoFLOP group (Hoffmann et al.'s approach 2) and the
frontier is the best size of each budget. The sweep is one run folder (``kind: pretrain_sweep``): its step
events count steps over all its points, and a ``point`` event {index, layers, width, heads, params, tokens,
flops, budget, eval_loss} ends each point, which is all :func:`playground.pretrain.results` needs to fit a law.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from playground.core.errors import InvalidInputError
from playground.core.validation import number, settings_object, whole_number
from playground.finetune.config import RUN_NAME
from playground.pretrain.config import MAX_VOCAB, MIN_VOCAB, read_json
from playground.pretrain.loop import TrainSettings
from playground.pretrain.sizes import FAMILIES, ModelSize, count_for

KIND = "pretrain_sweep"
DEFAULT_SIZES: tuple[dict[str, int], ...] = (
    {"layers": 2, "width": 32, "heads": 2}, {"layers": 2, "width": 48, "heads": 2},
    {"layers": 2, "width": 64, "heads": 2}, {"layers": 3, "width": 80, "heads": 2})
DEFAULT_BUDGETS: tuple[float, ...] = (1e11, 3e11, 1e12)
"""4 sizes x 3 budgets: about 32,000 steps of 512 tokens in all, under 10 minutes on a 2-core CPU (``bench
pretrain --sweep``). The budgets are the smallest at which the optimum moves: at 1e10-1e11 the smallest size
won every budget (the bigger ones saw too few tokens) and the fit had nothing to find; at 1e12 the second size
wins, so the frontier bends as Chinchilla's does."""
MIN_STEPS, MAX_TOTAL_STEPS = 5, 50_000
MAX_POINTS = 36


@dataclass(frozen=True)
class SweepPoint:
    """One run of the sweep: a size, the budget it spends, and the steps that budget buys."""

    index: int
    size: ModelSize
    budget: float
    params: int
    steps: int
    tokens: int

    @property
    def flops(self) -> float:
        return 6.0 * self.params * self.tokens

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "layers": self.size.layers, "width": self.size.width, "heads": self.size.heads,
                "budget": self.budget, "params": self.params, "steps": self.steps, "tokens": self.tokens,
                "flops": self.flops}


@dataclass(frozen=True)
class SweepConfig:
    """Sizes x budgets on the shipped corpus, one tokenizer and one context for all; checked on creation."""

    kind: str = KIND
    family: str = "decoder"
    sizes: tuple[dict[str, int], ...] = DEFAULT_SIZES
    budgets: tuple[float, ...] = DEFAULT_BUDGETS
    context: int = 64
    batch_size: int = 8
    vocab_size: int = 2048
    learning_rate: float = 3e-3
    eval_sequences: int = 16
    seed: int = 0
    run_name: str = ""

    def __post_init__(self) -> None:
        if self.kind != KIND:
            raise InvalidInputError(f"A sweep config has kind '{KIND}', got {self.kind!r}.")
        if self.family not in FAMILIES:
            raise InvalidInputError(f"Model family must be one of {', '.join(FAMILIES)}, got {self.family!r}.")
        object.__setattr__(self, "sizes", tuple(self._size_dict(i, s) for i, s in enumerate(self._listed("sizes"))))
        object.__setattr__(self, "budgets", tuple(number(f"budgets[{i}]", b, 0.0, 1e18, "training FLOPs, e.g. 3e10",
                                                         low_open=True) for i, b in enumerate(self._listed("budgets"))))
        if len(self.sizes) * len(self.budgets) > MAX_POINTS:
            raise InvalidInputError(f"{len(self.sizes)} sizes x {len(self.budgets)} budgets is "
                                    f"{len(self.sizes) * len(self.budgets)} runs; at most {MAX_POINTS}.")
        whole_number("vocab_size", self.vocab_size, MIN_VOCAB, MAX_VOCAB, "the BPE learned on the corpus")
        TrainSettings(batch_size=self.batch_size, learning_rate=self.learning_rate, eval_sequences=self.eval_sequences,
                      seed=self.seed)
        if self.run_name and not (isinstance(self.run_name, str) and RUN_NAME.fullmatch(self.run_name)):
            raise InvalidInputError("run_name may use letters, digits, '-', '_' and '.', up to 64 characters.")
        total = sum(point.steps for point in self.plan())
        if total > MAX_TOTAL_STEPS:
            raise InvalidInputError(f"This sweep needs {total:,} steps in all; at most {MAX_TOTAL_STEPS:,}: "
                                    "lower the budgets or drop the smallest size.")

    def _listed(self, name: str) -> tuple[Any, ...]:
        value = getattr(self, name)
        if not isinstance(value, list | tuple) or not value:
            raise InvalidInputError(f"{name} must be a non-empty list, got {value!r}.")
        return tuple(value)

    def _size_dict(self, index: int, size: Any) -> dict[str, int]:
        if not isinstance(size, dict) or set(size) - {"layers", "width", "heads"}:
            raise InvalidInputError(f"sizes[{index}] must be an object with layers, width and heads, got {size!r}.")
        try:
            shape = ModelSize(self.family, context=self.context, vocab=self.vocab_size, **size)
        except InvalidInputError as error:
            raise InvalidInputError(f"sizes[{index}]: {error}") from error
        return {"layers": shape.layers, "width": shape.width, "heads": shape.heads}

    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.context

    @property
    def max_steps(self) -> int:
        return sum(point.steps for point in self.plan())

    def plan(self) -> list[SweepPoint]:
        """Every (size, budget) with the steps its budget buys, smallest budget first, at least MIN_STEPS each."""
        points = []
        for budget in sorted(self.budgets):
            for size in self.sizes:
                shape = ModelSize(self.family, context=self.context, vocab=self.vocab_size, **size)
                params = count_for(shape).non_embedding
                steps = max(round(budget / (6.0 * params * self.tokens_per_step)), MIN_STEPS)
                points.append(SweepPoint(len(points), shape, budget, params, steps, steps * self.tokens_per_step))
        return points

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "sizes": [dict(s) for s in self.sizes], "budgets": list(self.budgets)}

    @classmethod
    def from_dict(cls, data: Any) -> SweepConfig:
        return cls(**settings_object(cls, data))

    @classmethod
    def load(cls, path: str | Path) -> SweepConfig:
        return cls.from_dict(read_json(Path(path)))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")

    def with_changes(self, **changes: Any) -> SweepConfig:
        return replace(self, **changes)
