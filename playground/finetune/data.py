"""Fine-tuning data: shipped, uploaded (JSONL/CSV with a column mapping) or a Hub dataset file;
validated before any job starts, then tokenized with the model's chat template.

Only the response tokens are trained on (the prompt's labels are masked): the model learns to
answer, not to repeat questions.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground.core.errors import InvalidInputError, first_line
from playground.core.paths import ASSETS
from playground.core.records import Record, read_records
from playground.finetune.config import FinetuneConfig

SHIPPED = ASSETS / "finetune"
IGNORE = -100
MAX_ERRORS_LISTED = 5


@dataclass(frozen=True)
class Pair:
    line: int
    prompt: str
    response: str


def shipped_datasets() -> list[str]:
    return sorted(path.stem for path in SHIPPED.glob("*.jsonl"))


def _records(dataset: str) -> tuple[list[Record], str]:
    """Rows from a shipped name, a local file, or (with a network) a Hub dataset's first JSONL/CSV."""
    if dataset in shipped_datasets():
        return read_records(SHIPPED / f"{dataset}.jsonl"), f"{dataset}.jsonl"
    try:
        path = Path(dataset).expanduser()
    except (RuntimeError, ValueError):  # "~name" of no user, or "~" with a NUL: not a local file then
        path = Path(dataset)
    if path.is_file():
        return read_records(path), path.name
    if "/" in dataset and not dataset.startswith((".", "/", "~")):
        return read_records(_hub_file(dataset)), dataset
    raise InvalidInputError(f"Dataset '{dataset}' is not a shipped one ({', '.join(shipped_datasets())}), not a "
                            "file, and not a Hub dataset id (owner/name).")


def names_server_file(dataset: str) -> bool:
    """Whether ``dataset`` points into the server's own files rather than at a shipped set or a Hub id."""
    if dataset in shipped_datasets():
        return False
    try:
        return dataset.startswith((".", "/", "~", "\\")) or Path(dataset).expanduser().exists()
    except (OSError, ValueError):  # a name the OS refuses (NUL, too long) is not a file here either
        return False


def _hub_file(repo_id: str) -> Path:
    try:
        from huggingface_hub import hf_hub_download, list_repo_files

        files = [f for f in list_repo_files(repo_id, repo_type="dataset") if f.endswith((".jsonl", ".csv"))]
        if not files:
            raise InvalidInputError(f"The Hub dataset {repo_id} has no .jsonl or .csv file to train on.")
        return Path(hf_hub_download(repo_id, files[0], repo_type="dataset"))
    except InvalidInputError:
        raise
    except Exception as error:  # noqa: BLE001 - offline, unknown repo, auth: all one message
        raise InvalidInputError(f"Could not fetch the Hub dataset {repo_id} (no network here, or no such "
                                f"dataset): {first_line(error, 200)}") from error


def load_pairs(config: FinetuneConfig) -> list[Pair]:
    """Every row as a (prompt, response) pair; missing columns and empty cells name their line."""
    records, name = _records(config.dataset)
    columns = set().union(*(record.values for record in records))
    for column in (config.prompt_column, config.response_column):
        if column not in columns:
            raise InvalidInputError(f"{name} has no '{column}' column; it has: {', '.join(sorted(columns))}. "
                                    "Map the prompt and response columns to the file's own names.")
    pairs, empty = [], []
    for record in records:
        prompt = record.values.get(config.prompt_column, "").strip()
        response = record.values.get(config.response_column, "").strip()
        if not prompt or not response:
            empty.append(record.line)
        pairs.append(Pair(record.line, prompt, response))
    if empty:
        raise InvalidInputError(f"{name}: empty prompt or response on line(s) {_lines(empty)}.")
    if len(pairs) < config.eval_size + 1:
        raise InvalidInputError(f"{name} has {len(pairs)} rows: at least {config.eval_size + 1} are needed "
                                f"({config.eval_size} are held out for evaluation).")
    return pairs


def _lines(lines: list[int]) -> str:
    shown = ", ".join(str(line) for line in lines[:MAX_ERRORS_LISTED])
    return shown + (f" and {len(lines) - MAX_ERRORS_LISTED} more" if len(lines) > MAX_ERRORS_LISTED else "")


def prompt_text(pair: Pair, tokenizer: Any) -> str:
    """The chat-formatted prompt the model reads before its answer."""
    return tokenizer.apply_chat_template([{"role": "user", "content": pair.prompt}], add_generation_prompt=True,
                                         tokenize=False)


def encode(pair: Pair, tokenizer: Any, max_length: int) -> dict[str, list[int]]:
    """Chat-formatted ids with the prompt masked out of the labels."""
    user = [{"role": "user", "content": pair.prompt}]
    full_text = tokenizer.apply_chat_template(user + [{"role": "assistant", "content": pair.response}],
                                              tokenize=False)
    prompt_ids = tokenizer(prompt_text(pair, tokenizer), add_special_tokens=False)["input_ids"]
    full_ids = tokenizer(full_text, add_special_tokens=False)["input_ids"]
    ids = full_ids[:max_length]
    labels = [IGNORE] * min(len(prompt_ids), len(ids)) + ids[len(prompt_ids):]
    return {"input_ids": ids, "labels": labels[:len(ids)]}


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
    """What :func:`prepare` refuses, with the same line-numbered messages, for a fraction of its work.

    The web process checks a dataset before any worker starts, and the worker tokenizes it in
    full anyway: the check need not do it too.
    """
    pairs = load_pairs(config)
    refuse_full_prompts(pairs, config, tokenizer)
    return pairs


def refuse_full_prompts(pairs: list[Pair], config: FinetuneConfig, tokenizer: Any) -> None:
    """:func:`prepare`'s "the prompt alone fills max_seq_length", naming the same lines.

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


def prepare(config: FinetuneConfig, tokenizer: Any) -> tuple[list[dict], list[dict], list[str]]:
    """Validated, tokenized train and eval examples, plus notes (rows shortened) for the page."""
    pairs = load_pairs(config)
    encoded = [(pair, encode(pair, tokenizer, config.max_seq_length)) for pair in pairs]
    _refuse_unanswered([pair.line for pair, example in encoded
                        if all(label == IGNORE for label in example["labels"])], config)
    notes = []
    cut = sum(len(example["input_ids"]) == config.max_seq_length for _, example in encoded)
    if cut:
        notes.append(f"{cut} row(s) were cut at max_seq_length ({config.max_seq_length} tokens).")
    examples = [example for _, example in encoded]
    random.Random(config.seed).shuffle(examples)
    return examples[config.eval_size:], examples[:config.eval_size], notes


def default_probes(dataset: str) -> tuple[str, ...]:
    """A shipped dataset's probe prompts (``<name>_probes.json``), shown at every evaluation."""
    import json

    path = SHIPPED / f"{dataset}_probes.json"
    return tuple(json.loads(path.read_text(encoding="utf-8"))) if path.exists() else ()


def with_default_probes(config: FinetuneConfig) -> FinetuneConfig:
    """``config`` with its dataset's shipped probe prompts when it names none (the page and the shell alike)."""
    return config if config.probe_prompts else config.with_changes(probe_prompts=default_probes(config.dataset))
