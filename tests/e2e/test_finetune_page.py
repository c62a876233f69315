"""A user starts a short fine-tuning run from the page, watches its curve gain points, then stops it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.typing import set_number as enter_number

pytestmark = pytest.mark.e2e


def set_number(page, elem_id: str, value: int) -> None:
    enter_number(page, elem_id, value, field="input", key="Tab")


def test_start_watch_and_stop_a_run(page):
    page.get_by_role("tab", name="Fine-tuning").click()
    expect(page.locator("#ft-estimate")).to_contain_text("Estimate", timeout=30_000)
    set_number(page, "ft-steps", 60)
    set_number(page, "ft-eval-every", 2)
    page.locator("#ft-run-name textarea, #ft-run-name input").first.fill("page")
    page.click("#ft-start")
    status = page.locator("#ft-status")
    expect(status).to_contain_text(re.compile(r"page: running · step [1-9] of 60"), timeout=120_000)
    expect(status).to_contain_text(re.compile(r"step ([3-9]|[1-5][0-9]) of 60"), timeout=120_000)  # it moves on
    expect(page.locator("#ft-loss .main-svg").first).to_be_visible()
    expect(page.locator("#ft-probes")).to_contain_text("What is the capital of France?", timeout=60_000)
    page.click("#ft-stop")
    expect(status).to_contain_text("cancelled", timeout=120_000)
    expect(status).to_contain_text("adapter saved")
