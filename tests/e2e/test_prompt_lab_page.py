"""A user writes prompts in the prompt lab, generates, compares two prompts and evaluates."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.layout import headers_split_mid_word
from tests.e2e.typing import set_number

pytestmark = pytest.mark.e2e


def open_lab(page, sub_tab: str | None = None) -> None:
    page.get_by_role("tab", name="Prompt lab").click()
    expect(page.locator("#pl-count")).to_contain_text("tokens in", timeout=60_000)
    if sub_tab:
        page.get_by_role("tab", name=sub_tab).click()


def test_generate_shows_coloured_tokens_with_alternatives(page):
    open_lab(page)
    preview = page.locator("#pl-preview textarea").input_value()
    assert preview.startswith("Classify the sentiment") and preview.endswith("Sentiment:")
    page.click("#pl-generate")
    token = page.locator("#pl-output .gen-tok").first
    expect(token).to_be_visible(timeout=60_000)
    expect(page.locator("#pl-output .gen-stats")).to_contain_text("tokens in", timeout=60_000)
    tip = token.get_attribute("data-tip")
    assert "p = " in tip and "entropy" in tip and "→" in tip
    expect(page.locator("#pl-output")).to_contain_text("positive")
    # The answer ends at the stop string, a newline: its tile shows ↵, as wide as a character, to be hovered.
    tiles = page.locator("#pl-output .gen-tok")
    expect(tiles.last).to_have_text("↵")
    widths = tiles.evaluate_all("tiles => tiles.map(tile => tile.getBoundingClientRect().width)")
    assert min(widths) > 4, widths
    assert_tips_inside_text_box(page, tiles)
    page.get_by_text("Show code").click()
    expect(page.locator("#pl-code")).to_contain_text("AutoModelForCausalLM")


TIP_GEOMETRY = """(token) => {
    const tip = getComputedStyle(token, '::after');
    let holder = token;  // the tip's containing block: the nearest positioned element
    while (getComputedStyle(holder).position === 'static') holder = holder.parentElement;
    const left = holder.getBoundingClientRect().left + parseFloat(tip.left);
    const box = token.closest('.gen-text').getBoundingClientRect();
    return {shown: tip.content !== 'none' && tip.display !== 'none', left: left,
            right: left + parseFloat(tip.width), boxLeft: box.left, boxRight: box.right};
}"""


def assert_tips_inside_text_box(page, tokens) -> None:
    """On a phone-wide page, the tips of the first and last tokens lie within the text box: a tip hung
    from its token and ran past the page's right edge for a token far enough right."""
    viewport = page.viewport_size
    page.set_viewport_size({"width": 360, "height": 800})
    try:
        for token in (tokens.first, tokens.last):
            token.hover()
            geometry = token.evaluate(TIP_GEOMETRY)
            assert geometry["shown"], geometry
            assert geometry["boxLeft"] - 1 <= geometry["left"] < geometry["right"] <= geometry["boxRight"] + 1, geometry
    finally:
        page.mouse.move(0, 0)
        page.set_viewport_size(viewport)


def test_a_missing_variable_is_shown_next_to_the_prompt(page):
    open_lab(page)
    page.get_by_text("Template and system prompt").click()
    template = page.locator("#pl-template textarea")
    template.fill("Translate {{input}} into {{language}}.")
    expect(page.locator("#pl-count")).to_contain_text("{{language}}", timeout=30_000)


def test_two_prompts_side_by_side_and_export(page, tmp_path: Path):
    open_lab(page, "Side by side")
    page.locator("#cmp-prompt-0 textarea").fill("Name a colour.")
    page.locator("#cmp-prompt-1 textarea").fill("Name an animal.")
    page.click("#cmp-run")
    summary = page.locator("#cmp-summary")
    expect(summary).to_contain_text("smollm2-135m-instruct", timeout=60_000)
    expect(page.locator("#cmp-output .tok-col")).to_have_count(2)
    expect(summary).not_to_contain_text("running", timeout=60_000)
    assert summary.inner_text().count("smollm2-135m-instruct") == 2
    assert not re.search(r"\d\.\d{3}", summary.inner_text())  # seconds to the hundredth, not "0.4187"
    page.click("#cmp-export")
    link = page.locator("#cmp-file a").first
    expect(link).to_be_visible(timeout=30_000)
    with page.expect_download() as download:
        link.click()
    path = tmp_path / "comparison.json"
    download.value.save_as(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert [v["prompt"] for v in data["variants"]] == ["Name a colour.", "Name an animal."]
    assert all(v["output"] and v["tokens"] for v in data["variants"])


def test_evaluation_table_and_chart(page):
    open_lab(page, "Evaluate")
    page.locator("#ev-limit input[type=number]").fill("2")
    page.locator("#ev-limit input[type=number]").press("Enter")
    page.click("#ev-run")
    expect(page.locator("#ev-status")).to_contain_text("✅ Scored 4 of 4", timeout=120_000)
    expect(page.locator("#ev-status")).to_contain_text(re.compile(r"items\) in \d+\.\d s\. The answers run together"))
    expect(page.locator("#ev-table")).to_contain_text("Few-shot")
    expect(page.locator("#ev-table")).to_contain_text("Decode s")  # not wall time: the answers overlap
    expect(page.locator("#ev-plot .gtitle")).to_contain_text("Accuracy on")  # was "Press Evaluate"
    assert headers_split_mid_word(page, "#ev-table") == []  # "Correc|t" was cut
    expect(page.get_by_text("with 8 items, ±28 points")).to_be_visible()  # the slider's own default
    expect(page.locator("#ev-chat")).to_have_count(0)  # one chat-template checkbox: the lab's


def test_a_malformed_upload_is_a_clear_message(page, tmp_path: Path):
    open_lab(page, "Evaluate")
    page.locator("#ev-task input").click()
    page.get_by_role("option", name="Upload my own set (JSONL or CSV)").click()
    bad = tmp_path / "broken.jsonl"
    bad.write_text('{"input": "a", "expected": "b"}\n{"input": oops}\n', encoding="utf-8")
    page.locator("#ev-upload input[type=file]").set_input_files(str(bad))
    expect(page.locator("#ev-upload")).to_contain_text("broken.jsonl", timeout=30_000)  # the upload landed
    page.click("#ev-run")
    expect(page.get_by_text("broken.jsonl, line 2: not valid JSON").first).to_be_visible(timeout=30_000)


def test_stop_ends_a_long_generation(page, workspace):
    open_lab(page)
    page.get_by_text("Sampling settings").click()
    set_number(page, "gen-max-new", 600)
    page.locator("#gen-stop textarea").fill("")
    page.click("#pl-generate")
    tokens = page.locator("#pl-output .gen-tok")
    expect(tokens.nth(3)).to_be_visible(timeout=60_000)
    page.click("#pl-stop")
    # Stopped means the server let go of the request: its model decodes nothing any more.
    model, deadline = workspace.settings.default_model, time.monotonic() + 30
    while workspace.generation.busy(model) != (0, 0):
        assert time.monotonic() < deadline, f"still generating 30 s after Stop: {workspace.generation.busy(model)}"
        page.wait_for_timeout(100)  # the poll's interval
    count = tokens.count()
    # Nothing more can be produced now; a short quiet window only lets any update already sent arrive
    # (that no token appears cannot be waited for as a condition).
    page.wait_for_timeout(1_000)
    assert tokens.count() == count < 600


def test_self_consistency_votes(page):
    open_lab(page)
    page.get_by_text("Sampling settings").click()
    set_number(page, "gen-max-new", 12)
    page.locator("#pl-technique input").click()
    page.get_by_role("option", name="Self-consistency (5 paths, majority vote)").click()
    expect(page.locator("#gen-stop textarea")).to_have_value("\\nReview:", timeout=10_000)
    page.click("#pl-generate")
    expect(page.locator("#pl-output .gen-votes")).to_contain_text("Majority answer", timeout=120_000)
    expect(page.locator("#pl-output details")).to_have_count(5)


def test_the_preview_title_follows_the_chat_template_checkbox(page):
    open_lab(page)  # the starting technique (few-shot) reads best as plain text
    preview = page.locator("#pl-preview")
    expect(preview).to_contain_text("the chat template is off")
    page.locator("#pl-chat input").check()
    expect(preview).to_contain_text("chat template included", timeout=10_000)
    expect(page.locator("#pl-preview textarea")).to_have_value(re.compile("<\\|im_start\\|>"), timeout=30_000)


def test_labelled_tasks_turn_the_penalty_off_and_the_page_marks_what_it_moved(page):
    open_lab(page)
    page.get_by_text("Sampling settings").click()
    penalty = page.locator("#gen-penalty input[type=number]")
    expect(penalty).to_have_value("1")  # the first task (sentiment) is labelled
    page.locator("#pl-technique input").click()
    page.get_by_role("option", name="Zero-shot").click()
    page.locator("#pl-task input").click()
    page.get_by_role("option", name="Custom").click()
    expect(penalty).to_have_value("1.2", timeout=10_000)  # open-ended text keeps it
    page.locator("#pl-chat input").check()  # "Why is the sky blue?" as a question to answer, at length
    page.locator("#gen-stop textarea").fill("")
    set_number(page, "gen-max-new", 40)
    page.click("#pl-generate")
    stats = page.locator("#pl-output .gen-stats")
    expect(stats).to_contain_text("reached max new tokens", timeout=60_000)
    moved = page.locator("#pl-output .gen-tok.gen-moved")
    expect(stats).to_contain_text(re.compile(r"the repetition penalty changed \d+ pick"))
    count = int(re.search(r"changed (\d+) pick", stats.inner_text()).group(1))
    assert moved.count() >= 1 and count >= moved.count()  # a pick's text may hide in a neighbour's tile
    assert "the repetition penalty moved it: the model ranked it #" in moved.first.get_attribute("data-tip")
    page.locator("#pl-task input").click()
    page.get_by_role("option", name="Arithmetic").click()
    expect(penalty).to_have_value("1", timeout=10_000)


def test_side_by_side_starts_with_prompts_and_labelled_technique_pickers(page):
    open_lab(page, "Side by side")
    first, second = page.locator("#cmp-prompt-0 textarea"), page.locator("#cmp-prompt-1 textarea")
    expect(first).to_have_value(re.compile(r"^Classify the sentiment.*Sentiment:$", re.S))
    expect(second).to_have_value(re.compile(r"Sentiment: positive\n\nReview: "))  # few-shot's examples
    picker = page.locator("#cmp-technique-0")
    expect(picker).to_contain_text("Technique")
    expect(picker.locator("input")).to_have_value("Zero-shot")
    fill, field = page.locator("#cmp-fill-0").bounding_box(), picker.locator(".wrap-inner").bounding_box()
    assert fill and field
    assert abs(fill["y"] - field["y"]) <= 3 and abs(fill["height"] - field["height"]) <= 3  # level with the field
    picker.locator("input").click()
    page.get_by_role("option", name="Chain-of-thought: think step by step").click()
    page.click("#cmp-fill-0")
    expect(first).to_have_value(re.compile("Let's think step by step"), timeout=10_000)


def test_structured_output_replies_through_the_chat_template(page):
    """The lab's checkbox starts off (few-shot); the page's request is still a user turn: fed raw, the held
    answer named "Lloyd_Alderbold"."""
    open_lab(page, "Structured output")
    expect(page.locator("#pl-chat input")).not_to_be_checked()
    page.locator("#so-free input[type=number]").fill("0")
    page.locator("#so-free input[type=number]").press("Enter")
    page.click("#so-run")
    expect(page.locator("#so-summary")).to_contain_text("parses ✓ · fits ✓", timeout=90_000)
    expect(page.locator("#so-summary")).not_to_contain_text("running")
    held = json.loads(page.locator("#so-constrained pre").inner_text())
    assert held["name"] == "Ada Lovelace", held
