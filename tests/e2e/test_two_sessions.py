"""Two students on one server: neither sees the other's documents, questions or answers."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import fresh_page

pytestmark = pytest.mark.e2e


@pytest.fixture
def second_student(browser, app_url):
    """Another browser profile, as on a classmate's laptop."""
    with fresh_page(browser, app_url) as tab:
        yield tab


def test_documents_and_answers_stay_with_their_session(page, second_student):
    secret = "The red canoe belongs to Ottilie and sleeps in the boathouse."
    page.get_by_role("tab", name="RAG").click()
    page.locator("#rag-shipped input").uncheck()
    page.locator("#rag-pasted textarea").fill(secret)
    page.click("#rag-index")
    expect(page.locator("#rag-report")).to_contain_text("from 1 document", timeout=60_000)
    page.locator("#rag-question textarea").fill("Who owns the red canoe?")
    page.click("#rag-ask")
    expect(page.locator("#rag-hits")).to_contain_text("Ottilie", timeout=90_000)

    other = second_student
    other.get_by_role("tab", name="RAG").click()
    expect(other.locator("#rag-pasted textarea")).to_have_value("")
    other.locator("#rag-question textarea").fill("Who owns the red canoe?")
    other.click("#rag-ask")
    hits = other.locator("#rag-hits")
    expect(hits).to_contain_text(".md", timeout=90_000)  # answered from the shipped documents
    expect(hits).not_to_contain_text("Ottilie")
    expect(other.locator("#rag-answers")).not_to_contain_text("Ottilie")
