"""A user asks about the shipped documents and sees the cited chunk and both answers."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_ask_about_the_shipped_documents(page):
    page.get_by_role("tab", name="RAG").click()
    page.locator("#rag-question textarea").fill("Who built the Halden Observatory?")
    page.click("#rag-ask")
    hits = page.locator("#rag-hits")
    expect(hits).to_contain_text("04-wildlife-and-the-observatory.md", timeout=90_000)
    expect(hits).to_contain_text("Ilse Marrow")
    answers = page.locator("#rag-answers")
    expect(answers).to_contain_text("With retrieval")
    expect(answers).to_contain_text("Without retrieval")
    expect(answers.locator(".gen-stats").first).to_contain_text("tokens in", timeout=90_000)
    expect(page.locator("#rag-map .main-svg").first).to_be_visible()
    page.get_by_text("The prompt actually sent").click()
    assert "[1] (from " in page.locator("#rag-prompt textarea").input_value()


def test_index_a_pasted_document(page):
    page.get_by_role("tab", name="RAG").click()
    page.locator("#rag-shipped input").uncheck()
    page.locator("#rag-pasted textarea").fill("The red canoe belongs to Ottilie and sleeps in the boathouse.")
    page.click("#rag-index")
    expect(page.locator("#rag-report")).to_contain_text("from 1 document", timeout=60_000)
