"""Issue 36: a tiny model trained from scratch on the shipped corpus learns (its held-out loss falls), each
objective yields its samples, and the events are plain data in the fine-tuning worker's shape."""

from __future__ import annotations

import json

import pytest

from playground.core.errors import InvalidInputError
from playground.pretrain.corpus import make_corpus, training_rows
from playground.pretrain.loop import TrainSettings, train
from playground.pretrain.objectives import OBJECTIVES
from playground.pretrain.sizes import ModelSize, build_model
from playground.pretrain.tokenizer import special_ids
from tests.unit.pretrain_fixtures import small_bpe


def run(family: str, settings: TrainSettings, context: int = 64, width: int = 64):
    tokenizer = small_bpe()
    size = ModelSize(family, layers=2, width=width, heads=2, context=context, vocab=len(tokenizer))
    train_rows, held_out = training_rows(make_corpus(), tokenizer, context,
                                         settings.steps * settings.batch_size, settings.eval_sequences)
    events: list[tuple[str, dict]] = []
    result = train(build_model(size, special_ids(tokenizer), seed=settings.seed), tokenizer, OBJECTIVES[family],
                   train_rows, held_out, settings, on_event=lambda kind, data: events.append((kind, data)))
    return result, events


def test_a_tiny_decoder_learns_the_corpus_within_seconds():
    settings = TrainSettings(steps=60, batch_size=8, eval_every=30, eval_sequences=8)
    result, events = run("decoder", settings)
    first, last = result.eval_losses[0][1], result.eval_losses[-1][1]
    assert [step for step, _ in result.eval_losses] == [0, 30, 60]
    assert first > 6.5 and last < first - 0.8  # ln(1024) = 6.9 at random; unigram statistics come first
    assert result.tokens_seen == 60 * 8 * 64 and result.steps == 60 and not result.stopped
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "started" and kinds[-1] == "finished" and kinds.count("step") == 60
    assert kinds.count("eval") == 3 and kinds.count("evaluating") == 3
    json.dumps(events)  # plain data, ready for events.jsonl
    step = next(data for kind, data in events if kind == "step")
    assert set(step) >= {"step", "loss", "lr", "grad_norm"}
    assert result.samples[-1]["samples"][0]["kind"] == "continuation"


@pytest.mark.parametrize("family, kind", [("encoder", "filled masks"), ("encoder-decoder", "filled spans")])
def test_encoders_train_and_fill_their_blanks(family, kind):
    settings = TrainSettings(steps=4, batch_size=4, eval_every=4, eval_sequences=4, sample_tokens=8)
    result, events = run(family, settings, context=48, width=32)
    json.dumps(events)
    sample = result.samples[-1]["samples"][0]
    assert sample["kind"] == kind
    assert ("[MASK]" if family == "encoder" else "<extra_id_0>") in sample["input"]
    assert all(loss == loss for _, loss in result.eval_losses)  # finite, not NaN


def test_the_same_seed_gives_the_same_run_and_a_stop_request_is_honoured():
    settings = TrainSettings(steps=3, batch_size=2, eval_every=3, eval_sequences=2, sample_tokens=4)
    first, _ = run("decoder", settings, context=32, width=32)
    again, _ = run("decoder", settings, context=32, width=32)
    assert first.losses == again.losses and first.eval_losses == again.eval_losses
    tokenizer = small_bpe()
    size = ModelSize("decoder", 1, 32, 2, 32, len(tokenizer))
    rows, held_out = training_rows(make_corpus(), tokenizer, 32, 6, 2)
    kinds = []
    stopped = train(build_model(size, special_ids(tokenizer)), tokenizer, "clm", rows, held_out, settings,
                    on_event=lambda kind, data: kinds.append(kind), should_stop=lambda: len(kinds) > 4)
    assert stopped.stopped and stopped.steps < 3 and kinds[-1] == "cancelled"


@pytest.mark.parametrize("changes, message", [({"steps": 0}, "Steps must be"), ({"schedule": "linear"}, "Schedule"),
                                              ({"learning_rate": 0}, "Learning rate")])
def test_bad_settings_are_refused(changes, message):
    with pytest.raises(InvalidInputError, match=message):
        TrainSettings(**changes)
