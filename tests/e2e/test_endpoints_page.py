"""A user points the Prompt lab at an OpenAI-compatible server (a real ``transformers serve``) for their
session only, and compares it side by side with the local model."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import fresh_page

pytestmark = pytest.mark.e2e

SECRET = "sk-session-only-secret"


def open_endpoints(page) -> None:
    page.get_by_role("tab", name="Prompt lab").click()
    page.locator("#pl-endpoints").get_by_text("Endpoints: models on").click()


def test_a_session_endpoint_runs_side_by_side_with_the_local_model_and_stays_private(
        served_model, browser, app_url, workspace):
    base_url = workspace.generation.endpoints.by_name["served"].base_url
    model_id = served_model.split(":", 1)[1]
    with fresh_page(browser, app_url) as page:
        open_endpoints(page)
        listing = page.locator("#pl-endpoint-list")
        expect(listing).to_contain_text("served", timeout=60_000)
        expect(listing).to_contain_text("500")  # transformers serve cannot list its models: the reason is shown
        page.locator("#pl-endpoint-name input").fill("mine")
        page.locator("#pl-endpoint-url input").fill(base_url)
        page.locator("#pl-endpoint-key input").fill(SECRET)
        page.click("#pl-endpoint-add")
        expect(listing).to_contain_text("this session", timeout=30_000)
        expect(page.locator("#pl-endpoint-key input")).to_have_value("")  # the key is not kept in the page
        assert SECRET not in page.content()

        chat = page.locator("#pl-chat input")
        if not chat.is_checked():
            chat.check()  # a chat question: the endpoint gets messages and applies its own template
        page.get_by_role("tab", name="Side by side").click()
        page.locator("#cmp-prompt-0 textarea").fill("Name a colour.")
        page.locator("#cmp-prompt-1 textarea").fill("Name a colour.")
        page.locator("#cmp-model-1 input, #cmp-model-1 textarea").first.fill(f"mine:{model_id}")
        page.click("#cmp-run")
        columns = page.locator("#cmp-output .tok-col")
        expect(columns).to_have_count(2, timeout=60_000)
        expect(page.locator("#cmp-summary")).not_to_contain_text("running", timeout=90_000)
        expect(columns.nth(1)).to_contain_text("no per-token probabilities")
        expect(columns.nth(1).locator(".gen-plain")).not_to_be_empty()
        expect(columns.nth(0).locator(".gen-tok").first).to_be_visible()
        assert SECRET not in page.content()

    with fresh_page(browser, app_url) as other:  # another browser session never sees that endpoint
        open_endpoints(other)
        listing = other.locator("#pl-endpoint-list")
        expect(listing).to_contain_text("served", timeout=60_000)
        expect(listing).not_to_contain_text("this session")
