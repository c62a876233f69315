"""The incremental event reader against a full re-read: the same summary after every append, a line being
written left for later, a replaced or rewritten file read again, and what callers hold never changing."""

from __future__ import annotations

import json
import os

from playground.finetune.event_log import EventLog
from playground.finetune.events import EVENTS, append_event, read_events, summarize


def full(folder) -> dict:
    return summarize("run", read_events(folder)).to_dict()


def test_each_look_equals_a_full_read_as_the_run_grows(tmp_path):
    log = EventLog()
    assert log.summary("run", tmp_path).status == "queued"  # no events yet
    append_event(tmp_path, "started", max_steps=6, eval_every=3)
    for step in range(1, 7):
        append_event(tmp_path, "step", step=step, loss=1.0 / step, lr=1e-3, grad_norm=0.5, reward_margin=0.1 * step,
                     rewards={"format": 0.5})
        if step % 3 == 0:
            append_event(tmp_path, "evaluating", step=step)
            append_event(tmp_path, "eval", step=step, eval_loss=2.0 / step, samples=["ok"])
            append_event(tmp_path, "checkpoint", step=step, path=f"checkpoint-{step}")
        assert log.summary("run", tmp_path).to_dict() == full(tmp_path)
    append_event(tmp_path, "note", message="a note with \u2028 inside")
    append_event(tmp_path, "finished", step=6, message="Done.")
    summary = log.summary("run", tmp_path)
    assert summary.to_dict() == full(tmp_path) and summary.status == "finished"
    assert summary.notes == ["a note with \u2028 inside"] and len(summary.losses) == 6


def test_a_line_still_being_written_waits_for_its_end(tmp_path):
    log = EventLog()
    append_event(tmp_path, "started", max_steps=3)
    line = json.dumps({"event": "step", "time": 1.0, "step": 1, "loss": 0.5})
    with open(tmp_path / EVENTS, "a", encoding="utf-8") as handle:
        handle.write(line[:10])
    assert log.summary("run", tmp_path).losses == []
    with open(tmp_path / EVENTS, "a", encoding="utf-8") as handle:
        handle.write(line[10:] + "\n")
    assert log.summary("run", tmp_path).losses == [[1, 0.5]]


def test_a_replaced_or_rewritten_file_is_read_again(tmp_path):
    log = EventLog()
    for step in range(1, 5):
        append_event(tmp_path, "step", step=step, loss=1.0)
    assert len(log.summary("run", tmp_path).losses) == 4
    kept = [event for event in read_events(tmp_path) if event["step"] <= 2]  # as a resumed pre-training run does
    temporary = tmp_path / "events.tmp"
    temporary.write_text("".join(json.dumps(event) + "\n" for event in kept), encoding="utf-8")
    os.replace(temporary, tmp_path / EVENTS)
    append_event(tmp_path, "resumed", message="")
    assert log.summary("run", tmp_path).to_dict() == full(tmp_path)
    assert [step for step, _ in log.summary("run", tmp_path).losses] == [1, 2]
    with open(tmp_path / EVENTS, "r+", encoding="utf-8") as handle:  # rewritten in place, longer than before
        handle.seek(0)
        handle.write(json.dumps({"event": "note", "time": 0.0, "message": "x" * 300}) + "\n")
        handle.truncate()
    assert log.summary("run", tmp_path).to_dict() == full(tmp_path)
    assert log.summary("run", tmp_path).losses == []


def test_what_a_caller_holds_does_not_change_as_events_arrive(tmp_path):
    log = EventLog()
    append_event(tmp_path, "step", step=1, loss=1.0, reward_margin=0.2)
    held = log.summary("run", tmp_path)
    held.status = "set by the caller"
    append_event(tmp_path, "step", step=2, loss=0.5, reward_margin=0.3)
    append_event(tmp_path, "note", message="later")
    assert held.losses == [[1, 1.0]] and held.measures == {"reward_margin": [[1, 0.2]]} and held.notes == []
    now = log.summary("run", tmp_path)
    assert now.status == "queued" and len(now.losses) == 2 and now.measures["reward_margin"][-1] == [2, 0.3]
