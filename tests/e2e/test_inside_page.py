"""A user opens Inside the model, sees every panel drawn, and grows the text by the top token."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_the_panels_draw_and_append_grows_the_text(page):
    page.get_by_role("tab", name="Inside the model").click()
    expect(page.locator("#inside-notice")).to_contain_text("30 layers x 9 heads", timeout=90_000)
    expect(page.locator("#inside-diagram .gtitle")).to_contain_text("134.5M parameters", timeout=30_000)
    expect(page.locator("#inside-card")).to_contain_text("134,515,008")
    page.get_by_role("tab", name="Next token").click()
    expect(page.locator("#inside-dist-plot .gtitle")).to_contain_text("Next token after", timeout=30_000)
    expect(page.locator("#inside-dist-plot .ytick", has_text="Berlin")).to_have_count(1)
    page.locator("#inside-append").click()
    expect(page.locator("#inside-text textarea")).to_have_value(
        "The capital of France is Paris. The capital of Germany is Berlin", timeout=30_000)
    page.get_by_role("tab", name="Logit lens").click()
    expect(page.locator("#inside-lens-plot .gtitle")).to_contain_text("Logit lens", timeout=30_000)
    page.get_by_role("tab", name="Attribution and ablation").click()
    expect(page.locator("#inside-attr-plot .gtitle")).to_contain_text("Direct contribution", timeout=30_000)
    page.get_by_role("tab", name="Architecture").click()
    page.locator("#inside-model input").fill("minilm-l6")
    page.locator("#inside-model input").press("Enter")
    expect(page.locator("#inside-diagram .gtitle")).to_contain_text("minilm-l6 · BertModel", timeout=60_000)
    expect(page.locator("#inside-notice")).to_contain_text("bidirectional encoder", timeout=30_000)
