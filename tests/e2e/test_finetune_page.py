"""A user starts a short fine-tuning run from the page and watches it finish, curves and probes."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_start_a_run_and_watch_it(page):
    page.get_by_role("tab", name="Fine-tuning").click()
    expect(page.locator("#ft-estimate")).to_contain_text("Estimate", timeout=30_000)
    steps = page.locator("#ft-steps input")
    steps.fill("4")
    steps.press("Tab")
    every = page.locator("#ft-eval-every input")
    every.fill("2")
    every.press("Tab")
    page.locator("#ft-run-name textarea, #ft-run-name input").first.fill("page")
    page.click("#ft-start")
    status = page.locator("#ft-status")
    expect(status).to_contain_text("page", timeout=30_000)
    expect(status).to_contain_text("finished", timeout=240_000)
    expect(status).to_contain_text("step 4 of 4")
    expect(page.locator("#ft-loss .main-svg").first).to_be_visible()
    expect(page.locator("#ft-probes")).to_contain_text("What is the capital of France?")
