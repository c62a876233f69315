"""Property tests (hypothesis) on what users hand over as files: tables, fine-tuning data, run configs, run ids.

Whatever the bytes, a parser either returns rows or raises the project's own error with a message that
names the file (and the line, where one is to blame): never a KeyError, UnicodeDecodeError or TypeError.
Files are written under one module-scoped folder (hypothesis cannot reset function-scoped fixtures between
examples), and the example database is off so nothing lands in the checkout.
"""

from __future__ import annotations

import csv
import io
import json
import re
import string
from dataclasses import fields
from pathlib import Path

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from playground.errors import InvalidInputError
from playground.finetune.config import FinetuneConfig
from playground.finetune.data import load_pairs
from playground.finetune.runner import RUN_ID, JobRunner
from playground.records import Record, read_records, read_text_file, require_columns

FAST = settings(max_examples=60, deadline=None, database=None)
QUICK = settings(max_examples=30, deadline=None, database=None)

# Text a user can save as UTF-8: anything but lone surrogates. NUL is left out where a file must stay text.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
CELL = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=30)
# Lines of "anything" for JSONL: no line breaks of the file's own (\n, \r), everything else allowed,
# including the separators str.splitlines() also breaks on (\x85, \u2028, \x1c...).
LINE = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\n\r\x00"), max_size=30)
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                    | CELL, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(CELL, inner, max_size=3),
                    max_leaves=8)
SUFFIXES = st.sampled_from([".jsonl", ".json", ".ndjson", ".csv", ".tsv", ".txt", ""])


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("properties")


def write(folder: Path, name: str, content: bytes | str) -> Path:
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


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


# --- finetune/config.py -------------------------------------------------------------------------------------

INT_BOUNDS = {"max_steps": (1, 100_000), "batch_size": (1, 512), "gradient_accumulation": (1, 1024),
              "max_seq_length": (16, 8192), "lora_r": (1, 1024), "lora_alpha": (1, 4096),
              "eval_every": (1, 100_000), "eval_size": (1, 10_000), "save_every": (1, 100_000),
              "warmup_steps": (0, 100_000), "seed": (0, 2**31 - 1), "probe_tokens": (1, 512)}
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # the documented form, matched whole
NAMES = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=20)
VALID_CONFIGS = st.builds(
    FinetuneConfig,
    base_model=NAMES, method=st.sampled_from(["lora", "qlora"]), dataset=NAMES, prompt_column=NAMES,
    response_column=NAMES, learning_rate=st.floats(0, 0.1, exclude_min=True),
    lora_dropout=st.floats(0, 1, exclude_max=True),
    target_modules=st.lists(NAMES, min_size=1, max_size=4).map(tuple),
    probe_prompts=st.lists(TEXT, max_size=8).map(tuple),
    run_name=st.one_of(st.just(""), st.from_regex(RUN_NAME, fullmatch=True)),
    **{name: st.integers(low, high) for name, (low, high) in INT_BOUNDS.items()})


@FAST
@given(config=VALID_CONFIGS)
def test_valid_configs_round_trip_through_save_load_and_dicts(folder, config):
    path = folder / "config.json"
    config.save(path)
    assert FinetuneConfig.load(path) == config
    assert FinetuneConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert config.with_changes() == config


@FAST
@given(name=st.sampled_from(sorted(INT_BOUNDS)),
       value=st.one_of(st.integers(-(2**40), 2**40), st.booleans(), st.floats(), st.text(max_size=5), st.none()))
@example(name="lora_r", value=0)
@example(name="seed", value=2**31)
@example(name="max_steps", value=True)
@example(name="batch_size", value=4.0)
def test_whole_number_bounds_are_enforced(name, value):
    low, high = INT_BOUNDS[name]
    valid = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    if valid:
        assert getattr(FinetuneConfig(**{name: value}), name) == value
    else:
        with pytest.raises(InvalidInputError, match=f"{name} must be a whole number from {low:,} to {high:,}"):
            FinetuneConfig(**{name: value})


@FAST
@given(name=st.sampled_from(["learning_rate", "lora_dropout"]),
       value=st.one_of(st.floats(), st.integers(-3, 3), st.booleans(), st.text(max_size=5), st.none()))
@example(name="lora_dropout", value="0.1")
@example(name="lora_dropout", value=float("nan"))
@example(name="learning_rate", value=float("inf"))
def test_float_bounds_are_enforced(name, value):
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    valid = number and (0 < value <= 0.1 if name == "learning_rate" else 0 <= value < 1)
    if valid:
        assert getattr(FinetuneConfig(**{name: value}), name) == value
    else:
        with pytest.raises(InvalidInputError, match=name):
            FinetuneConfig(**{name: value})


@FAST
@given(run_name=st.one_of(st.text(max_size=70), st.from_regex(RUN_NAME, fullmatch=True).map(lambda s: s + "\n")))
@example(run_name="run\n")
@example(run_name="../../etc")
def test_run_names_are_accepted_exactly_when_documented(run_name):
    if run_name == "" or RUN_NAME.fullmatch(run_name):
        assert FinetuneConfig(run_name=run_name).run_name == run_name
    else:
        with pytest.raises(InvalidInputError, match="run_name may use"):
            FinetuneConfig(run_name=run_name)


KNOWN = sorted(f.name for f in fields(FinetuneConfig))


@FAST
@given(data=st.dictionaries(st.one_of(st.sampled_from(KNOWN), st.text(max_size=8)), JSON, max_size=6))
@example(data={"target_modules": 5})
@example(data={"probe_prompts": None})
@example(data={"run_name": 7})
@example(data={"dataset": 12})
@example(data={"lora_dropout": "0.1"})
@example(data={"target_modules": [1, 2]})
def test_any_settings_dict_makes_a_config_or_a_clear_refusal(data):
    try:
        config = FinetuneConfig.from_dict(data)
    except InvalidInputError as error:
        assert str(error)
        unknown = sorted(set(data) - set(KNOWN))
        if unknown:
            assert "Unknown setting(s)" in str(error) and unknown[0] in str(error)
        return
    assert FinetuneConfig.from_dict(config.to_dict()) == config  # what loads also saves and loads again
    assert all(isinstance(getattr(config, name), str)
               for name in ("base_model", "method", "dataset", "prompt_column", "response_column", "run_name"))
    assert all(isinstance(item, str) for item in (*config.target_modules, *config.probe_prompts))


@FAST
@given(name=st.sampled_from(KNOWN), value=JSON)
def test_with_changes_validates_like_the_constructor(name, value):
    base = FinetuneConfig()
    try:
        changed = base.with_changes(**{name: value})
    except InvalidInputError:
        return
    assert changed == FinetuneConfig(**{**base.to_dict(), name: value})
    assert base == FinetuneConfig()  # frozen: the original is untouched


@FAST
@given(content=st.one_of(st.binary(max_size=200), JSON.map(lambda v: json.dumps(v).encode()),
                         st.dictionaries(st.sampled_from(KNOWN), JSON, max_size=4)
                         .map(lambda d: json.dumps(d).encode())))
@example(content=b"\xff\xfe")
@example(content=b"null")
@example(content=b"[1, 2]")
@example(content=b"[" * 3000)
@example(content=b'{"seed": ' + b"9" * 4400 + b"}")
def test_any_config_file_loads_or_is_refused(folder, content):
    path = write(folder, "any-config.json", content)
    try:
        FinetuneConfig.load(path)
    except InvalidInputError as error:
        assert str(error)


def test_a_missing_config_file_is_refused(folder):
    with pytest.raises(InvalidInputError, match="Could not read the config"):
        FinetuneConfig.load(folder / "no-such-config.json")


# --- finetune/runner.py: run ids ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def runner(folder) -> JobRunner:
    runs = folder / "runs"
    runner = JobRunner(runs)
    for name in ("20260101-000000-run", "20260101-000000-..", "20260101-000000-a.b"):
        (runs / name).mkdir()
    outside = folder / "outside"
    outside.mkdir()
    (runs / "20260101-000000-link").symlink_to(outside, target_is_directory=True)
    (runs / "20260101-000000-file").write_text("not a folder")
    return runner


TRICKY_SUFFIX = st.sampled_from(["..", "../x", "x/../..", "run/..", "\x00", "run\n", "run\x00", "é", "run/",
                                 "link", "file", "a.b", "../20260101-000000-run", ".", "-", "_"])


@FAST
@given(run_id=st.one_of(
    st.text(max_size=80),
    st.from_regex(RUN_ID, fullmatch=True),
    st.tuples(st.just("20260101-000000-"), TRICKY_SUFFIX, st.text(string.printable, max_size=5)).map("".join),
    st.sampled_from(["/etc", "/", "..", ".", "~", "20260101-000000-run", "/tmp/20260101-000000-run"]),
    st.tuples(st.sampled_from(["/", "../", "./", "x/"]), st.just("20260101-000000-run")).map("".join)))
@example(run_id="20260101-000000-link")
@example(run_id="20260101-000000-file")
@example(run_id="20260101-000000-..")
def test_run_dir_never_leaves_the_runs_folder(runner, run_id):
    try:
        found = runner.run_dir(run_id)
    except InvalidInputError as error:
        assert "run" in str(error)
        return
    runs = runner.runs_dir.resolve()
    assert found.parent == runs and found.name == run_id and found.is_dir() and not found.is_symlink()
    assert RUN_ID.fullmatch(run_id)


@QUICK
@given(run_id=st.one_of(st.none(), st.integers(), st.binary(max_size=10), st.lists(st.text(max_size=3))))
def test_run_dir_refuses_what_is_not_text(runner, run_id):
    with pytest.raises(InvalidInputError, match="not a run id"):
        runner.run_dir(run_id)
