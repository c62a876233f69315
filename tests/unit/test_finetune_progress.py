"""What a run says while it trains: the base model's probe before step 1, "evaluating" while an
evaluation runs (the step count stands still), an ETA that does not jump after one, and what the
page opens on. The worker's real callback on a tiny model; no training run."""

from __future__ import annotations

from transformers import TrainerControl, TrainerState, TrainingArguments

from playground.finetune.config import FinetuneConfig
from playground.finetune.events import RunSummary, read_events, summarize
from playground.finetune.progress import NO_RUN, diff_note, probe_rows, shown_run, status_markdown
from playground.finetune.train import make_callback

CONFIG = FinetuneConfig(max_steps=8, eval_every=4, probe_prompts=("What is 2 + 2?", "Name a colour."),
                        probe_tokens=3)


def test_the_worker_probes_the_base_model_before_step_1_and_says_when_it_evaluates(tmp_path, tiny_lm,
                                                                                 tokenizer):
    callback = make_callback(tmp_path, CONFIG, tokenizer)
    args, state, control = TrainingArguments(output_dir=str(tmp_path), report_to=[]), TrainerState(), TrainerControl()
    state.max_steps = CONFIG.max_steps
    callback.on_train_begin(args, state, control, model=tiny_lm)
    events = read_events(tmp_path)
    assert [e["event"] for e in events] == ["started", "evaluating", "probe"]
    assert events[2]["step"] == 0 and [s["prompt"] for s in events[2]["samples"]] == list(CONFIG.probe_prompts)
    summary = summarize("run", events)
    assert summary.probes[0]["step"] == 0 and not summary.evaluating
    assert [row[0] for row in probe_rows(summary)] == ["0 (base)", "0 (base)"]

    state.global_step, control.should_evaluate = 4, True  # the flow callback has just asked for one
    callback.on_step_end(args, state, control)
    callback.on_log(args, state, control, logs={"loss": 1.0})  # the Trainer logs the step after deciding
    summary = summarize("run", read_events(tmp_path))
    assert summary.evaluating
    assert "evaluating" in status_markdown(summary)


def test_the_pace_leaves_evaluations_out_and_the_eta_adds_them_back():
    events = [{"event": "started", "time": 0, "max_steps": 8, "eval_every": 4},
              *[{"event": "step", "time": t, "step": s, "loss": 1.0} for s, t in ((1, 1), (2, 2), (3, 3))],
              {"event": "evaluating", "time": 4, "step": 4},  # the Trainer logs step 4 after deciding to evaluate
              {"event": "step", "time": 4, "step": 4, "loss": 1.0}]
    during = summarize("run", events)
    assert during.evaluating and during.seconds_per_step == 1.0 and during.eta_seconds == 4.0
    after = summarize("run", [*events, {"event": "eval", "time": 24, "step": 4, "eval_loss": 1.0},
                              {"event": "step", "time": 25, "step": 5, "loss": 1.0}])
    assert not after.evaluating and after.seconds_per_step == 1.0  # not (25 s / 5 steps)
    assert "· 1.0 s/step" in status_markdown(after)
    fast = summarize("run", [{"event": "started", "time": 0, "max_steps": 60},
                             *[{"event": "step", "time": s * 0.022, "step": s, "loss": 1.0} for s in (1, 2, 3)]])
    assert "· 22 ms/step" in status_markdown(fast)  # a tiny pre-training model's pace, not "0.0 s/step"
    assert after.eta_seconds == 3 * 1.0 + 20.0  # three steps and the one evaluation still to come


def test_the_time_a_resumed_run_sat_stopped_is_not_in_its_pace():
    events = [{"event": "started", "time": 0, "max_steps": 8},
              *[{"event": "step", "time": t, "step": t, "loss": 1.0} for t in (1, 2, 3)],
              {"event": "cancelled", "time": 3, "message": "Stopped."},
              {"event": "resumed", "time": 500, "message": ""},
              {"event": "started", "time": 503, "max_steps": 8, "step": 3},
              {"event": "step", "time": 504, "step": 4, "loss": 1.0}]
    summary = summarize("run", events)
    assert summary.status == "running" and summary.paused_seconds == 500
    assert summary.seconds_per_step == 1.0 and summary.eta_seconds == 4.0  # not (504 s / 4 steps)


def test_the_page_opens_on_a_running_run_or_on_none():
    old = RunSummary("20260101-000000-old", status="cancelled", step=4, max_steps=40)
    live = RunSummary("20260101-000100-live", status="running", step=2, max_steps=40)
    assert shown_run(None, [old]) is None and status_markdown(None) == NO_RUN
    assert shown_run(None, [live, old]) == live.run_id
    assert shown_run(old.run_id, [live, old]) == old.run_id  # the user's own choice stays
    assert "No differences" in diff_note(2, []) and "Pick two" in diff_note(0, [])


def test_a_sample_of_newlines_only_shows_them():
    summary = RunSummary("run", probes=[{"step": 20, "samples": [{"kind": "continuation", "prompt": "ROMEO:\n",
                                                                  "completion": "\n\n\n"}]}])
    assert probe_rows(summary) == [[20, "ROMEO:↵", "↵↵↵"]]
