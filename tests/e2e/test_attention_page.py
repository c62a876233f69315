"""A user types a sentence in the attention tab, sees the heatmap, and changes layer and head."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.typing import set_number

pytestmark = pytest.mark.e2e

MODEL = "smollm2-135m-instruct"  # the tab's default model




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

    set_number(page, "attn-layer", 7)
    expect(title).to_contain_text("layer 7 · head 0", timeout=30_000)
    set_number(page, "attn-head-slider", 4)
    expect(title).to_contain_text("layer 7 · head 4", timeout=30_000)


def test_a_late_refresh_does_not_undo_the_users_slider(page, workspace):
    page.get_by_role("tab", name="Attention").click()
    title = page.locator("#attn-head-plot .gtitle")
    expect(title).to_contain_text("layer 0", timeout=60_000)
    box = page.locator("#attn-text textarea")
    box.type(" And then the dog barked loudly.", delay=2)
    set_number(page, "attn-layer", 12)  # while the refreshes for the typing are still running
    expect(title).to_contain_text("layer 12 · head 0", timeout=30_000)
    # The refresh for the finished text is the last one to come back (text edits run one at a time,
    # always the latest): once the notice counts the whole text's tokens, no refresh is left to land.
    tokens = len(workspace.attention.tokenizers.get(MODEL).encode(box.input_value()))
    expect(page.locator("#attn-notice")).to_contain_text(f"· {tokens} tokens", timeout=30_000)
    expect(page.locator("#attn-layer input[type=number]")).to_have_value("12")
    expect(title).to_contain_text("layer 12 · head 0")


def test_switching_to_the_encoder_clips_layer_and_head(page):
    page.get_by_role("tab", name="Attention").click()
    title = page.locator("#attn-head-plot .gtitle")
    expect(title).to_contain_text("smollm2", timeout=60_000)
    set_number(page, "attn-layer", 20)
    expect(title).to_contain_text("layer 20", timeout=30_000)
    page.locator("#attn-model input").fill("minilm-l6")
    page.locator("#attn-model input").press("Enter")
    expect(title).to_contain_text("minilm-l6 · layer 5 · head 0", timeout=30_000)
    expect(page.locator("#attn-notice")).to_contain_text("bidirectional · 6 layers x 12 heads")


def test_pinned_token_defaults_to_the_last_and_can_be_changed(page):
    page.get_by_role("tab", name="Attention").click()
    expect(page.locator("#attn-head-plot .gtitle")).to_contain_text("layer 0", timeout=60_000)
    page.get_by_role("tab", name="Pin a token").click()
    pinned = page.locator(".js-plotly-plot .gtitle", has_text="Where token")
    expect(pinned).to_contain_text("12 .", timeout=30_000)  # the default text's last token
    expect(pinned).to_contain_text("took")  # the sink is hidden by default, with its share
    page.locator("#attn-pin input").click()
    page.get_by_role("option", name="2 ·didn").click()
    expect(pinned).to_contain_text("2 ·didn", timeout=30_000)
    # A new text starts again from its own last token, not the old index (issue 19).
    box = page.locator("#attn-text textarea")
    box.fill("Cats chase mice at night")
    expect(pinned).to_contain_text("4 ·night", timeout=30_000)


def test_causal_vs_bidirectional_follows_the_layer_and_head(page):
    page.get_by_role("tab", name="Attention").click()
    title = page.locator("#attn-head-plot .gtitle")
    expect(title).to_contain_text("layer 0 · head 0", timeout=60_000)
    set_number(page, "attn-layer", 3)
    set_number(page, "attn-head-slider", 5)
    expect(title).to_contain_text("layer 3 · head 5", timeout=30_000)
    page.get_by_role("tab", name="Causal vs bidirectional").click()
    expect(page.locator("#attn-causal-plot .gtitle")).to_contain_text(f"{MODEL} · layer 3 · head 5",
                                                                     timeout=30_000)
    expect(page.locator("#attn-encoder-plot .gtitle")).to_contain_text("minilm-l6 · layer 3 · head 5")
