"""A user opens the app, types into the tokenizer tab, and sees spans and counts."""

from __future__ import annotations

import re

import pytest
from gradio_client import Client
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def column(page, name: str):
    return page.locator(f'.tok-col[data-tokenizer="{name}"]')


def test_typing_updates_spans_and_counts(page, app_url):
    page.wait_for_selector('.tok-col[data-tokenizer="smollm2-135m-instruct"] .tok', timeout=60_000)
    text = "Tokenizers split unbelievably long words 🤖"
    box = page.locator("#tok-text textarea")
    box.fill("")
    box.type(text, delay=5)

    expected = Client(app_url, verbose=False).predict(text, "smollm2-135m-instruct",
                                                      api_name="/tokenize")
    smol = column(page, "smollm2-135m-instruct")
    smol.locator(".stat-tokens", has_text=f"{expected['num_tokens']} tokens").wait_for(timeout=30_000)
    spans = smol.locator(".tok")
    assert spans.count() == expected["num_tokens"]
    first = spans.first
    assert re.search(rf"id {expected['tokens'][0]['id']}\b", first.get_attribute("title"))
    assert smol.locator(".tok-frag").count() >= 1  # the emoji's byte pieces

    # The encoder's column shows its added [CLS]/[SEP] and the lossy round trip.
    minilm = column(page, "minilm-l6")
    assert minilm.locator(".tok-special", has_text="[CLS]").count() == 1
    assert "lossy round trip" in minilm.inner_text()

    # The comparison table has one row per tokenizer with the same count.
    table = page.locator("#tok-table")
    expect(table).to_contain_text("smollm2-135m-instruct", timeout=30_000)
    expect(table).to_contain_text(str(expected["num_tokens"]))


def test_unchecking_a_tokenizer_removes_its_column(page):
    page.wait_for_selector('.tok-col[data-tokenizer="cl100k_base"]', timeout=60_000)
    page.locator("#tok-choice").get_by_label("cl100k_base").uncheck()
    page.wait_for_selector('.tok-col[data-tokenizer="cl100k_base"]', state="detached", timeout=30_000)
    assert column(page, "minilm-l6").count() == 1


def test_an_unknown_hub_tokenizer_gets_an_error_column_not_a_crash(page):
    page.wait_for_selector(".tok-col .tok", timeout=60_000)
    extra = page.get_by_label(re.compile("More tokenizers"))
    extra.press_sequentially("nobody/no-such-tokenizer", delay=10)  # typed, as a user does
    expect(extra).to_have_value("nobody/no-such-tokenizer")
    extra.press("Enter")
    error = page.locator('.tok-error[data-tokenizer="nobody/no-such-tokenizer"]')
    error.wait_for(timeout=60_000)
    assert "Could not load" in error.inner_text()
    assert column(page, "smollm2-135m-instruct").locator(".tok").count() > 0


def test_chat_template_view(page):
    page.wait_for_selector(".tok-col .tok", timeout=60_000)
    page.get_by_text("Chat template: a conversation as the model sees it").click()
    page.get_by_role("button", name="Render with the chat template").click()
    view = page.locator("#chat-view")
    view.locator(".tok-special", has_text="<|im_start|>").first.wait_for(timeout=30_000)
    assert re.search(r"\d+ tokens", view.inner_text())


def test_the_comparison_table_shows_all_ten_columns(page):
    """Issue 19: beside the chart, 6 of the 10 columns showed and nothing said the table scrolled."""
    page.wait_for_selector("#tok-table .body-cell", timeout=60_000)
    table = page.locator("#tok-table").bounding_box()
    headers = page.locator("#tok-table th.header-cell")
    names = [header.inner_text().strip() for header in headers.all()]
    assert {"Tokenizer", "Round trip", "Context", "Past context"} <= set(names)
    for header in headers.all():
        box = header.bounding_box()
        assert box["x"] + box["width"] <= table["x"] + table["width"] + 1, header.inner_text()


def test_a_pinned_tokens_details_stay_inside_its_column(page):
    """Issue 19: the pinned details were cut off at the column's edge."""
    col = column(page, "cl100k_base")
    col.locator(".tok").first.wait_for(timeout=60_000)
    bounds = col.bounding_box()
    tokens = col.locator(".tok")
    rightmost = max(range(tokens.count()), key=lambda i: tokens.nth(i).bounding_box()["x"])
    tokens.nth(rightmost).click()  # the token nearest the right edge: the worst case
    tip = tokens.nth(rightmost).locator(".tok-tip")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("id ")
    box = tip.bounding_box()
    assert bounds["x"] <= box["x"] and box["x"] + box["width"] <= bounds["x"] + bounds["width"]
    # Nothing clips it: the point at each of its corners is the tip itself.
    for x, y in ((box["x"] + 2, box["y"] + 2), (box["x"] + box["width"] - 2, box["y"] + box["height"] - 2)):
        assert page.evaluate("([x, y]) => document.elementFromPoint(x, y).classList.contains('tok-tip')", [x, y])


def test_train_your_own_bpe(page):
    page.wait_for_selector(".tok-col .tok", timeout=60_000)
    page.get_by_text("Train your own").click()
    stages = page.locator("#bpe-stages .tok-col")
    expect(stages).to_have_count(3, timeout=30_000)
    expect(stages.first).to_contain_text("100 merges")
    expect(page.locator("#bpe-summary")).to_contain_text("Learned")
    expect(page.locator("#bpe-merges")).to_contain_text("·t")  # " t" is the first pair English text merges
    page.locator("#bpe-sentence textarea").fill("Quenmoor lanterns")
    expect(stages.nth(1).locator(".stat-tokens")).to_be_visible()
    expect(stages.first.locator(".tok-spans")).to_contain_text("Quenmoor", timeout=30_000)
    page.locator("#bpe-text textarea").fill("ab")  # too little text: a message, and the app goes on
    expect(page.get_by_text("Nothing to merge").first).to_be_visible(timeout=30_000)
