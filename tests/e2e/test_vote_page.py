"""A student generates two blind answers, votes, sees who wrote which and the class's board."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_generate_vote_and_see_the_board(page):
    page.get_by_role("tab", name="Prompt lab").click()
    page.get_by_role("tab", name="Which answer is better?").click()
    page.locator("#vote-tokens input[type=number]").fill("16")
    page.locator("#vote-tokens input[type=number]").press("Enter")
    page.locator("#vote-generate").click()
    expect(page.locator("#vote-reveal")).to_contain_text("Which answer is better?", timeout=90_000)
    # Replies through the chat template, though the lab's checkbox is off (Write a prompt's few-shot default):
    # fed raw, the page's prompt left one answer or both empty in most tries.
    for answer in ("#vote-answer-a", "#vote-answer-b"):
        expect(page.locator(f"{answer} textarea")).to_have_value(re.compile(r"\S"))
    page.locator("#vote-A").click()
    expect(page.locator("#vote-reveal")).to_contain_text("A was", timeout=30_000)
    expect(page.locator("#vote-reveal")).to_contain_text("kept as a preference pair")
    board = page.locator("#vote-board")
    expect(board).to_contain_text("temperature 0.7")
    last_column, table = board.locator("th", has_text="Votes").bounding_box(), board.bounding_box()
    assert last_column["x"] + last_column["width"] <= table["x"] + table["width"] + 1  # all columns in view
    page.locator("#vote-B").click()  # the same pair again: refused, nothing counted twice
    expect(page.get_by_text("Generate two answers first").first).to_be_visible(timeout=30_000)
