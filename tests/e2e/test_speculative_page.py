"""A user decodes a copying prompt with prompt lookup and sees accepted drafts and the speed against greedy."""

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
