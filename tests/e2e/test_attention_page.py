"""A user types a sentence in the attention tab, sees the heatmap, and changes layer and head."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def plot_title(page) -> str:
    return page.locator("#attn-head-plot .gtitle").inner_text()


def test_heatmap_appears_and_follows_layer_and_head(page):
    page.get_by_role("tab", name="Attention").click()
    title = page.locator("#attn-head-plot .gtitle")
    expect(title).to_contain_text("layer 0 · head 0", timeout=60_000)

    box = page.locator("#attn-text textarea")
    box.fill("")
    box.type("Cats chase mice at night", delay=5)
    notice = page.locator("#attn-notice")
    expect(notice).to_contain_text("5 tokens", timeout=30_000)
    expect(page.locator("#attn-head-plot .ytick", has_text="night")).to_have_count(1, timeout=30_000)

    layer_input = page.locator("#attn-layer input[type=number]")
    layer_input.fill("7")
    layer_input.press("Enter")
    expect(title).to_contain_text("layer 7 · head 0", timeout=30_000)
    head_input = page.locator("#attn-head-slider input[type=number]")
    head_input.fill("4")
    head_input.press("Enter")
    expect(title).to_contain_text("layer 7 · head 4", timeout=30_000)
