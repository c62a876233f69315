"""Where a fine-tuning set's rows come from: a shipped file, an uploaded or local file, or a Hub dataset.

JSONL, JSON and CSV files keep the project's own reader, whose errors name the line; Parquet and
Arrow files, and Hub datasets (any format ``datasets`` reads, with a config and a split), go
through ``datasets``, their rows numbered from 1 so every later message can still name a row.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from playground.core.errors import InvalidInputError, first_line
from playground.core.hub import hub_unreachable
from playground.core.paths import ASSETS
from playground.core.records import MAX_RECORDS, Record, _as_text, read_records

SHIPPED = ASSETS / "finetune"
LINE_FILES = (".jsonl", ".json", ".ndjson", ".csv", ".tsv")
"""Read by :func:`read_records`: a malformed line is named by its number."""
DATASETS_FILES = {".parquet": "parquet", ".arrow": "arrow"}
"""Read by ``datasets``: binary formats with no lines, so rows are numbered instead."""
MAX_HUB_ROWS = 20_000


def shipped_datasets() -> list[str]:
    return sorted(path.stem for path in SHIPPED.glob("*.jsonl"))


def local_path(dataset: str) -> Path | None:
    """``dataset`` as an existing local file, or None."""
    try:
        path = Path(dataset).expanduser()
    except (RuntimeError, ValueError):  # "~name" of no user, or "~" with a NUL: not a local file then
        return None
    try:
        return path if path.is_file() else None
    except OSError:  # a name the OS refuses (too long): not a file here either
        return None


def load_records(dataset: str, config_name: str = "", split: str = "train") -> tuple[list[Record], str]:
    """Rows of ``dataset`` as text by column name (lists and dicts as JSON text), and a name for messages."""
    if dataset in shipped_datasets():
        return read_records(SHIPPED / f"{dataset}.jsonl"), f"{dataset}.jsonl"
    path = local_path(dataset)
    if path is not None:
        suffix = path.suffix.lower()
        if suffix in DATASETS_FILES:
            return _from_datasets(path.name, lambda d: d.load_dataset(
                DATASETS_FILES[suffix], data_files=str(path), split="train", keep_in_memory=True), MAX_RECORDS)
        if suffix in LINE_FILES:
            return read_records(path), path.name
        raise InvalidInputError(f"{path.name}: use a .jsonl, .json, .csv, .parquet or .arrow file "
                                f"(got '{suffix or 'no extension'}').")
    if "/" in dataset and not dataset.startswith((".", "/", "~")):
        return hub_records(dataset, config_name, split)
    raise InvalidInputError(f"Dataset '{dataset}' is not a shipped one ({', '.join(shipped_datasets())}), not a "
                            "file, and not a Hub dataset id (owner/name).")


def hub_records(repo_id: str, config_name: str = "", split: str = "train") -> tuple[list[Record], str]:
    """A Hub dataset's split through ``datasets`` (parquet, JSON, CSV, Arrow alike); offline, a clear error."""
    label = f"{repo_id} ({config_name + ', ' if config_name else ''}split {split or 'train'})"
    offline = os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1"
    hub_down = None if offline else hub_unreachable()
    if hub_down:  # datasets would retry for 23 s first; it reads only its cache when started offline
        raise InvalidInputError(f"Could not load the Hub dataset {label}: the Hub could not be reached "
                                f"({hub_down}). Upload the data as a file instead (a dataset already in this "
                                "machine's cache loads when the app runs with HF_HUB_OFFLINE=1).")

    def load(datasets: Any) -> Any:
        try:
            return datasets.load_dataset(repo_id, config_name or None, split=split or "train")
        except Exception as error:  # noqa: BLE001 - offline, unknown repo, config or split, auth: one message
            reason = ("no network here (HF_HUB_OFFLINE=1) and it is not in the local cache" if offline
                      else first_line(error, 240))
            raise InvalidInputError(f"Could not load the Hub dataset {label}: {reason}. Check the id, the "
                                    "config and the split (e.g. 'train' or 'train[:1000]'), or upload a file "
                                    "instead.") from error

    return _from_datasets(label, load, MAX_HUB_ROWS)


def _from_datasets(name: str, load: Any, limit: int) -> tuple[list[Record], str]:
    import datasets

    datasets.disable_progress_bars()
    try:
        table = load(datasets)
    except InvalidInputError:
        raise
    except Exception as error:  # noqa: BLE001 - a corrupt or mislabelled file: say so, no traceback
        raise InvalidInputError(f"{name}: could not read it ({first_line(error, 200)}).") from error
    if len(table) == 0:
        raise InvalidInputError(f"{name} has no rows.")
    if len(table) > limit:
        raise InvalidInputError(f"{name} has {len(table):,} rows; the limit is {limit:,}: choose a slice such as "
                                f"split 'train[:{min(limit, 2000)}]'.")
    return [Record(index + 1, {str(key): _as_text(value) for key, value in row.items()})
            for index, row in enumerate(table)], name
