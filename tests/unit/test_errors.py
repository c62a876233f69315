"""One line of an error for the page: never blank, never a wall of text, never an IndexError."""

from __future__ import annotations

import pytest

from playground.core.errors import InvalidInputError, first_line
from playground.core.settings import Settings
from playground.finetune.config import FinetuneConfig
from playground.finetune.data import load_pairs
from playground.finetune.train import failure_message
from playground.models.registry import ModelSource, load_error
from tabs.shared.common import as_user_error


def test_an_exception_without_a_message_is_named_by_its_type():
    assert first_line(TimeoutError()) == "TimeoutError"
    assert first_line(ValueError("   \n  ")) == "ValueError"
    assert first_line(TimeoutError(), with_type=True) == "TimeoutError"


def test_empty_text_stays_empty():
    assert first_line("") == "" and first_line("\n\n") == ""


def test_only_the_first_non_blank_line_is_kept():
    error = OSError("\n  404 Client Error: Not Found for url  \nTraceback (most recent call last):\n  ...")
    assert first_line(error) == "404 Client Error: Not Found for url"
    assert first_line(error, with_type=True) == "OSError: 404 Client Error: Not Found for url"
    assert first_line("one\ntwo") == "one"


def test_an_over_long_line_is_cut_to_the_limit_with_an_ellipsis():
    cut = first_line("x" * 1000, 300)
    assert len(cut) == 300 and cut.endswith("…")
    assert first_line("x" * 300, 300) == "x" * 300
    assert len(first_line(RuntimeError("y" * 1000), 50, with_type=True)) == 50


EMPTY_MESSAGES = [RuntimeError(), RuntimeError(""), RuntimeError("\n")]


@pytest.mark.parametrize("error", EMPTY_MESSAGES)
def test_the_callers_survive_an_empty_message(error, tmp_path):
    """These used to print a blank reason (``ValueError: ``)."""
    assert failure_message(error) == "RuntimeError"
    message = str(load_error(ModelSource("org/model", "org/model", "hub"), Settings(cache_dir=tmp_path), error))
    assert message.endswith("Reason: RuntimeError")
    assert as_user_error(error).message == "Unexpected error (RuntimeError). The app is still running."


@pytest.mark.parametrize("error", EMPTY_MESSAGES)
def test_a_hub_dataset_failing_without_a_message_is_a_clear_error(monkeypatch, error, hub_up):
    """This one used to raise IndexError from ``splitlines()[0]`` instead of the project's error."""
    import datasets

    def fails(*args, **kwargs):
        raise error

    monkeypatch.setattr(datasets, "load_dataset", fails)
    with pytest.raises(InvalidInputError, match=r"Could not load the Hub dataset some/set \(split train\): "
                       r"RuntimeError\. Check the id"):
        load_pairs(FinetuneConfig(dataset="some/set"))


def test_a_page_shows_one_line_of_an_unexpected_error():
    message = as_user_error(ValueError("bad value\nTraceback (most recent call last):")).message
    assert message == "Unexpected error (ValueError: bad value). The app is still running."
