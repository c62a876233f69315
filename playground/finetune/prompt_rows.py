"""GRPO's data: prompts the model answers itself, each with the answer an ``exact_match`` reward compares to.

Read from any source :mod:`sources` reads (``prompt_column``; the answer from ``response_column``), with
the same line-and-column messages as SFT data, and handed to TRL's ``GRPOTrainer`` as conversational
prompts; the answer rides along as a column TRL passes to the rewards.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from playground.core.errors import InvalidInputError
from playground.finetune.config import FinetuneConfig
from playground.finetune.data import refuse_empty, refuse_too_few, require
from playground.finetune.sources import load_records


@dataclass(frozen=True)
class PromptRow:
    line: int
    prompt: str
    answer: str = ""

    def conversational(self) -> dict[str, Any]:
        return {"prompt": [{"role": "user", "content": self.prompt}], "answer": self.answer}


def needs_answers(config: FinetuneConfig) -> bool:
    return any(spec.get("kind") == "exact_match" for spec in config.rewards)


def load_prompt_rows(config: FinetuneConfig) -> list[PromptRow]:
    """Every row's prompt (and answer, required when a reward compares to it); missing columns and empty
    cells name their line and column."""
    records, name = load_records(config.dataset, config.config_name, config.split)
    answers = needs_answers(config)
    columns = (config.prompt_column, config.response_column) if answers else (config.prompt_column,)
    require(records, name, columns, "prompt and answer" if answers else "prompt")
    rows, empty = [], {column: [] for column in columns}
    for record in records:
        values = [record.values.get(column, "").strip() for column in columns]
        for column, value in zip(columns, values, strict=True):
            if not value:
                empty[column].append(record.line)
        rows.append(PromptRow(record.line, values[0], values[1] if answers else
                              record.values.get(config.response_column, "").strip()))
    refuse_empty(empty, name, "prompt or answer (an exact_match reward compares to it)" if answers else "prompt")
    refuse_too_few(len(rows), config, name)
    return rows


def split_prompt_rows(config: FinetuneConfig) -> tuple[list[PromptRow], list[PromptRow]]:
    """Train and held-out prompts, shuffled by the run's seed."""
    rows = load_prompt_rows(config)
    random.Random(config.seed).shuffle(rows)
    return rows[config.eval_size:], rows[:config.eval_size]


def as_dataset(rows: list[PromptRow]) -> Any:
    from datasets import Dataset

    if not rows:
        raise InvalidInputError("No prompts to train on.")
    return Dataset.from_list([row.conversational() for row in rows])
