"""Property tests (hypothesis) on run configs and run ids: any value either loads or is refused with
the project's own error, and no run id reaches outside the runs folder."""

from __future__ import annotations

import json
import re
import string
from dataclasses import fields

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from playground.core.errors import InvalidInputError
from playground.finetune.config import FinetuneConfig
from playground.finetune.runner import RUN_ID, JobRunner
from tests.unit.property_strategies import FAST, JSON, QUICK, TEXT, write

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
@example(name="batch_size", value=4.5)
def test_whole_number_bounds_are_enforced(name, value):
    low, high = INT_BOUNDS[name]
    whole = (isinstance(value, int) and not isinstance(value, bool)) or \
        (isinstance(value, float) and value.is_integer())
    if whole and low <= value <= high:  # 4.0 from JSON or a slider counts as 4, as everywhere else
        config = FinetuneConfig(**{name: value})
        assert getattr(config, name) == value and type(getattr(config, name)) is int
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
