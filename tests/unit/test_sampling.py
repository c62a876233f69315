"""Sampling settings refuse absurd values with messages a learner can act on."""

from __future__ import annotations

import pytest

from playground.core.errors import InvalidInputError
from playground.generation.sampling import DEFAULT_REPETITION_PENALTY, SamplingSettings, logits_processors


@pytest.mark.parametrize(("field", "value", "message"), [
    ("temperature", -0.5, "temperature must be at least 0"),
    ("temperature", float("nan"), "temperature must be a number"),
    ("max_new_tokens", 0, "max_new_tokens must be a whole number from 1"),
    ("max_new_tokens", 100_000, "max_new_tokens must be a whole number from 1 to 2,048, got 100,000"),
    ("top_p", 0.0, "top_p must be above 0"),
    ("top_p", 1.5, "top_p"),
    ("top_k", -1, "top_k"),
    ("repetition_penalty", 0, "repetition_penalty must be above 0"),
    ("seed", -3, "seed must be a whole number from 0"),
    ("max_new_tokens", 2.5, "whole number"),
])
def test_absurd_settings_are_refused(field, value, message):
    with pytest.raises(InvalidInputError, match=message):
        SamplingSettings(**{field: value})


def test_defaults_are_greedy_with_a_repetition_penalty():
    settings = SamplingSettings()
    assert settings.greedy and settings.repetition_penalty == DEFAULT_REPETITION_PENALTY > 1
    assert [type(p).__name__ for p in logits_processors(settings, 10)] == ["RepetitionPenaltyLogitsProcessor"]


def test_slider_floats_become_ints_and_blank_stops_are_dropped():
    settings = SamplingSettings(max_new_tokens=64.0, seed=7.0, stop=("", "###"))
    assert settings.max_new_tokens == 64 and isinstance(settings.max_new_tokens, int)
    assert settings.stop == ("###",)


def test_sampling_processors_follow_generate_order():
    settings = SamplingSettings(temperature=0.7, top_k=50, top_p=0.9, repetition_penalty=1.1)
    names = [type(p).__name__ for p in logits_processors(settings, 10)]
    assert names == ["RepetitionPenaltyLogitsProcessor", "TemperatureLogitsWarper",
                     "TopKLogitsWarper", "NucleusWarper"]
