"""Reading small tables users upload (JSONL or CSV) with errors that name the line.

Shared by prompt evaluation sets and fine-tuning datasets: a malformed file must say which
line is wrong and why, never raise a parser's traceback.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground.core.errors import InvalidInputError

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_RECORDS = 5000


@dataclass(frozen=True)
class Record:
    """One row, with the line it came from (1-based) for messages."""

    line: int
    values: dict[str, str]


def check_file_size(path: Path, name: str, max_bytes: int) -> None:
    """A file that can be opened and is within ``max_bytes``, or the project's error naming it."""
    try:
        size = path.stat().st_size
    except OSError as error:
        raise InvalidInputError(f"Could not open {name}: {error.strerror}.") from error
    if size > max_bytes:
        raise InvalidInputError(f"{name} is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB.")


def read_text_file(path: str | Path, max_bytes: int, expected: str = "text") -> str:
    """A user's file as text: size-checked, not binary, UTF-8 (a BOM is fine), or a clear error."""
    path = Path(path)
    name = path.name
    check_file_size(path, name, max_bytes)
    try:
        raw = path.read_bytes()
    except OSError as error:  # a folder, or a file that vanished or is unreadable after stat
        raise InvalidInputError(f"Could not read {name}: {error.strerror}.") from error
    if b"\x00" in raw[:8192]:
        raise InvalidInputError(f"{name} looks like a binary file, not {expected}.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInputError(f"{name} is not UTF-8 text (byte {error.start}): save it as UTF-8.") from error


def read_records(path: str | Path, max_records: int = MAX_RECORDS) -> list[Record]:
    """Rows of a ``.jsonl``/``.json`` or ``.csv``/``.tsv`` file as strings, by column name."""
    path = Path(path)
    name = path.name
    text = read_text_file(path, MAX_FILE_BYTES, "JSONL or CSV text")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        records = _jsonl(text, name)
    elif suffix in (".csv", ".tsv"):
        records = _csv(text, name, "\t" if suffix == ".tsv" else ",")
    else:
        raise InvalidInputError(f"{name}: use a .jsonl or .csv file (got '{suffix or 'no extension'}').")
    if not records:
        raise InvalidInputError(f"{name} has no rows.")
    if len(records) > max_records:
        raise InvalidInputError(f"{name} has {len(records):,} rows; the limit is {max_records:,}.")
    return records


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)


# JSONL lines end at \n (or \r\n, \r). Not str.splitlines(): it also breaks at \x85, \u2028 and \u2029,
# which JSON allows raw inside strings (json.dumps(..., ensure_ascii=False) writes them so).
LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _json_error(error: ValueError | RecursionError) -> str:
    """The reason a JSON text failed: a syntax error, or one Python refuses to build (nesting too deep,
    an integer past its digit limit), which ``json`` raises as plain ValueError/RecursionError."""
    if isinstance(error, json.JSONDecodeError):
        return error.msg
    return "nested too deeply" if isinstance(error, RecursionError) else str(error).split(":")[0]


def _jsonl(text: str, name: str) -> list[Record]:
    stripped = text.strip()
    if stripped.startswith("["):  # a JSON array is a common near miss: accept it
        try:
            rows = json.loads(stripped)
        except json.JSONDecodeError as error:
            raise InvalidInputError(f"{name}: invalid JSON at line {error.lineno}: {error.msg}.") from error
        except (ValueError, RecursionError) as error:
            raise InvalidInputError(f"{name}: invalid JSON ({_json_error(error)}).") from error
        return [_record(row, index + 1, name) for index, row in enumerate(rows)]
    records = []
    for number, line in enumerate(LINE_BREAK.split(text), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as error:
            raise InvalidInputError(f"{name}, line {number}: not valid JSON ({_json_error(error)}).") from error
        records.append(_record(row, number, name))
    return records


def _record(row: Any, line: int, name: str) -> Record:
    if not isinstance(row, dict):
        raise InvalidInputError(f"{name}, line {line}: expected a JSON object with named fields, "
                                f"got {type(row).__name__}.")
    return Record(line, {str(key): _as_text(value) for key, value in row.items()})


def _csv(text: str, name: str, delimiter: str) -> list[Record]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return []
    except csv.Error as error:
        raise InvalidInputError(f"{name}, line 1: {error}.") from error
    columns = [column.strip() for column in header]
    if len(set(columns)) != len(columns) or not all(columns):
        raise InvalidInputError(f"{name}, line 1: the header needs distinct, non-empty column names.")
    records = []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(columns):
                raise InvalidInputError(f"{name}, line {reader.line_num}: {len(row)} fields, but the "
                                        f"header has {len(columns)}.")
            records.append(Record(reader.line_num, dict(zip(columns, row, strict=True))))
    except csv.Error as error:
        raise InvalidInputError(f"{name}, line {reader.line_num}: {error}.") from error
    return records


def require_columns(records: list[Record], columns: dict[str, tuple[str, ...]], name: str) -> list[dict[str, str]]:
    """Map each wanted column to the first alias present; every row must have it non-empty.

    ``columns`` is ``{"input": ("input", "question", "text"), ...}``.
    """
    present = set().union(*(record.values for record in records))
    chosen = {}
    for wanted, aliases in columns.items():
        found = next((alias for alias in aliases if alias in present), None)
        if found is None:
            raise InvalidInputError(f"{name} has no '{wanted}' column (also accepted: "
                                    f"{', '.join(aliases[1:]) or 'none'}). Columns found: "
                                    f"{', '.join(sorted(present)) or 'none'}.")
        chosen[wanted] = found
    rows = []
    for record in records:
        row = {wanted: record.values.get(found, "").strip() for wanted, found in chosen.items()}
        empty = [wanted for wanted, value in row.items() if not value]
        if empty:
            raise InvalidInputError(f"{name}, line {record.line}: '{empty[0]}' is empty.")
        rows.append(row)
    return rows
