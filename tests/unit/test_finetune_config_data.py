"""Fine-tuning settings and data are checked before any job starts, with messages that say why."""

from __future__ import annotations

import math
import os
from types import SimpleNamespace

import pytest

from playground.core.errors import InvalidInputError
from playground.finetune.config import FinetuneConfig
from playground.finetune.data import IGNORE, Pair, encode, load_pairs, prepare
from playground.finetune.events import append_event, read_events, summarize
from playground.finetune.runner import JobRunner
from playground.finetune.train import failure_message, make_callback


@pytest.mark.parametrize(("changes", "message"), [
    ({"lora_r": 0}, "lora_r must be a whole number from 1.*rank 0 would train nothing"),
    ({"learning_rate": 10}, "learning_rate must be above 0 and at most 0.1"),
    ({"learning_rate": float("nan")}, "learning_rate"),
    ({"max_seq_length": 1}, "max_seq_length must be a whole number from 16"),
    ({"max_steps": 0}, "max_steps"),
    ({"run_name": "../../etc"}, "run_name may use"),
    ({"method": "rlhf"}, "Unknown method .rlhf.: choose one of full, lora, qlora, dpo, distill"),
])
def test_absurd_settings_are_refused(changes, message):
    with pytest.raises(InvalidInputError, match=message):
        FinetuneConfig(**changes)


def test_config_round_trip_and_unknown_keys(tmp_path):
    config = FinetuneConfig(target_modules="all-linear", probe_prompts=("Hi?",))
    assert config.target_modules == ("all-linear",)  # a preset's name, resolved on the loaded model
    config.save(tmp_path / "config.json")
    assert FinetuneConfig.load(tmp_path / "config.json") == config
    with pytest.raises(InvalidInputError, match="Unknown setting.*epochs"):
        FinetuneConfig.from_dict({"epochs": 3})


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_dataset_problems_name_their_lines(tmp_path):
    rows = "".join(f'{{"q": "question {i}", "a": "answer {i}"}}\n' for i in range(20))
    mapped = FinetuneConfig(dataset=write(tmp_path, "ok.jsonl", rows), prompt_column="q", response_column="a")
    assert len(load_pairs(mapped)) == 20
    with pytest.raises(InvalidInputError, match="no 'prompt' column; it has: a, q"):
        load_pairs(FinetuneConfig(dataset=mapped.dataset))
    broken = rows + '{"q": "x", "a": ""}\n{"q": "", "a": "y"}\n'
    with pytest.raises(InvalidInputError, match=r"empty prompt or response on line\(s\) 22 \(column 'q'\); "
                       r"line\(s\) 21 \(column 'a'\)"):
        load_pairs(FinetuneConfig(dataset=write(tmp_path, "gaps.jsonl", broken), prompt_column="q",
                                  response_column="a"))
    with pytest.raises(InvalidInputError, match="line 2: not valid JSON"):
        load_pairs(FinetuneConfig(dataset=write(tmp_path, "bad.jsonl", '{"prompt": "a", "response": "b"}\n{oops\n')))
    with pytest.raises(InvalidInputError, match="has 3 rows: at least 17"):
        load_pairs(FinetuneConfig(dataset=write(tmp_path, "few.csv", "prompt,response\na,b\nc,d\ne,f\n")))
    with pytest.raises(InvalidInputError, match="not a shipped one"):
        load_pairs(FinetuneConfig(dataset="no-such-set"))


def test_too_long_prompts_are_refused_with_lines(tmp_path, workspace):
    tokenizer = workspace.store.hf_tokenizer("smollm2-135m-instruct")
    rows = "".join(f'{{"prompt": "short {i}", "response": "fine"}}\n' for i in range(20))
    rows += '{"prompt": "' + "word " * 200 + '", "response": "too late"}\n'
    config = FinetuneConfig(dataset=write(tmp_path, "long.jsonl", rows), max_seq_length=64)
    with pytest.raises(InvalidInputError, match=r"Line\(s\) 21: the prompt alone fills max_seq_length"):
        prepare(config, tokenizer)


def test_only_the_answer_is_trained_on(workspace):
    tokenizer = workspace.store.hf_tokenizer("smollm2-135m-instruct")
    example = encode(Pair(1, "Name a colour.", "Arr! Blue, matey."), tokenizer, 128)
    trained = [token for token, label in zip(example["input_ids"], example["labels"], strict=True) if label != IGNORE]
    assert tokenizer.decode(trained).startswith("Arr! Blue, matey.")
    assert example["labels"][0] == IGNORE and len(example["labels"]) == len(example["input_ids"])


def test_events_summarise_and_survive_a_torn_line(tmp_path):
    append_event(tmp_path, "started", max_steps=10)
    append_event(tmp_path, "step", step=1, loss=2.5, lr=1e-3, grad_norm=0.9)
    append_event(tmp_path, "eval", step=1, eval_loss=2.4, samples=[{"prompt": "p", "output": "o"}])
    with open(tmp_path / "events.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"event": "step", "step": 2, "lo')  # the worker died mid-write
    summary = summarize("r", read_events(tmp_path))
    assert (summary.status, summary.step, summary.losses, summary.eval_losses) == ("running", 1, [[1, 2.5]], [[1, 2.4]])


def test_a_nan_loss_stops_training(tmp_path):
    callback = make_callback(tmp_path, FinetuneConfig(), tokenizer=None)
    control = SimpleNamespace(should_training_stop=False)
    callback.on_log(None, SimpleNamespace(global_step=7), control, logs={"loss": math.nan})
    assert control.should_training_stop and callback.nan_step == 7
    assert not (tmp_path / "events.jsonl").exists()  # a NaN is not plotted


def test_failure_messages():
    import errno

    assert "Out of memory" in failure_message(MemoryError())
    assert "disk is full" in failure_message(OSError(errno.ENOSPC, "No space left on device"))
    assert failure_message(ValueError("bad thing")) == "ValueError: bad thing"


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
def test_events_keep_text_with_unicode_line_separators(tmp_path, separator):
    """JSON writes these raw (ensure_ascii=False); a reader splitting at them would drop the event,
    and a finished run would show as interrupted."""
    folder = tmp_path / "20261123-101500-separators"
    folder.mkdir()
    FinetuneConfig(max_steps=2).save(folder / "config.json")
    answer = f"Arr{separator}matey"
    append_event(folder, "started", max_steps=2)
    append_event(folder, "eval", step=1, eval_loss=2.0, samples=[{"prompt": "p", "output": answer}])
    append_event(folder, "finished", message=f"Done{separator}", adapter="adapter", step=2)
    with open(folder / "events.jsonl", "ab") as handle:
        handle.write('{"event": "note", "message": "\u2028'.encode()[:-1])  # a crash mid-character
    events = read_events(folder)
    assert [event["event"] for event in events] == ["started", "eval", "finished"]
    (folder / "worker.pid").write_text("999999999", encoding="utf-8")  # a worker long gone
    os.utime(folder / "worker.pid", (0, 0))
    summary = JobRunner(tmp_path).status(folder.name)
    assert summary.status == "finished" and summary.probes[0]["samples"][0]["output"] == answer
