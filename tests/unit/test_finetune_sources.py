"""Fine-tuning data through ``datasets`` and the project's reader: Parquet and JSON files, chat turns,
preference triples, a Hub id offline, and bad rows named by line and column for every method."""

from __future__ import annotations

import json

import pytest

from playground.core.errors import InvalidInputError
from playground.finetune.config import METHODS, FinetuneConfig
from playground.finetune.data import load_pairs
from playground.finetune.method_registry import training_method
from playground.finetune.preference import load_triples
from playground.finetune.runner import JobRunner

ROWS = [{"question": f"What is {i} plus {i}?", "answer": f"{2 * i}."} for i in range(20)]
CHATS = [{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": f"Count to {i}."},
                       {"role": "assistant", "content": " ".join(str(n) for n in range(1, i + 2))}]}
         for i in range(20)]
PREFS = [{"prompt": f"Describe {i}.", "chosen": f"{i} is a number.", "rejected": f"Well, {i}, hmm, so, er..."}
         for i in range(20)]


def parquet(path, rows):
    import datasets

    datasets.Dataset.from_list(rows).to_parquet(str(path))
    return str(path)


def jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def test_a_parquet_file_maps_its_columns_like_a_jsonl_one(tmp_path):
    config = dict(prompt_column="question", response_column="answer")
    from_parquet = load_pairs(FinetuneConfig(dataset=parquet(tmp_path / "sums.parquet", ROWS), **config))
    from_jsonl = load_pairs(FinetuneConfig(dataset=jsonl(tmp_path / "sums.jsonl", ROWS), **config))
    assert [(p.line, p.prompt, p.response) for p in from_parquet] == [(p.line, p.prompt, p.response)
                                                                      for p in from_jsonl]
    array = tmp_path / "sums.json"
    array.write_text(json.dumps(ROWS), encoding="utf-8")
    assert load_pairs(FinetuneConfig(dataset=str(array), **config))[3].response == "6."
    broken = parquet(tmp_path / "gaps.parquet", ROWS[:4] + [{"question": "Why?", "answer": ""}] + ROWS[5:])
    with pytest.raises(InvalidInputError, match=r"gaps.parquet: empty prompt or response on line\(s\) 5 "
                                                r"\(column 'answer'\)"):
        load_pairs(FinetuneConfig(dataset=broken, **config))


@pytest.mark.parametrize("writer", [jsonl, parquet])
def test_a_messages_column_trains_on_the_last_assistant_turn(tmp_path, writer, tokenizer):
    pairs = load_pairs(FinetuneConfig(dataset=writer(tmp_path / f"chats.{writer.__name__}", CHATS),
                                      messages_column="messages"))
    assert pairs[2].prompt == "Count to 2." and pairs[2].response == "1 2 3"
    assert pairs[2].chat()[0] == {"role": "system", "content": "Be brief."}
    from playground.finetune.data import encode

    example = encode(pairs[2], tokenizer, 256)
    learnt = tokenizer.decode([t for t, label in zip(example["input_ids"], example["labels"], strict=True)
                               if label != -100])
    assert learnt.startswith("1 2 3") and "Be brief" not in learnt and "Count to" not in learnt


def test_bad_chat_turns_name_line_and_column(tmp_path):
    bad = CHATS[:6] + [{"messages": [{"role": "user", "content": "Hi"}]}] + CHATS[7:]
    with pytest.raises(InvalidInputError, match=r"line 7, column 'messages': the last turn must be the assistant"):
        load_pairs(FinetuneConfig(dataset=jsonl(tmp_path / "c.jsonl", bad), messages_column="messages"))
    bad = CHATS[:2] + [{"messages": [{"role": "robot", "content": "Hi"}]}] + CHATS[3:]
    with pytest.raises(InvalidInputError, match=r"line 3, column 'messages': turn 1 needs a role"):
        load_pairs(FinetuneConfig(dataset=jsonl(tmp_path / "d.jsonl", bad), messages_column="messages"))


def test_preference_triples_and_their_problems(tmp_path):
    triples = load_triples(FinetuneConfig(method="dpo", dataset=parquet(tmp_path / "p.parquet", PREFS)))
    assert len(triples) == 20 and triples[0].conversational()["chosen"][0]["role"] == "assistant"
    gaps = PREFS[:3] + [{**PREFS[3], "rejected": " "}] + PREFS[4:]
    with pytest.raises(InvalidInputError, match=r"empty prompt, chosen or rejected on line\(s\) 4 "
                                                r"\(column 'rejected'\)"):
        load_triples(FinetuneConfig(method="dpo", dataset=jsonl(tmp_path / "g.jsonl", gaps)))
    same = PREFS[:8] + [{**PREFS[8], "rejected": PREFS[8]["chosen"]}] + PREFS[9:]
    with pytest.raises(InvalidInputError, match=r"line\(s\) 9: columns 'chosen' and 'rejected' are the same"):
        load_triples(FinetuneConfig(method="dpo", dataset=jsonl(tmp_path / "s.jsonl", same)))
    with pytest.raises(InvalidInputError, match="has no 'better' column; it has: chosen, prompt, rejected"):
        load_triples(FinetuneConfig(method="dpo", chosen_column="better", dataset=jsonl(tmp_path / "m.jsonl", PREFS)))


def _turn(role, content):
    return {"role": role, "content": content}


@pytest.mark.parametrize("writer", [jsonl, parquet])
def test_preference_pairs_as_chat_turns_as_hub_sets_store_them(tmp_path, writer, tokenizer):
    """Anthropic-HH style (whole conversations, no prompt column) and UltraFeedback style (a prompt, answers as
    one assistant turn) give the same triples as text columns; TRL gets the shared conversation as the prompt."""
    history = [_turn("system", "Be brief."), _turn("user", "Hi."), _turn("assistant", "Hello."),
               _turn("user", "Name a colour.")]
    whole = [{"chosen": [*history, _turn("assistant", f"Red {i}.")],
              "rejected": [*history, _turn("assistant", f"Well, there are so many colours {i}...")]} for i in range(8)]
    [first, *_] = triples = load_triples(FinetuneConfig(method="dpo", eval_size=2,
                                                        dataset=writer(tmp_path / f"hh.{writer.__name__}", whole)))
    assert len(triples) == 8 and (first.prompt, first.chosen) == ("Name a colour.", "Red 0.")
    row = first.conversational()
    assert row["prompt"] == history and row["chosen"] == [_turn("assistant", "Red 0.")]
    assert row["rejected"] == [_turn("assistant", "Well, there are so many colours 0...")]
    from playground.finetune.data import Pair, encode

    answer = encode(Pair(0, first.prompt, first.chosen, first.turns), tokenizer, 256)
    learnt = tokenizer.decode([t for t, label in zip(answer["input_ids"], answer["labels"], strict=True)
                               if label != -100])
    assert learnt.startswith("Red 0.") and "colour" not in learnt
    split = [{"prompt": f"Name colour {i}.", "chosen": [_turn("assistant", "Red.")],
              "rejected": [_turn("assistant", "Hmm, blue, or red, or...")]} for i in range(8)]
    text = [{"prompt": f"Name colour {i}.", "chosen": "Red.", "rejected": "Hmm, blue, or red, or..."} for i in range(8)]
    as_turns = load_triples(FinetuneConfig(method="dpo", eval_size=2, dataset=writer(tmp_path / f"u.{writer.__name__}",
                                                                                     split)))
    as_text = load_triples(FinetuneConfig(method="dpo", eval_size=2, dataset=jsonl(tmp_path / "t.jsonl", text)))
    assert [t.conversational() for t in as_turns] == [t.conversational() for t in as_text]


def test_bad_conversational_pairs_name_line_and_column(tmp_path):
    history = [_turn("user", "Name a colour.")]
    rows = [{"chosen": [*history, _turn("assistant", f"Red {i}.")],
             "rejected": [*history, _turn("assistant", f"Blue, or... {i}")]} for i in range(8)]

    def load(bad_rows, name):
        return load_triples(FinetuneConfig(method="dpo", eval_size=2, dataset=jsonl(tmp_path / name, bad_rows)))

    differ = rows[:3] + [{**rows[3], "rejected": [_turn("user", "Other question?"), _turn("assistant", "No.")]}]
    with pytest.raises(InvalidInputError, match="line 4: the 'chosen' and 'rejected' conversations differ before"):
        load(differ + rows[4:], "differ.jsonl")
    unanswered = rows[:5] + [{**rows[5], "chosen": history}] + rows[6:]
    with pytest.raises(InvalidInputError, match="line 6, column 'chosen': the last turn must be the assistant"):
        load(unanswered, "unanswered.jsonl")
    robot = rows[:1] + [{**rows[1], "rejected": [_turn("robot", "Beep")]}] + rows[2:]
    with pytest.raises(InvalidInputError, match="line 2, column 'rejected': turn 1 needs a role"):
        load(robot, "robot.jsonl")
    no_question = [{"chosen": [_turn("assistant", "Red.")], "rejected": [_turn("assistant", "Blue.")]}] * 8
    with pytest.raises(InvalidInputError, match=r"empty prompt, chosen or rejected on line\(s\) 1, 2, 3, 4, 5 and 3 "
                                                r"more \(column 'prompt'\)"):
        load(no_question, "no-question.jsonl")


def test_a_hub_dataset_offline_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(InvalidInputError, match=r"Could not load the Hub dataset trl-lib/ultrafeedback \(default, "
                                                r"split train\[:200\]\): no network here \(HF_HUB_OFFLINE=1\)"):
        load_triples(FinetuneConfig(method="dpo", dataset="trl-lib/ultrafeedback", config_name="default",
                                    split="train[:200]"))


@pytest.mark.parametrize("method", METHODS)
def test_every_method_refuses_bad_rows_before_a_worker_starts(tmp_path, method):
    """The runner checks the data the method reads (pairs, preference triples or GRPO's prompts with the
    answers an exact_match reward compares to), naming line and column."""
    data = training_method(method).data
    extra = {}
    if data == "preferences":
        rows, column, prompt = PREFS[:5] + [{**PREFS[5], "chosen": ""}] + PREFS[6:], "chosen", "prompt"
    else:
        rows, column, prompt = ROWS[:5] + [{**ROWS[5], "answer": ""}] + ROWS[6:], "answer", "question"
    if data == "prompts":
        extra = {"rewards": [{"kind": "exact_match"}]}
    runner = JobRunner(tmp_path / "runs")
    with pytest.raises(InvalidInputError, match=rf"line\(s\) 6 \(column '{column}'\)"):
        runner.start(FinetuneConfig(method=method, dataset=jsonl(tmp_path / "bad.jsonl", rows),
                                    prompt_column=prompt, response_column="answer", **extra))
    assert not runner.runs()  # nothing was created, nothing spawned


def test_an_unknown_method_is_a_clear_error():
    with pytest.raises(InvalidInputError, match="Unknown method 'ppo': choose one of full, lora, qlora, dpo, distill"):
        FinetuneConfig.from_dict({"method": "ppo"})


def test_a_distillation_teacher_named_by_run_id_must_exist(tmp_path):
    runner = JobRunner(tmp_path / "runs")
    with pytest.raises(InvalidInputError, match="No run '20261202-000000-gone'"):
        runner.start(FinetuneConfig(method="distill", teacher="20261202-000000-gone", prompt_column="question",
                                    response_column="answer", dataset=jsonl(tmp_path / "ok.jsonl", ROWS)))


def test_compare_refuses_what_is_not_a_list_of_runs(tmp_path):
    from playground.finetune.compare import compare

    runner = JobRunner(tmp_path / "runs")
    for bad, message in (([], "at least one run"), ("20261202-000000-x", "list of run ids"),
                         (["../etc"], "not a run id"), (["20261202-000000-gone"], "No run")):
        with pytest.raises(InvalidInputError, match=message):
            compare(runner, bad)
