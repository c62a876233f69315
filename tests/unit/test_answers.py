"""Reading answers out of model text, and the accuracy interval."""

from __future__ import annotations

import pytest

from playground.prompting.answers import extract, is_correct, majority, normalize, wilson_interval

LABELS = ("positive", "negative")


@pytest.mark.parametrize(("output", "kind", "expected"), [
    (" positive\n", "label", "positive"),
    ("The review is Negative overall.", "label", "negative"),
    ("It sounds positive at first. Sentiment: negative", "label", "negative"),
    ("no idea", "label", None),
    (" 19", "number", "19"),
    ("12 + 7 = 19. The answer is 19.", "number", "19"),
    ("First 3 apples, then 4 more, so 7 in all", "number", "7"),
    ("Answer: 1,200 coins", "number", "1200"),
    (" Tokyo (Japan)", "text", "tokyo japan"),
    ("São Paulo!\nmore text", "text", "sao paulo"),
])
def test_extract(output, kind, expected):
    assert extract(output, kind, "Sentiment" if kind == "label" else "Answer", LABELS) == expected


def test_json_answers_need_parseable_json_with_the_key():
    assert extract('{"sentiment": "Positive"}', "label", "Sentiment", LABELS, "sentiment") == "positive"
    assert extract('{"Sentiment":"negative"} and more', "label", "Sentiment", LABELS, "sentiment") == "negative"
    assert extract('{"mood": "positive"}', "label", "Sentiment", LABELS, "sentiment") is None
    assert extract("positive", "label", "Sentiment", LABELS, "sentiment") is None


@pytest.mark.parametrize(("answer", "expected", "kind", "correct"), [
    ("19", "19", "number", True), ("19.0", "19", "number", True), ("18", "19", "number", False),
    ("positive", "Positive", "label", True), (None, "positive", "label", False),
    ("new york city", "New York", "text", True), ("york", "New York", "text", False),
    ("the event is at the convention", "New York", "text", False),
])
def test_is_correct(answer, expected, kind, correct):
    assert is_correct(answer, expected, kind) is correct


def test_majority_vote_ignores_unreadable_answers_and_keeps_first_on_ties():
    assert majority(["7", None, "8", "7"]) == "7"
    assert majority(["8", "7"]) == "8"
    assert majority([None, None]) is None


def test_wilson_interval_known_values():
    low, high = wilson_interval(0, 10)
    assert low == 0 and high == pytest.approx(0.2775, abs=1e-3)
    low, high = wilson_interval(30, 40)
    assert low == pytest.approx(0.5980, abs=1e-3) and high == pytest.approx(0.8579, abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_normalize():
    assert normalize("  Kuala   LUMPUR. ") == "kuala lumpur"
