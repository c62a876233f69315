"""Uploaded tables: good files parse, malformed ones say which line and why."""

from __future__ import annotations

import pytest

from playground.core.errors import InvalidInputError
from playground.core.records import read_records, require_columns

COLUMNS = {"input": ("input", "question"), "expected": ("expected", "answer")}


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def test_jsonl_and_csv_with_aliases(tmp_path):
    jsonl = write(tmp_path, "set.jsonl", '{"question": "2+2", "answer": 4}\n\n{"question": "1+1", "answer": 2}\n')
    rows = require_columns(read_records(jsonl), COLUMNS, "set.jsonl")
    assert rows == [{"input": "2+2", "expected": "4"}, {"input": "1+1", "expected": "2"}]
    csv_file = write(tmp_path, "set.csv", 'input,expected\n"Hello, world",greeting\n')
    assert require_columns(read_records(csv_file), COLUMNS, "set.csv") == [
        {"input": "Hello, world", "expected": "greeting"}]


@pytest.mark.parametrize(("name", "content", "message"), [
    ("bad.jsonl", '{"input": "a", "expected": "b"}\n{"input": "c", \n', "line 2: not valid JSON"),
    ("list.jsonl", '["a", "b"]\n', "expected a JSON object"),
    ("bad.csv", "input,expected\na,b\nc,d,e\n", "line 3: 3 fields"),
    ("empty.jsonl", "\n\n", "has no rows"),
    ("blob.jsonl", b"\x00\x01\x02binary", "binary"),
    ("latin.csv", "input,expected\ncaf\xe9,x\n".encode("latin-1"), "not UTF-8"),
    ("notes.txt", "hello", "use a .jsonl or .csv"),
])
def test_malformed_files(tmp_path, name, content, message):
    with pytest.raises(InvalidInputError, match=message):
        read_records(write(tmp_path, name, content))


def test_missing_column_and_empty_value(tmp_path):
    records = read_records(write(tmp_path, "x.jsonl", '{"input": "a"}\n'))
    with pytest.raises(InvalidInputError, match="no 'expected' column.*Columns found: input"):
        require_columns(records, COLUMNS, "x.jsonl")
    lines = '{"input": "a", "expected": "b"}\n{"input": " ", "expected": "c"}\n'
    records = read_records(write(tmp_path, "y.jsonl", lines))
    with pytest.raises(InvalidInputError, match="line 2: 'input' is empty"):
        require_columns(records, COLUMNS, "y.jsonl")


def test_too_many_rows(tmp_path):
    path = write(tmp_path, "big.jsonl", "".join('{"input": "a", "expected": "b"}\n' for _ in range(11)))
    with pytest.raises(InvalidInputError, match="limit is 10"):
        read_records(path, max_records=10)
