"""One rule for numbers from sliders and JSON, whichever part of the library reads them."""

from __future__ import annotations

import pytest

from playground.core.errors import InvalidInputError
from playground.finetune.config import FinetuneConfig
from playground.generation.sampling import SamplingSettings
from playground.rag.chunking import check_sizes

WHOLE = {  # a reader of one whole-number setting, and the setting's name and range
    "sampling": (lambda value: SamplingSettings(max_new_tokens=value).max_new_tokens, "max_new_tokens", 1, 2048),
    "fine-tuning": (lambda value: FinetuneConfig(max_seq_length=value).max_seq_length, "max_seq_length", 16, 8192),
    "chunking": (lambda value: check_sizes(value, 0)[0], "chunk_size", 16, 1024),
}
FRACTION = {  # the same for a setting that takes any number in a range
    "sampling": (lambda value: SamplingSettings(top_p=value).top_p, "top_p"),
    "fine-tuning": (lambda value: FinetuneConfig(learning_rate=value).learning_rate, "learning_rate"),
}


@pytest.mark.parametrize("value", [128, 128.0])
@pytest.mark.parametrize("reader", sorted(WHOLE))
def test_a_whole_number_and_its_float_are_both_accepted_as_an_int(reader, value):
    read, *_ = WHOLE[reader]
    result = read(value)
    assert result == 128 and type(result) is int


@pytest.mark.parametrize("value", [32.5, True, False, "12", None, 0, 10**6, pytest.param(10**400, id="10**400"),
                                   float("inf"), float("nan")])
@pytest.mark.parametrize("reader", sorted(WHOLE))
def test_anything_else_is_refused_naming_the_field_its_range_and_a_hint(reader, value):
    read, name, low, high = WHOLE[reader]
    with pytest.raises(InvalidInputError) as refused:
        read(value)
    assert refused.value.args[0].startswith(f"{name} must be a whole number from {low:,} to {high:,}, got ")
    assert refused.value.args[0].endswith(").") and " (" in refused.value.args[0]  # the hint


@pytest.mark.parametrize("value", [32.5, True, "12", None, 0, 10**6])
def test_attention_and_retrieval_refuse_by_the_same_rule(workspace, value):
    """Both check before any model loads or any collection is read."""
    readers = {"max_tokens": lambda: workspace.attention.compute("Some text.", "minilm-l6", value),
               "top_k": lambda: workspace.rag.index.search("nobody", "A question?", value)}
    for name, read in readers.items():
        refusal = rf"^{name} must be a whole number from \d+ to \d+, got .+ \(.+\)\.$"
        with pytest.raises(InvalidInputError, match=refusal):
            read()


def test_chunk_overlap_must_stay_below_the_chunk_size():
    assert check_sizes(32.0, 31.0) == (32, 31)
    with pytest.raises(InvalidInputError, match=r"overlap must be a whole number from 0 to 31, got 32 \(.+\)"):
        check_sizes(32, 32)


@pytest.mark.parametrize("value", [0.05, 1e-3])
@pytest.mark.parametrize("reader", sorted(FRACTION))
def test_a_number_in_range_is_accepted_as_a_float(reader, value):
    read, _ = FRACTION[reader]
    assert read(value) == value and type(read(value)) is float


@pytest.mark.parametrize("value", [True, "0.05", None, float("nan"), 0, -1,
                                   pytest.param(10**400, id="10**400")])
@pytest.mark.parametrize("reader", sorted(FRACTION))
def test_other_numbers_are_refused_the_same_way(reader, value):
    read, name = FRACTION[reader]
    with pytest.raises(InvalidInputError, match=rf"^{name} must be (a number|above 0).* \(.+\)\.$"):
        read(value)


def test_the_pages_sampling_controls_follow_the_same_rule():
    """The widgets' values reach the settings as they are: ``int(32.5)`` used to make it 32 quietly."""
    from tabs.shared.sampling_controls import to_settings

    assert to_settings(128.0, 0.0, 0.0, 1.0, 1.2, None, "") == SamplingSettings(max_new_tokens=128)
    with pytest.raises(InvalidInputError, match="max_new_tokens must be a whole number from 1 to 2,048, got 32.5"):
        to_settings(32.5, 0.0, 0.0, 1.0, 1.2, 0, "")
