"""GRPO's declarative rewards: each scorer's rule, the checks that name a bad field by position, and the
prompt data's line-and-column messages. No model: the training itself is in test_finetune_methods.py."""

from __future__ import annotations

import json

import pytest

from playground.core.errors import InvalidInputError
from playground.finetune.config import PRESETS, FinetuneConfig
from playground.finetune.prompt_rows import load_prompt_rows, split_prompt_rows
from playground.finetune.rewards import exact_match, length_reward, parse_rewards, regex_reward, scorers


def test_exact_match_reads_the_answer_after_the_last_marker_and_compares_numbers_as_numbers():
    assert exact_match("7 + 5 makes 12.\nAnswer: 12", "12") == 1.0
    assert exact_match("Answer: 12.0", "12") == 1.0
    assert exact_match("Answer: 13", "12") == 0.0
    assert exact_match("I think it is 11, no, 12", "12") == 1.0  # no marker: the last number, as the Prompt lab reads
    assert exact_match("no number here", "12") == 0.0
    assert exact_match("Answer: Paris", "paris") == 1.0


def test_regex_and_length_rewards_follow_their_rules():
    assert regex_reward("so... Answer: 42", r"Answer: -?\d+") == 1.0
    assert regex_reward("so... Answer: 42", r"Answer: -?\d+", full=True) == 0.0
    assert regex_reward("  Answer: 42 ", r"Answer: -?\d+", full=True) == 1.0
    assert regex_reward("Answer: forty", r"Answer: -?\d+") == 0.0
    assert length_reward("x" * 10, 5, 20) == 1.0
    assert length_reward("x" * 30, 5, 20) == pytest.approx(1 - 10 / 15)
    assert length_reward("x" * 2, 5, 20) == pytest.approx(1 - 3 / 15)
    assert length_reward("x" * 100, 5, 20) == 0.0


def test_scorers_take_trls_batch_and_weights_ride_along():
    functions, weights = scorers(parse_rewards([{"kind": "regex", "pattern": "Answer: \\d+", "weight": 2},
                                                {"kind": "exact_match"}, {"kind": "length", "max_chars": 12}]))
    assert [f.__name__ for f in functions] == ["regex", "exact_match", "length"] and weights == [2.0, 1.0, 1.0]
    completions = [[{"role": "assistant", "content": "Answer: 4"}], [{"role": "assistant", "content": "four, I think"}]]
    prompts = [[{"role": "user", "content": "2+2?"}]] * 2
    assert functions[0](prompts, completions) == [1.0, 0.0]
    assert functions[1](prompts, completions, answer=["4", "4"]) == [1.0, 0.0]
    assert functions[2](prompts, ["short", "far longer than twelve"]) == [1.0, pytest.approx(1 - 10 / 12)]
    with pytest.raises(InvalidInputError, match="answer column"):
        functions[1](prompts, completions)


@pytest.mark.parametrize(("rewards", "message"), [
    ('[{"kind": "python", "code": "1"}]', r"rewards\[0\]\.kind must be one of exact_match, regex, length"),
    ([{"kind": "regex"}, {"kind": "regex", "pattern": "("}], r"rewards\[0\]\.pattern: give the regular expression"),
    ([{"kind": "length", "max_chars": 5}, {"kind": "regex", "pattern": "(a"}], r"rewards\[1\]\.pattern is not a valid"),
    ([{"kind": "length", "min_chars": 9, "max_chars": 5}], r"rewards\[0\]: min_chars \(9\) is above max_chars"),
    ([{"kind": "length", "max_chars": "80"}], r"rewards\[0\]\.max_chars must be a whole number"),
    ([{"kind": "regex", "pattern": "a", "weight": "high"}], r"rewards\[0\]\.weight must be a number"),
    ([{"kind": "regex", "pattern": "a", "eval": "os.system('x')"}], r"rewards\[0\]: unknown field\(s\) eval"),
    ([{"kind": "reward_model"}], r"rewards\[0\]\.run: name a finished reward-model run"),
    ("[{", "rewards is not valid JSON"),
    ([], "GRPO needs at least one reward"),
])
def test_bad_rewards_are_named_by_position_and_field(rewards, message):
    with pytest.raises(InvalidInputError, match=message):
        FinetuneConfig(method="grpo", rewards=rewards)


def test_the_rewards_survive_the_config_file_and_the_preset_is_valid(tmp_path):
    config = FinetuneConfig(**PRESETS["GRPO: 'Answer: <number>' on CPU"])
    config.save(tmp_path / "config.json")
    again = FinetuneConfig.load(tmp_path / "config.json")
    assert again.rewards == config.rewards and [spec["kind"] for spec in again.rewards] == ["regex", "exact_match"]
    rows = load_prompt_rows(config)
    assert len(rows) == 240 and all(row.answer.lstrip("-").isdigit() for row in rows)
    train, held_out = split_prompt_rows(config)
    assert len(held_out) == config.eval_size and not {r.line for r in train} & {r.line for r in held_out}


def test_prompt_data_names_missing_answers_by_line_and_column(tmp_path):
    path = tmp_path / "prompts.jsonl"
    rows = [{"prompt": f"What is {n} plus 1?", "answer": str(n + 1)} for n in range(20)]
    rows[3]["answer"], rows[7]["prompt"] = "", " "
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    exact = [{"kind": "exact_match"}]
    with pytest.raises(InvalidInputError, match="no 'response' column; it has: answer, prompt"):
        load_prompt_rows(FinetuneConfig(method="grpo", dataset=str(path), rewards=exact))
    with pytest.raises(InvalidInputError, match=r"line\(s\) 8 \(column 'prompt'\); line\(s\) 4 \(column 'answer'\)"):
        load_prompt_rows(FinetuneConfig(method="grpo", dataset=str(path), rewards=exact, response_column="answer"))
    rows[7]["prompt"] = "What is 7 plus 1?"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    no_answers_needed = FinetuneConfig(method="grpo", dataset=str(path), rewards=[{"kind": "length", "max_chars": 9}])
    assert len(load_prompt_rows(no_answers_needed)) == 20  # only an exact_match reward needs the answers
