"""Preference pairs for DPO: a prompt, the answer to prefer (chosen) and the one to avoid (rejected).

Read from any source :mod:`sources` reads, with the same line-and-column messages as SFT data, and
handed to TRL's ``DPOTrainer`` in its conversational form (the chat template is applied there). Cells
are text, or chat turns as Hub preference sets store them: chosen and rejected as whole conversations
that share everything but the last answer (no prompt column needed), or as the answer turn alone beside
a prompt (text or turns).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from playground.core.errors import InvalidInputError
from playground.core.records import Record
from playground.finetune.config import FinetuneConfig
from playground.finetune.data import _lines, refuse_empty, refuse_too_few, require
from playground.finetune.sources import load_records
from playground.finetune.turns import Turns, looks_like_turns, parse_turns


@dataclass(frozen=True)
class Triple:
    line: int
    prompt: str
    chosen: str
    rejected: str
    turns: Turns = ()
    """The conversation before the answer; empty for a single user turn ``prompt``."""

    def chat(self) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in self.turns] or \
            [{"role": "user", "content": self.prompt}]

    def conversational(self) -> dict[str, list[dict[str, str]]]:
        """TRL's conversational preference row."""
        return {"prompt": self.chat(),
                "chosen": [{"role": "assistant", "content": self.chosen}],
                "rejected": [{"role": "assistant", "content": self.rejected}]}


def load_triples(config: FinetuneConfig) -> list[Triple]:
    """Every row as a preference triple; a missing column, an empty cell, a bad turn, conversations that differ
    before their answers, or chosen == rejected names its line."""
    records, name = load_records(config.dataset, config.config_name, config.split)
    columns = (config.prompt_column, config.chosen_column, config.rejected_column)
    conversations = bool(records) and looks_like_turns(records[0].values.get(config.chosen_column, ""))
    require(records, name, columns[1:] if conversations else columns, "prompt, chosen and rejected")
    triples, empty, same = [], {column: [] for column in columns}, []
    for record in records:
        triple = _triple(record, config, name, empty)
        if triple is None:
            continue
        if triple.chosen == triple.rejected:
            same.append(record.line)
        triples.append(triple)
    refuse_empty(empty, name, "prompt, chosen or rejected")
    if same:
        raise InvalidInputError(f"{name}: line(s) {_lines(same)}: columns '{config.chosen_column}' and "
                                f"'{config.rejected_column}' are the same answer, so there is nothing to prefer.")
    refuse_too_few(len(triples), config, name)
    return triples


def _answer(record: Record, column: str, name: str) -> tuple[Turns, str] | None:
    """(turns before the answer, the answer) of a chosen or rejected cell; None for an empty one."""
    value = record.values.get(column, "").strip()
    if not value:
        return None
    if not looks_like_turns(value):
        return (), value
    where = f"{name}, line {record.line}, column '{column}'"
    turns = parse_turns(value, where)
    if turns[-1][0] != "assistant":
        raise InvalidInputError(f"{where}: the last turn must be the assistant's answer.")
    return turns[:-1], turns[-1][1]


def _triple(record: Record, config: FinetuneConfig, name: str, empty: dict[str, list[int]]) -> Triple | None:
    chosen = _answer(record, config.chosen_column, name)
    rejected = _answer(record, config.rejected_column, name)
    for column, answer in ((config.chosen_column, chosen), (config.rejected_column, rejected)):
        if answer is None:
            empty[column].append(record.line)
    if chosen is None or rejected is None:
        return None
    if chosen[0] != rejected[0]:
        raise InvalidInputError(f"{name}, line {record.line}: the '{config.chosen_column}' and "
                                f"'{config.rejected_column}' conversations differ before their last answer; "
                                "a preference pair shares everything but the answer.")
    prompt = record.values.get(config.prompt_column, "").strip()
    where = f"{name}, line {record.line}, column '{config.prompt_column}'"
    before = parse_turns(prompt, where) if looks_like_turns(prompt) else ((("user", prompt),) if prompt else ())
    turns = before + chosen[0]
    users = [content for role, content in turns if role == "user"]
    if not users:
        empty[config.prompt_column].append(record.line)
        return None
    return Triple(record.line, users[-1], chosen[1], rejected[1], turns if len(turns) > 1 else ())


def split_triples(config: FinetuneConfig) -> tuple[list[Triple], list[Triple]]:
    """Train and held-out pairs, shuffled by the run's seed (the evaluation reads the same held-out ones)."""
    triples = load_triples(config)
    random.Random(config.seed).shuffle(triples)
    return triples[config.eval_size:], triples[:config.eval_size]


def as_dataset(triples: list[Triple]) -> Any:
    """A ``datasets.Dataset`` in TRL's conversational preference format."""
    from datasets import Dataset

    return Dataset.from_list([triple.conversational() for triple in triples])
