"""The pre-training lab's actions, one typed function each, shared by the page and the named endpoints.

Runs start through the fine-tuning runner (one runs folder, one job at a time, the same Stop, Resume and status);
the objective views use a BPE learned once per lab on the start of the shipped corpus, so they need no model.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from playground.core.errors import InvalidInputError
from playground.core.keyed_cache import KeyedCache
from playground.core.settings import Settings
from playground.core.validation import whole_number
from playground.finetune.events import RunSummary
from playground.finetune.run_kinds import run_kind
from playground.finetune.runner import JobRunner
from playground.pretrain.config import BPE, PretrainConfig
from playground.pretrain.corpus import clean_text, make_corpus
from playground.pretrain.objectives import RULES
from playground.pretrain.results import run_points, scaling_fit
from playground.pretrain.sizes import ModelSize, count_for
from playground.pretrain.sweep import SweepConfig

VIEW_BPE_CHARS = 300_000
VIEW_VOCAB = 2048
MAX_VIEW_TOKENS = 96
MIN_VIEW_TOKENS = 8
MAX_FIT_RUNS = 64


class PretrainLab:
    """Start runs and sweeps, show the objectives, count parameters, fit scaling laws."""

    def __init__(self, runner: JobRunner, settings: Settings) -> None:
        self.runner = runner
        self.settings = settings
        self._tokenizers: KeyedCache[Any] = KeyedCache(maxsize=2)

    def start(self, config: dict[str, Any]) -> str:
        """A pre-training run from a dict of settings (missing ones take their defaults); returns its run id."""
        parsed = PretrainConfig.from_dict({key: value for key, value in dict(config or {}).items() if key != "kind"})
        if parsed.tokenizer != BPE:
            from playground.models.registry import resolve

            resolve(parsed.tokenizer, self.settings, "tokenizer")  # an unknown name fails here, not in the worker
        return self.runner.start_job(parsed)

    def start_sweep(self, config: dict[str, Any]) -> str:
        """A sweep (sizes x budgets, see :class:`SweepConfig`) as one run; returns its run id."""
        return self.runner.start_job(self.sweep(config))

    def sweep(self, config: dict[str, Any]) -> SweepConfig:
        return SweepConfig.from_dict({key: value for key, value in dict(config or {}).items() if key != "kind"})

    def plan(self, config: dict[str, Any]) -> dict[str, Any]:
        """What a sweep would train, point by point, before it starts."""
        sweep = self.sweep(config)
        points = [point.to_dict() for point in sweep.plan()]
        return {"points": points, "total_steps": sum(p["steps"] for p in points),
                "tokens_per_step": sweep.tokens_per_step}

    def view_tokenizer(self) -> Any:
        """The BPE the objective views tokenize with (learned once, in about a second)."""
        from playground.pretrain.tokenizer import train_bpe

        def learn() -> Any:
            return train_bpe(make_corpus().train[:VIEW_BPE_CHARS], VIEW_VOCAB)

        return self._tokenizers.get_or_load("views", learn)

    @cached_property
    def held_out_passage(self) -> str:
        """The objectives' default text, read once: each read unzips the 5 MB corpus (40 ms), and the page shows
        the objectives on every page load."""
        return make_corpus().held_out[:2000]

    def objectives(self, text: str = "", objective: str = "all", seed: int = 0) -> list[dict[str, Any]]:
        """What each objective (or the one named) turns ``text`` into; empty text: a held-out passage."""
        from playground.pretrain.corpus import encode
        from playground.pretrain.views import objective_view

        if objective != "all" and objective not in RULES:
            raise InvalidInputError(f"Objective must be 'all' or one of {', '.join(RULES)}, got {objective!r}.")
        if not isinstance(text, str):
            raise InvalidInputError(f"text must be a string, got {type(text).__name__}.")
        tokenizer = self.view_tokenizer()
        cleaned = clean_text(text)[0] if text.strip() else self.held_out_passage
        ids = encode(cleaned, tokenizer, MAX_VIEW_TOKENS)
        if len(ids) < MIN_VIEW_TOKENS:
            raise InvalidInputError(f"The text is {len(ids)} tokens; the objectives need at least {MIN_VIEW_TOKENS} "
                                    "to show anything (a sentence or two).")
        chosen = list(RULES) if objective == "all" else [objective]
        seed = whole_number("Seed", seed, 0, 2**31 - 1, "any whole number: another seed masks other tokens")
        return [objective_view(name, ids, tokenizer, seed) for name in chosen]

    def runs(self) -> list[RunSummary]:
        """The pre-training runs and sweeps in the shared runs folder, newest first."""
        return self.runner.runs_where(pretraining=True)

    def is_sweep(self, run_id: str) -> bool:
        return run_kind(self.runner.run_dir(run_id) / "config.json") == "pretrain_sweep"

    def points(self, run_ids: list[str]) -> list[dict[str, Any]]:
        """The finished scaling points of the named runs (a sweep's so far, while it trains)."""
        return [point for run_id in run_ids for point in run_points(run_id, self.runner.run_dir(run_id))]

    @staticmethod
    def size_info(family: str, layers: int, width: int, heads: int, context: int, vocab: int) -> dict[str, Any]:
        """Parameters (total, embedding, non-embedding) and training FLOPs per token for a shape, without weights."""
        counted = count_for(ModelSize(family, layers, width, heads, context, vocab))
        return counted.to_dict()

    def fit(self, run_ids: list[str], budget: float | None = None) -> dict[str, Any]:
        """The scaling law fitted to the named runs (single runs and sweeps) and what it recommends for ``budget``."""
        if not isinstance(run_ids, list | tuple) or not run_ids:
            raise InvalidInputError("Name the runs to fit: a sweep's run id, or at least 5 finished pre-training runs.")
        if len(run_ids) > MAX_FIT_RUNS:
            raise InvalidInputError(f"At most {MAX_FIT_RUNS} runs in one fit.")
        return scaling_fit(self.points(list(run_ids)), budget)
