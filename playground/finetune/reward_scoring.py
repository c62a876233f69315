"""Scoring answers with a finished reward run (``/reward_score`` and the page's panel): which answer would the
reward model prefer? Loaded reward models are kept a few at a time, one per run folder, by an object the
Workspace holds (every user shares it; nothing lives in module state).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground.core.errors import InvalidInputError
from playground.core.keyed_cache import KeyedCache
from playground.finetune.config import FinetuneConfig
from playground.finetune.runner import JobRunner

KEPT_MODELS = 2
"""Reward models kept loaded: a class usually scores with one or two runs at a time."""


@dataclass(frozen=True)
class Scored:
    """The answers in the order given, each with its score, and the index of the highest."""

    run_id: str
    prompt: str
    answers: tuple[str, ...]
    scores: tuple[float, ...]

    @property
    def best(self) -> int:
        return max(range(len(self.scores)), key=self.scores.__getitem__)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "prompt": self.prompt, "best": self.best,
                "scores": [{"answer": answer, "score": score} for answer, score in zip(self.answers, self.scores,
                                                                                       strict=True)]}


class RewardScorers:
    """Reward models loaded once per run folder (and saved model: a resumed run that saves again reloads),
    the least recently used dropped beyond ``maxsize``; concurrent callers of one run wait for one load."""

    def __init__(self, maxsize: int = KEPT_MODELS) -> None:
        self._models: KeyedCache[Any] = KeyedCache(maxsize=maxsize)

    def model(self, run_dir: Path) -> Any:
        from playground.finetune.reward_model import load_reward_model

        return self._models.get_or_load((str(run_dir), saved_stamp(run_dir)), lambda: load_reward_model(run_dir))

    def __len__(self) -> int:
        return len(self._models)


def saved_stamp(run_dir: Path) -> tuple[int, ...]:
    """When the run's reward model was last saved (adapter or whole weights), as file modification times."""
    saved = (run_dir / "adapter" / "adapter_config.json", run_dir / "model" / "config.json")
    return tuple(path.stat().st_mtime_ns for path in saved if path.is_file())


def reward_run(runner: JobRunner, run_id: str) -> Path:
    """The run's folder, or a message when it is not a reward model's run (checked before anything loads)."""
    if not isinstance(run_id, str) or not run_id.strip():
        raise InvalidInputError("Choose a reward model's run first (a run trained with the method 'reward').")
    folder = runner.run_dir(run_id.strip())
    config = FinetuneConfig.load(folder / "config.json")
    if not config.training_method.scorer:
        raise InvalidInputError(f"Run {folder.name} trained with {config.method}, not a reward model: it writes "
                                "answers and scores none. Choose a run trained with the method 'reward'.")
    return folder


def score_answers(runner: JobRunner, run_id: str, prompt: str, answers: Sequence[str] | str,
                  scorers: RewardScorers | None = None) -> Scored:
    """Each answer to ``prompt`` scored by the run's reward model (a list, or one answer per line).

    Only differences between scores mean anything: the model learnt r(chosen) - r(rejected).
    """
    from playground.finetune.reward_model import check_answers

    folder = reward_run(runner, run_id)
    checked = check_answers(prompt, answers)
    model = (scorers if scorers is not None else RewardScorers(maxsize=1)).model(folder)
    scores = model.score([prompt] * len(checked), checked)
    return Scored(folder.name, prompt, tuple(checked), tuple(scores))
