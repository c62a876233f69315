"""A user decodes a copying prompt with prompt lookup (or with a draft model) and sees accepted drafts and the
speed against greedy."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_prompt_lookup_shows_accepted_drafts(page):
    page.get_by_role("tab", name="Prompt lab").click()
    page.get_by_role("tab", name="Faster decoding").click()
    page.locator("#spec-run").click()
    expect(page.locator("#spec-summary")).to_contain_text("the same tokens as plain greedy decoding",
                                                          timeout=90_000)
    expect(page.locator("#spec-summary")).to_contain_text("forward passes")
    expect(page.locator("#spec-output .spec-draft").first).to_be_visible()


def test_a_draft_model_writes_the_guesses(page):
    """Offline, the only draft is the embedded model itself: every guess agrees, and the summary counts the
    draft model's own forward passes."""
    page.get_by_role("tab", name="Prompt lab").click()
    page.get_by_role("tab", name="Faster decoding").click()
    page.get_by_label("draft model", exact=True).check()
    draft = page.locator("#spec-draft textarea, #spec-draft input").first
    expect(draft).to_be_editable()
    draft.fill("smollm2-135m-instruct")
    page.locator("#spec-run").click()
    expect(page.locator("#spec-summary")).to_contain_text("of the draft model", timeout=90_000)
    expect(page.locator("#spec-summary")).to_contain_text("accepted 100% of drafted tokens")
    expect(page.locator("#spec-summary")).to_contain_text("the same tokens as plain greedy decoding")
