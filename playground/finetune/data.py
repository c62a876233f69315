"""SFT data: (prompt, response) columns or a column of chat turns, from any source :mod:`sources` reads;
validated before any job starts, then handed to TRL's ``SFTTrainer`` as conversational
prompt/completion rows, which it tokenizes with the model's chat template.

Only the response tokens are trained on (TRL's ``completion_only_loss`` masks the prompt's labels):
the model learns to answer, not to repeat questions.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground.core.errors import InvalidInputError
from playground.core.records import Record
from playground.finetune.config import FinetuneConfig
from playground.finetune.sources import SHIPPED, load_records, shipped_datasets
from playground.finetune.turns import parse_turns

IGNORE = -100
MAX_ERRORS_LISTED = 5


@dataclass(frozen=True)
class Pair:
    """One SFT example: the prompt turns (``turns``; a single user turn ``prompt`` when empty) and the answer."""

    line: int
    prompt: str
    response: str
    turns: tuple[tuple[str, str], ...] = ()

    def chat(self) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in self.turns] or \
            [{"role": "user", "content": self.prompt}]


def _records(config: FinetuneConfig) -> tuple[list[Record], str]:
    return load_records(config.dataset, config.config_name, config.split)


def names_server_file(dataset: str) -> bool:
    """Whether ``dataset`` points into the server's own files rather than at a shipped set or a Hub id."""
    if dataset in shipped_datasets():
        return False
    try:
        return dataset.startswith((".", "/", "~", "\\")) or Path(dataset).expanduser().exists()
    except (OSError, ValueError):  # a name the OS refuses (NUL, too long) is not a file here either
        return False


def require(records: list[Record], name: str, columns: tuple[str, ...], what: str) -> None:
    """Every mapped column exists; the message lists the file's own columns to map to."""
    present = set().union(*(record.values for record in records))
    for column in columns:
        if column not in present:
            raise InvalidInputError(f"{name} has no '{column}' column; it has: {', '.join(sorted(present))}. "
                                    f"Map the {what} columns to the file's own names.")


def refuse_empty(empty: dict[str, list[int]], name: str, what: str) -> None:
    """``{column: [lines]}`` of empty cells, named by line and column, or nothing."""
    if any(empty.values()):
        where = "; ".join(f"line(s) {_lines(lines)} (column '{column}')" for column, lines in empty.items() if lines)
        raise InvalidInputError(f"{name}: empty {what} on {where}.")


def refuse_too_few(count: int, config: FinetuneConfig, name: str) -> None:
    if count < config.eval_size + 1:
        raise InvalidInputError(f"{name} has {count} rows: at least {config.eval_size + 1} are needed "
                                f"({config.eval_size} are held out for evaluation).")


def load_pairs(config: FinetuneConfig) -> list[Pair]:
    """Every row as a (prompt, response) pair; missing columns and empty cells name their line and column."""
    records, name = _records(config)
    if config.messages_column:
        pairs = [chat_pair(record, config.messages_column, name) for record in records]
    else:
        require(records, name, (config.prompt_column, config.response_column), "prompt and response")
        pairs, empty = [], {config.prompt_column: [], config.response_column: []}
        for record in records:
            prompt = record.values.get(config.prompt_column, "").strip()
            response = record.values.get(config.response_column, "").strip()
            for column, value in ((config.prompt_column, prompt), (config.response_column, response)):
                if not value:
                    empty[column].append(record.line)
            pairs.append(Pair(record.line, prompt, response))
        refuse_empty(empty, name, "prompt or response")
    refuse_too_few(len(pairs), config, name)
    return pairs


def chat_pair(record: Record, column: str, name: str) -> Pair:
    """A ``messages`` cell (a JSON list of {role, content}) as a pair: the last assistant turn is the answer."""
    where = f"{name}, line {record.line}, column '{column}'"
    if column not in record.values:
        raise InvalidInputError(f"{where}: missing; the row has: {', '.join(sorted(record.values))}.")
    parsed = parse_turns(record.values[column], where)
    if parsed[-1][0] != "assistant" or not any(role == "user" for role, _ in parsed[:-1]):
        raise InvalidInputError(f"{where}: the last turn must be the assistant's answer, after a user turn.")
    prompt = next(content for role, content in reversed(parsed[:-1]) if role == "user")
    return Pair(record.line, prompt, parsed[-1][1], tuple(parsed[:-1]))


def _lines(lines: list[int]) -> str:
    shown = ", ".join(str(line) for line in lines[:MAX_ERRORS_LISTED])
    return shown + (f" and {len(lines) - MAX_ERRORS_LISTED} more" if len(lines) > MAX_ERRORS_LISTED else "")


def prompt_text(pair: Pair, tokenizer: Any) -> str:
    """The chat-formatted prompt the model reads before its answer."""
    return tokenizer.apply_chat_template(pair.chat(), add_generation_prompt=True, tokenize=False)


def completion(pair: Pair) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": pair.response}]


def conversation(pair: Pair) -> dict[str, list[dict[str, str]]]:
    """``pair`` as TRL's conversational prompt/completion row."""
    return {"prompt": pair.chat(), "completion": completion(pair)}


def encode(pair: Pair, tokenizer: Any, max_length: int) -> dict[str, list[int]]:
    """Chat-formatted ids with the prompt masked out of the labels, as ``SFTTrainer`` builds them for
    :func:`conversation` (the completion starts where the prompt's ids and the whole's part, then the
    row is cut at ``max_length``).

    Training leaves this to TRL; it is here for the measures taken later, outside any trainer, on the
    rows a run held out (perplexity, KL to the teacher). A test holds the two equal.
    """
    from trl.data_utils import common_prefix_length

    full_text = tokenizer.apply_chat_template(pair.chat() + completion(pair), tokenize=False)
    prompt_ids = tokenizer(prompt_text(pair, tokenizer), add_special_tokens=False)["input_ids"]
    full_ids = tokenizer(full_text, add_special_tokens=False)["input_ids"]
    start = common_prefix_length(prompt_ids, full_ids)
    labels = [IGNORE] * start + full_ids[start:]
    return {"input_ids": full_ids[:max_length], "labels": labels[:max_length]}


def _refuse_unanswered(lines: list[int], config: FinetuneConfig) -> None:
    if lines:
        raise InvalidInputError(f"Line(s) {_lines(lines)}: the prompt alone fills max_seq_length "
                                f"({config.max_seq_length} tokens), leaving no answer to learn. Raise "
                                "max_seq_length or shorten those prompts.")


def most_tokens(text: str) -> int:
    """An upper bound on any tokenizer's count for ``text``: byte-level BPE makes at most one token per
    UTF-8 byte, SentencePiece (with byte fallback) one more for the word-start marker it adds."""
    return len(text.encode("utf-8")) + 1


def validate(config: FinetuneConfig, tokenizer: Any) -> list[Pair]:
    """Every pair, or the line-numbered refusal of a row with nothing to learn, for a fraction of a
    full tokenization: the web process checks a dataset before any worker starts, and the worker's
    trainer tokenizes it in full anyway. ``SFTTrainer`` would drop such rows without a word."""
    pairs = load_pairs(config)
    refuse_full_prompts(pairs, config, tokenizer)
    return pairs


def refuse_full_prompts(pairs: list[Pair], config: FinetuneConfig, tokenizer: Any) -> None:
    """"The prompt alone fills max_seq_length", naming the lines where it does.

    Only prompts that could fill it (by :func:`most_tokens`) are tokenized, only the prompt, in
    one batch: a prompt's ids are a prefix of its example's, so they fill it exactly when the
    example's labels would all be masked.
    """
    suspects = [(pair, text) for pair in pairs
                if most_tokens(text := prompt_text(pair, tokenizer)) >= config.max_seq_length]
    if suspects:
        counts = tokenizer([text for _, text in suspects], add_special_tokens=False)["input_ids"]
        _refuse_unanswered([pair.line for (pair, _), ids in zip(suspects, counts, strict=True)
                            if len(ids) >= config.max_seq_length], config)


def split(config: FinetuneConfig, tokenizer: Any) -> tuple[list[Pair], list[Pair]]:
    """Validated pairs, shuffled by the run's seed: (train, held out). The held-out ``eval_size`` rows
    are the eval loss's during training and the perplexity's after it."""
    pairs = validate(config, tokenizer)
    random.Random(config.seed).shuffle(pairs)
    return pairs[config.eval_size:], pairs[:config.eval_size]


def prepare(config: FinetuneConfig, tokenizer: Any) -> tuple[Any, Any]:
    """The train and eval sets as ``datasets.Dataset`` of :func:`conversation` rows, for ``SFTTrainer``."""
    from datasets import Dataset

    return tuple(Dataset.from_list([conversation(pair) for pair in part]) for part in split(config, tokenizer))


def held_out_examples(config: FinetuneConfig, tokenizer: Any) -> list[dict[str, list[int]]]:
    """The rows a run held out, tokenized and masked as it evaluated them."""
    return [encode(pair, tokenizer, config.max_seq_length) for pair in split(config, tokenizer)[1]]


def default_probes(dataset: str) -> tuple[str, ...]:
    """A shipped dataset's probe prompts (``<name>_probes.json``), shown at every evaluation."""
    path = SHIPPED / f"{dataset}_probes.json"
    return tuple(json.loads(path.read_text(encoding="utf-8"))) if path.exists() else ()


def with_default_probes(config: FinetuneConfig) -> FinetuneConfig:
    """``config`` with its dataset's shipped probe prompts when it names none (the page and the shell alike);
    a reward model generates nothing, so it has none."""
    if config.training_method.scorer:
        return config.with_changes(probe_prompts=())
    return config if config.probe_prompts else config.with_changes(probe_prompts=default_probes(config.dataset))
