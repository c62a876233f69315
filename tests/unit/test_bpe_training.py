"""Training a BPE on the user's text with the tokenizers library (issue 19's "Train your own")."""

from __future__ import annotations

import time

import pytest

from playground.core.errors import InvalidInputError
from playground.text.bpe_training import (
    MAX_TRAIN_CHARS,
    default_training_text,
    train_bpe,
    training_report,
)


def test_merges_are_learned_most_frequent_first_and_shrink_the_sentence():
    report = training_report(default_training_text(), "The lighthouse keeper climbed the stairs.")
    counts = [merge.count for merge in report.merges]
    assert len(report.merges) == 30 and counts[0] == max(counts) and all(c >= 2 for c in counts)
    assert report.merges[2].left + report.merges[2].right == report.merges[2].merged
    sizes = [stage.num_tokens for stage in report.stages]
    assert sizes[0] > sizes[1] >= sizes[2] and all(stage.round_trip for stage in report.stages)
    for stage in report.stages:  # spans cover the sentence, in order
        assert "".join(stage.text[t.start:t.end] for t in stage.tokens) == stage.text
    data = report.to_dict()
    assert [s["merges"] for s in data["stages"]] == [100, 500, 2000] and data["num_merges"] > 500
    assert data["stages"][2]["applied"] == data["num_merges"] < 2000 and "not 2,000" in data["notes"][0]


def test_a_few_pages_train_fast_enough_to_be_live():
    text = default_training_text() * 3  # about 30,000 characters: a dozen pages
    began = time.perf_counter()
    training_report(text, "Tokenizers split words.")
    assert time.perf_counter() - began < 3


def test_odd_unicode_round_trips():
    text = "naïve café 🤖🤖 zero\u200bwidth עברית مرحبا " * 20 + "\ud800 lone surrogate"
    trained = train_bpe(text)
    result = trained.tokenize("café 🤖 עברית\u200b", len(trained.merges))
    assert result.round_trip and result.num_tokens < len("café 🤖 עברית\u200b".encode())


@pytest.mark.parametrize(("text", "message"), [
    ("", "Paste some text"), ("   \n", "Paste some text"), ("ab", "Nothing to merge"),
    ("x" * (MAX_TRAIN_CHARS + 1), "the limit here is"),
])
def test_bad_training_text_gets_a_clear_message(text, message):
    with pytest.raises(InvalidInputError, match=message):
        training_report(text, "hello")


def test_an_empty_sentence_is_refused():
    with pytest.raises(InvalidInputError, match="Type a sentence"):
        training_report(default_training_text(), " ")
