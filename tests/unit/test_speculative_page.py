"""The Faster decoding page's translation: the draft model box is read only by the draft model method, and
the summary counts the draft model's forwards."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from playground.core.errors import InvalidInputError
from tabs.prompt_lab.speculative import draft_box, request_from, summary_markdown

VIEW = SimpleNamespace(**{name: name for name in ("lab_model", "chat", "prompt", "method", "draft_model",
                                                  "max_new_tokens")})


def values(method: str, draft: str) -> dict:
    return {"lab_model": "big", "chat": False, "prompt": "Hi", "method": method, "draft_model": draft,
            "max_new_tokens": 16}


def test_the_draft_box_counts_only_for_the_draft_model_method():
    assert request_from(VIEW, values("prompt lookup", "left over")).draft_model == ""
    request = request_from(VIEW, values("draft model", " small "))
    assert (request.method, request.draft_model, request.max_new_tokens) == ("draft model", " small ", 16)
    with pytest.raises(InvalidInputError, match="needs a draft model"):
        request_from(VIEW, values("draft model", ""))
    assert draft_box("draft model").interactive and not draft_box("prompt lookup").interactive


def test_the_summary_counts_the_draft_models_forwards():
    result = {"new_tokens": 20, "forwards": 6, "acceptance": 0.5, "seconds": 1.0, "plain_seconds": 2.0,
              "speedup": 2.0, "same_as_greedy": True, "method": "draft model", "draft_forwards": 30}
    text = summary_markdown(result)
    assert "**20 tokens in 6 forward passes** (and 30 of the draft model)" in text and "2.00x" in text
    assert "draft model" not in summary_markdown({**result, "method": "prompt lookup"})
