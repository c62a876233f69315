"""Property tests (hypothesis) on what users hand over as files: tables and fine-tuning data.

Whatever the bytes, a parser either returns rows or raises the project's own error with a message that
names the file (and the line, where one is to blame): never a KeyError, UnicodeDecodeError or TypeError.
Files are written under one module-scoped folder (hypothesis cannot reset function-scoped fixtures between
examples), and the example database is off so nothing lands in the checkout.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from playground.core.errors import InvalidInputError
from playground.core.records import Record, read_records, read_text_file, require_columns
from playground.finetune.config import FinetuneConfig
from playground.finetune.data import load_pairs
from tests.unit.property_strategies import CELL, FAST, JSON, LINE, SUFFIXES, TEXT, write


def parse_or_refuse(path: Path, **options) -> list[Record] | None:
    """Rows, or None after checking the refusal is ours and names the file."""
    try:
        records = read_records(path, **options)
    except InvalidInputError as error:
        assert path.name in str(error), str(error)
        return None
    assert records, "an empty table must be refused, not returned"
    assert all(isinstance(r.line, int) and r.line >= 1 for r in records)
    assert [r.line for r in records] == sorted({r.line for r in records}), "lines go up, one row per line"
    assert all(isinstance(k, str) and isinstance(v, str) for r in records for k, v in r.values.items())
    return records


# --- records.py -------------------------------------------------------------------------------------------


@FAST
@given(content=st.binary(max_size=300), suffix=SUFFIXES)
@example(content=b"\xff\xfe{}", suffix=".jsonl")
@example(content=b'{"a": 1}\n\x00', suffix=".jsonl")
@example(content=b"[" * 3000, suffix=".jsonl")  # nested too deep for the JSON parser
@example(content=b'{"a": ' + b"9" * 4400 + b"}", suffix=".jsonl")  # past Python's int-digit limit
@example(content=b"a,b\n" + b"x" * 140_000 + b",y\n", suffix=".csv")  # past the csv field limit
def test_any_bytes_parse_or_are_refused_with_the_file_name(folder, content, suffix):
    parse_or_refuse(write(folder, f"upload{suffix}", content))


@FAST
@given(text=TEXT, suffix=SUFFIXES, bom=st.booleans())
def test_any_text_parses_or_is_refused_with_the_file_name(folder, text, suffix, bom):
    parse_or_refuse(write(folder, f"typed{suffix}", ("\ufeff" if bom else "") + text))


def test_a_folder_or_a_missing_file_is_refused(folder):
    (folder / "dir.jsonl").mkdir(exist_ok=True)
    for path in (folder / "dir.jsonl", folder / "missing.jsonl"):
        with pytest.raises(InvalidInputError, match=path.name):
            read_records(path)
        with pytest.raises(InvalidInputError, match=path.name):
            read_text_file(path, 1000)


def first_bad_line(lines: list[str]) -> int | None:
    """The oracle: the first non-blank line that is not a JSON object (1-based), or None."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            if not isinstance(json.loads(line), dict):
                return number
        except (ValueError, RecursionError):
            return number
    return None


@FAST
@given(lines=st.lists(st.one_of(JSON.map(json.dumps), st.dictionaries(CELL, JSON, max_size=3).map(json.dumps),
                                 LINE, st.just(""), st.just("  ")), min_size=1, max_size=8),
       newline=st.sampled_from(["\n", "\r\n"]))
def test_jsonl_errors_name_the_first_bad_line(folder, lines, newline):
    text = newline.join(lines)
    assume(not text.strip().startswith("["))  # a whole-file JSON array is read differently (tested below)
    bad = first_bad_line(lines)
    path = write(folder, "lines.jsonl", text)
    if bad is None and any(line.strip() for line in lines):
        records = parse_or_refuse(path)
        assert records is not None and [r.line for r in records] == [n for n, line in enumerate(lines, 1)
                                                                      if line.strip()]
        return
    with pytest.raises(InvalidInputError) as caught:
        read_records(path)
    if bad is not None:
        assert f"line {bad}:" in str(caught.value)


@FAST
@given(rows=st.lists(st.dictionaries(LINE, LINE, max_size=4), min_size=1, max_size=6),
       ensure_ascii=st.booleans(), newline=st.sampled_from(["\n", "\r\n"]), trailing=st.booleans(),
       bom=st.booleans(), suffix=st.sampled_from([".jsonl", ".json", ".ndjson"]))
@example(rows=[{"text": "one\u2028two\x85three\u2029"}], ensure_ascii=False, newline="\n", trailing=True,
         bom=False, suffix=".jsonl")
def test_jsonl_round_trip(folder, rows, ensure_ascii, newline, trailing, bom, suffix):
    text = newline.join(json.dumps(row, ensure_ascii=ensure_ascii) for row in rows) + (newline if trailing else "")
    records = read_records(write(folder, f"round{suffix}", ("\ufeff" if bom else "") + text))
    assert [r.values for r in records] == rows
    assert [r.line for r in records] == list(range(1, len(rows) + 1))


@FAST
@given(rows=st.lists(st.dictionaries(CELL, JSON, max_size=3), min_size=1, max_size=5))
def test_a_json_array_of_objects_reads_like_jsonl(folder, rows):
    records = read_records(write(folder, "array.json", json.dumps(rows, indent=1)))
    assert [list(r.values) for r in records] == [list(row) for row in rows]
    for record, row in zip(records, rows, strict=True):
        for key, value in row.items():
            expected = "" if value is None else value if isinstance(value, str) else None
            if expected is not None:
                assert record.values[key] == expected


COLUMN = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1,
                 max_size=10).filter(lambda name: name.strip() == name and name)


@FAST
@given(data=st.data(), delimiter=st.sampled_from([",", "\t"]),
       # csv.writer quotes a cell holding \r only when \r is in its line terminator: with "\n" alone it
       # writes a bare \r, which any CSV reader takes as a line break, so that pairing quotes every cell
       dialect=st.sampled_from([("\r\n", csv.QUOTE_MINIMAL), ("\r\n", csv.QUOTE_ALL), ("\n", csv.QUOTE_ALL)]))
def test_csv_round_trip(folder, data, delimiter, dialect):
    terminator, quoting = dialect
    header = data.draw(st.lists(COLUMN, min_size=1, max_size=4, unique=True), label="header")
    rows = data.draw(st.lists(st.lists(CELL, min_size=len(header), max_size=len(header)), min_size=1, max_size=5),
                     label="rows")
    kept = [row for row in rows if any(cell.strip() for cell in row)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=terminator, quoting=quoting)
    writer.writerow(header)
    writer.writerows(rows)
    path = write(folder, "table.csv" if delimiter == "," else "table.tsv", buffer.getvalue())
    if not kept:
        with pytest.raises(InvalidInputError, match="has no rows"):
            read_records(path)
        return
    records = read_records(path)
    assert [r.values for r in records] == [dict(zip(header, row, strict=True)) for row in kept]
    assert all(r.line >= 2 for r in records)


@FAST
@given(header=st.lists(st.from_regex(r"[a-z][a-z0-9 _]{0,8}", fullmatch=True).map(str.strip), min_size=1,
                       max_size=3, unique=True),
       width=st.integers(1, 5), good=st.integers(0, 3), terminator=st.sampled_from(["\n", "\r\n"]))
def test_csv_rows_of_the_wrong_width_name_their_line(folder, header, width, good, terminator):
    assume(width != len(header))
    lines = [",".join(header), *[",".join(["x"] * len(header))] * good, ",".join(["y"] * width)]
    path = write(folder, "wide.csv", terminator.join(lines) + terminator)
    with pytest.raises(InvalidInputError, match=f"wide.csv, line {good + 2}: {width} fields"):
        read_records(path)


RECORDS = st.lists(st.builds(Record, line=st.integers(1, 10_000),
                             values=st.dictionaries(st.sampled_from(["input", "question", "expected", "answer",
                                                                     "other"]), CELL, max_size=5)),
                   min_size=1, max_size=6)


@FAST
@given(records=RECORDS)
def test_require_columns_picks_the_first_alias_and_names_empty_lines(records):
    columns = {"input": ("input", "question"), "expected": ("expected", "answer")}
    present = set().union(*(r.values for r in records))
    try:
        rows = require_columns(records, columns, "set.jsonl")
    except InvalidInputError as error:
        message = str(error)
        assert message.startswith("set.jsonl")
        missing = [w for w, aliases in columns.items() if not present & set(aliases)]
        if missing:
            assert f"no '{missing[0]}' column" in message
        else:
            chosen = {w: next(a for a in aliases if a in present) for w, aliases in columns.items()}
            first = next(r for r in records if any(not r.values.get(a, "").strip() for a in chosen.values()))
            assert f"line {first.line}:" in message
        return
    assert len(rows) == len(records)
    for row, record in zip(rows, records, strict=True):
        for wanted, aliases in columns.items():
            alias = next(a for a in aliases if a in present)
            assert row[wanted] == record.values[alias].strip() != ""


# --- finetune/data.py ---------------------------------------------------------------------------------------


PAIR_ROWS = st.lists(st.fixed_dictionaries({"prompt": CELL, "response": CELL}, optional={"extra": JSON}),
                     min_size=1, max_size=8)


@FAST
@given(rows=PAIR_ROWS, eval_size=st.integers(1, 4), as_csv=st.booleans())
def test_fine_tuning_pairs_load_or_name_the_empty_lines(folder, rows, eval_size, as_csv):
    if as_csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["prompt", "response"])
        writer.writerows([row["prompt"], row["response"]] for row in rows)
        path = write(folder, "pairs.csv", buffer.getvalue())
    else:
        path = write(folder, "pairs.jsonl", "\n".join(json.dumps(row, ensure_ascii=False) for row in rows))
    config = FinetuneConfig(dataset=str(path), eval_size=eval_size)
    try:
        pairs = load_pairs(config)
    except InvalidInputError as error:
        message = str(error)
        assert path.name in message
        records = read_records(path) if "no rows" not in message else []
        empty = [r.line for r in records if not r.values.get("prompt", "").strip()
                 or not r.values.get("response", "").strip()]
        if empty:
            assert f"line(s) {empty[0]}" in message
        elif records:
            assert f"at least {eval_size + 1}" in message
        return
    assert len(pairs) >= eval_size + 1
    assert all(p.prompt == p.prompt.strip() != "" and p.response == p.response.strip() != "" for p in pairs)


@FAST
@given(content=st.binary(max_size=200), suffix=st.sampled_from([".jsonl", ".csv"]))
def test_fine_tuning_data_from_any_bytes_loads_or_is_refused(folder, content, suffix):
    path = write(folder, f"anything{suffix}", content)
    try:
        load_pairs(FinetuneConfig(dataset=str(path), eval_size=1))
    except InvalidInputError as error:
        assert path.name in str(error)


@FAST
@given(name=st.one_of(st.text(max_size=20).filter(lambda s: "/" not in s),
                      st.tuples(st.sampled_from(["~", "~/", "./", "/", "../", "~no-such-user-"]), TEXT)
                      .map("".join)))
@example(name="~no-such-user/data.jsonl")
@example(name="~nobody-here")
@example(name="~\x00")
def test_any_dataset_name_is_a_dataset_or_a_clear_refusal(name):
    try:
        load_pairs(FinetuneConfig(dataset=name, eval_size=1))
    except InvalidInputError as error:
        assert str(error)
