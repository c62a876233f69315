"""Preference pairs for DPO: a prompt, the answer to prefer (chosen) and the one to avoid (rejected).

Read from any source :mod:`sources` reads, with the same line-and-column messages as SFT data, and
handed to TRL's ``DPOTrainer`` in its conversational form (the chat template is applied there).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from playground.core.errors import InvalidInputError
from playground.finetune.config import FinetuneConfig
from playground.finetune.data import _lines, refuse_empty, refuse_too_few, require
from playground.finetune.sources import load_records


@dataclass(frozen=True)
class Triple:
    line: int
    prompt: str
    chosen: str
    rejected: str

    def conversational(self) -> dict[str, list[dict[str, str]]]:
        """TRL's conversational preference row."""
        return {"prompt": [{"role": "user", "content": self.prompt}],
                "chosen": [{"role": "assistant", "content": self.chosen}],
                "rejected": [{"role": "assistant", "content": self.rejected}]}


def load_triples(config: FinetuneConfig) -> list[Triple]:
    """Every row as a preference triple; a missing column, an empty cell or chosen == rejected names its line."""
    records, name = load_records(config.dataset, config.config_name, config.split)
    columns = (config.prompt_column, config.chosen_column, config.rejected_column)
    require(records, name, columns, "prompt, chosen and rejected")
    triples, empty, same = [], {column: [] for column in columns}, []
    for record in records:
        values = [record.values.get(column, "").strip() for column in columns]
        for column, value in zip(columns, values, strict=True):
            if not value:
                empty[column].append(record.line)
        if values[1] and values[1] == values[2]:
            same.append(record.line)
        triples.append(Triple(record.line, *values))
    refuse_empty(empty, name, "prompt, chosen or rejected")
    if same:
        raise InvalidInputError(f"{name}: line(s) {_lines(same)}: columns '{config.chosen_column}' and "
                                f"'{config.rejected_column}' are the same answer, so there is nothing to prefer.")
    refuse_too_few(len(triples), config, name)
    return triples


def split_triples(config: FinetuneConfig) -> tuple[list[Triple], list[Triple]]:
    """Train and held-out pairs, shuffled by the run's seed (the evaluation reads the same held-out ones)."""
    triples = load_triples(config)
    random.Random(config.seed).shuffle(triples)
    return triples[config.eval_size:], triples[:config.eval_size]


def as_dataset(triples: list[Triple]) -> Any:
    """A ``datasets.Dataset`` in TRL's conversational preference format."""
    from datasets import Dataset

    return Dataset.from_list([triple.conversational() for triple in triples])
