"""The pre-training worker: one run folder in, events and a saved model out.

Started by the fine-tuning runner through its own entry point (``python -m playground.finetune --config
runs/<id>/config.json``, which hands a ``kind: pretrain`` or ``pretrain_sweep`` folder here), so Stop (the
STOP file), the pid checks, status and the run list are the fine-tuning runs' own. A single run saves its
model and tokenizer with ``save_pretrained`` into ``model/``, a folder any tab loads as a local model. A
single run keeps a checkpoint (:mod:`playground.pretrain.checkpoint`) after every evaluation and on Stop, and
Resume continues it from there: the same data order and masks, its curves continuing, its end the same as an
uninterrupted run's. A sweep keeps none: Resume continues it from its first unfinished point.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from pathlib import Path
from typing import Any

from playground.finetune.events import EVENTS, append_event, read_events
from playground.finetune.train import STOP_FILE, failure_message
from playground.pretrain import checkpoint
from playground.pretrain.config import BPE, PretrainConfig, read_json
from playground.pretrain.corpus import make_corpus, training_rows
from playground.pretrain.loop import TrainSettings, train
from playground.pretrain.sizes import build_model, count_parameters
from playground.pretrain.sweep import SweepConfig, SweepPoint
from playground.pretrain.tokenizer import special_ids, train_bpe, with_pretraining_tokens

MODEL = "model"
PREVIOUS_EVENTS = "events.before-resume.jsonl"
RESTART_NOTE = ("No checkpoint was saved yet: Resume starts this run again from step 0 "
                "(the same seed gives the same run).")


def run(run_dir: Path, resume: bool = False) -> int:
    """Train what ``run_dir/config.json`` describes; every failure ends as a ``failed`` event. Returns an exit code.

    With ``resume`` a single run continues from its last checkpoint (the runner has already cut its events back
    to it: :func:`prepare_events`); a sweep always skips the points its events say are done."""
    try:
        kind = read_json(run_dir / "config.json").get("kind")
        if kind == "pretrain_sweep":
            run_sweep(run_dir, SweepConfig.load(run_dir / "config.json"))
        else:
            run_single(run_dir, PretrainConfig.load(run_dir / "config.json"), resume=resume)
        return 0
    except BaseException as error:  # noqa: BLE001 - a worker never dies without a last word
        if not isinstance(error, KeyboardInterrupt):
            traceback.print_exc()
        append_event(run_dir, "failed", message=failure_message(error))
        return 130 if isinstance(error, KeyboardInterrupt) else 1


def make_tokenizer(config: PretrainConfig, corpus_text: str) -> Any:
    """A BPE learned on the training text, or a model's tokenizer with the pad, mask and sentinel tokens added."""
    if config.tokenizer == BPE:
        return train_bpe(corpus_text, config.vocab_size)
    from transformers import AutoTokenizer

    from playground.core.settings import Settings
    from playground.models.registry import resolve

    source = resolve(config.tokenizer, Settings.from_env(), "tokenizer")
    return with_pretraining_tokens(AutoTokenizer.from_pretrained(source.location))


def stop_requested(run_dir: Path) -> bool:
    return (run_dir / STOP_FILE).exists()


def resume_message(run_dir: Path) -> str:
    """What Resume will do for this single run, from what its folder holds."""
    step = checkpoint.last_step(run_dir)
    return f"Resume continues from step {step}." if step else RESTART_NOTE


def prepare_events(run_dir: Path) -> None:
    """Before a single run resumes: with a checkpoint, the events after its step (a killed worker's last
    steps) are dropped, so the curves continue without doubled steps; without one, the old events are set
    aside and the run starts again. Either way a ``resumed`` event makes the status read "queued" at once."""
    step = checkpoint.last_step(run_dir)
    if step is None:
        if (run_dir / EVENTS).exists():
            os.replace(run_dir / EVENTS, run_dir / PREVIOUS_EVENTS)
        append_event(run_dir, "note", message=RESTART_NOTE)
    else:
        kept = [event for event in read_events(run_dir)
                if event.get("event") not in ("step", "eval", "evaluating", "checkpoint")
                or int(event.get("step", 0)) <= step]
        temporary = run_dir / (EVENTS + ".tmp")
        temporary.write_text("".join(json.dumps(event, ensure_ascii=False) + "\n" for event in kept),
                             encoding="utf-8")
        os.replace(temporary, run_dir / EVENTS)
    append_event(run_dir, "resumed", message="")


def run_single(run_dir: Path, config: PretrainConfig, resume: bool = False) -> None:
    """One model from scratch (or from its last checkpoint): tokenizer, rows, model, the loop's events, then
    ``model/`` before the last word."""
    text = None if config.corpus == "shakespeare" else config.text
    corpus = make_corpus(text)
    tokenizer = make_tokenizer(config, corpus.train)
    settings = config.settings()
    train_rows, held_out = training_rows(corpus, tokenizer, config.context, settings.steps * settings.batch_size,
                                         settings.eval_sequences)
    rows = checkpoint.fingerprint(train_rows)
    model = build_model(config.size(len(tokenizer)), special_ids(tokenizer), seed=config.seed)
    counted = count_parameters(model)
    start = checkpoint.load(run_dir, model, rows) if resume else None
    if start is not None:
        append_event(run_dir, "note", message=f"Resumed from the checkpoint of step {start.step}.")
    else:
        _describe(run_dir, config, corpus.notes, tokenizer, counted, len(train_rows), len(held_out))
    ending: dict[str, Any] = {}

    def on_event(kind: str, data: dict[str, Any]) -> None:
        if kind in ("finished", "cancelled"):
            ending.update(kind=kind, **data)  # written after the model is saved, so "finished" means loadable
        else:
            append_event(run_dir, kind, **data)

    def on_checkpoint(state: Any) -> None:
        saved = checkpoint.save(run_dir, model, state, rows)
        append_event(run_dir, "checkpoint", step=state.step, path=str(saved))

    train(model, tokenizer, config.objective, train_rows, held_out, settings, on_event,
          should_stop=lambda: stop_requested(run_dir), start=start, on_checkpoint=on_checkpoint)
    saved = run_dir / MODEL
    model.save_pretrained(str(saved))
    tokenizer.save_pretrained(str(saved))
    kind = ending.pop("kind")
    ending["message"] = (f"Stopped at step {ending['step']}; model saved. {resume_message(run_dir)}"
                         if kind == "cancelled" else
                         f"Finished {ending['step']} steps; model saved in model/ (load it as a local model).")
    append_event(run_dir, kind, model=str(saved), params=counted.non_embedding, **ending)


def _describe(run_dir: Path, config: PretrainConfig, notes: tuple[str, ...], tokenizer: Any, counted: Any,
              train_sequences: int, held_out_sequences: int) -> None:
    """The run's opening events (the corpus' notes, the model's size), written once: not again on Resume."""
    for note in notes:
        append_event(run_dir, "note", message=note)
    append_event(run_dir, "model", method="pretrain", family=config.family, objective=config.objective,
                 vocab=len(tokenizer), train_sequences=train_sequences, held_out_sequences=held_out_sequences,
                 **counted.to_dict())
    append_event(run_dir, "note", message=f"{config.family} of {counted.non_embedding:,} non-embedding parameters "
                 f"({counted.total:,} in all), {len(tokenizer):,}-token vocabulary, {train_sequences:,} training "
                 f"sequences of {config.context} tokens.")


def done_points(run_dir: Path) -> dict[int, dict[str, Any]]:
    """The sweep's finished points by index (what a resumed sweep skips)."""
    return {int(event["index"]): event for event in read_events(run_dir) if event.get("event") == "point"}


def run_sweep(run_dir: Path, config: SweepConfig) -> None:
    """Every point of the plan in turn, one BPE for all; steps are counted across the whole sweep."""
    plan = config.plan()
    done = done_points(run_dir)
    corpus = make_corpus()
    tokenizer = train_bpe(corpus.train, config.vocab_size)
    longest = max(point.steps for point in plan)
    train_rows, held_out = training_rows(corpus, tokenizer, config.context, longest * config.batch_size,
                                         config.eval_sequences)
    offset = sum(point.steps for point in plan if point.index in done)
    append_event(run_dir, "started", max_steps=sum(point.steps for point in plan), step=offset,
                 eval_every=0, points=[point.to_dict() for point in plan])
    began = time.perf_counter()
    for point in plan:
        if point.index in done:
            continue
        if stop_requested(run_dir):
            break
        append_event(run_dir, "note", message=f"Point {point.index + 1}/{len(plan)}: {point.size.layers} layers x "
                     f"{point.size.width} wide ({point.params:,} parameters), {point.steps} steps for "
                     f"{point.budget:.0e} FLOPs.")
        result = _train_point(run_dir, config, point, tokenizer, train_rows, held_out, offset)
        offset += result.steps
        if result.stopped:
            break
        append_event(run_dir, "point", **point.to_dict(), eval_loss=result.final_eval_loss,
                     seconds=result.seconds)
    finished = len(done_points(run_dir))
    kind = "finished" if finished == len(plan) else "cancelled"
    append_event(run_dir, kind, step=offset, train_seconds=time.perf_counter() - began,
                 message=f"{finished} of {len(plan)} points trained" +
                 ("." if kind == "finished" else "; Resume continues from the next unfinished point."))


def _train_point(run_dir: Path, config: SweepConfig, point: SweepPoint, tokenizer: Any, train_rows: Any,
                 held_out: Any, offset: int) -> Any:
    """One point, its step events shifted by the steps before it; its own evaluations stay in the point event."""
    from playground.pretrain.objectives import OBJECTIVES

    settings = TrainSettings(steps=point.steps, batch_size=config.batch_size, learning_rate=config.learning_rate,
                             eval_every=point.steps, eval_sequences=config.eval_sequences, seed=config.seed,
                             sample_tokens=8)
    model = build_model(point.size.with_vocab(len(tokenizer)), special_ids(tokenizer), seed=config.seed)

    def on_event(kind: str, data: dict[str, Any]) -> None:
        if kind == "step":
            append_event(run_dir, "step", **{**data, "step": data["step"] + offset, "point": point.index})

    return train(model, tokenizer, OBJECTIVES[config.family], train_rows, held_out, settings, on_event,
                 should_stop=lambda: stop_requested(run_dir))
