"""A user runs the ReAct loop in the Prompt lab, reads what the model saw, and scores the calculator set with
the tool and without."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.typing import set_number

pytestmark = pytest.mark.e2e


def test_the_agent_runs_shows_its_prompt_and_scores_the_calculator_set(page):
    page.get_by_role("tab", name="Prompt lab").click()
    page.get_by_role("tab", name="Tools and ReAct").click()
    page.locator("#agent-question textarea").fill("What is 12 * 34?")
    set_number(page, "agent-steps", 2)
    page.locator("#agent-run").click()
    expect(page.locator("#agent-output")).to_contain_text("Finish:", timeout=120_000)
    expect(page.locator("#agent-output")).to_contain_text("model turn(s)")
    page.get_by_text("What the model read at its last turn").click()
    prompt = page.locator("#agent-prompt textarea")
    # SmolLM2's template ignores tools=: they come in its function-calling system prompt
    expect(prompt).to_have_value(re.compile(r"<tools>\[.*\"calculator\".*</tools>", re.S))
    set_number(page, "agent-eval-limit", 1)
    page.locator("#agent-evaluate").click()
    expect(page.locator("#agent-scores")).to_contain_text("1 of 1 questions", timeout=120_000)
    expect(page.locator("#agent-scores")).not_to_contain_text("running")
    expect(page.locator("#agent-scores")).to_contain_text("With the calculator")
    expect(page.locator("#agent-eval-items tbody tr")).to_have_count(1)
