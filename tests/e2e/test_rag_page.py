"""A user asks about the shipped documents and sees the cited chunk and both answers."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.documents import tiny_pdf

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
    expect(page.locator("#rag-map .gtitle")).to_contain_text("Chunks and the question")  # was "Ask a question"
    page.get_by_text("The prompt actually sent").click()
    assert "[1] (from " in page.locator("#rag-prompt textarea").input_value()


def test_index_a_pasted_document(page):
    page.get_by_role("tab", name="RAG").click()
    page.locator("#rag-shipped input").uncheck()
    page.locator("#rag-pasted textarea").fill("The red canoe belongs to Ottilie and sleeps in the boathouse.")
    page.click("#rag-index")
    expect(page.locator("#rag-report")).to_contain_text("from 1 document", timeout=60_000)


def test_the_page_says_indexing_is_optional(page):
    page.get_by_role("tab", name="RAG").click()
    note = page.locator("#rag-index-note")
    expect(note).to_contain_text("optional")
    expect(note).to_contain_text("searches the shipped documents")


def test_dropping_a_chunk_keeps_the_numbers_in_the_table_and_the_prompt(page):
    """Issue 19: after dropping [1], the prompt renumbered [2], [3] as [1], [2] while the table kept them."""
    page.get_by_role("tab", name="RAG").click()
    page.locator("#rag-question textarea").fill("Who built the Halden Observatory?")
    page.click("#rag-ask")
    expect(page.locator("#rag-hits")).to_contain_text("[3]", timeout=90_000)
    page.click("#rag-stop")  # the numbers are on the page before the answers finish: no need to wait
    page.locator("#rag-leave-out").get_by_label("[1]", exact=False).check()
    page.click("#rag-again")
    expect(page.locator("#rag-hits")).to_contain_text("[1] dropped", timeout=90_000)
    expect(page.locator("#rag-answers")).to_contain_text("With retrieval (chunks [2], [3])", timeout=90_000)
    page.click("#rag-stop")
    page.get_by_text("The prompt actually sent").click()
    prompt = page.locator("#rag-prompt textarea")
    expect(prompt).to_have_value(re.compile(r"\[2\] \(from .*\[3\] \(from ", re.S), timeout=90_000)
    assert "[1] (from" not in prompt.input_value()


def test_upload_a_pdf_and_a_broken_file(page, tmp_path):
    (tmp_path / "harbour.pdf").write_bytes(tiny_pdf(["The harbour master is called Ines Varga.",
                                                     "Her office opens at eight."]))
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 this file was cut short")
    (tmp_path / "scan.pdf").write_bytes(tiny_pdf([""]))
    page.get_by_role("tab", name="RAG").click()
    page.locator("#rag-shipped input").uncheck()
    page.locator("#rag-files input[type=file]").set_input_files(
        [str(tmp_path / name) for name in ("harbour.pdf", "broken.pdf", "scan.pdf")])
    uploads = page.locator("#rag-files")
    expect(uploads).to_contain_text(re.compile(r"scan\s*\.pdf"), timeout=30_000)  # the list shows "scan .pdf"
    expect(uploads).not_to_contain_text("Uploading", timeout=30_000)
    page.click("#rag-index")
    report = page.locator("#rag-report")
    expect(report).to_contain_text("from 1 document", timeout=60_000)
    characters = len("The harbour master is called Ines Varga.") + len("\n\n") + len("Her office opens at eight.")
    expect(report.locator("li", has_text="harbour.pdf")).to_contain_text(f"2 pages, {characters} characters read")
    expect(report.locator("li", has_text="broken.pdf")).to_contain_text("could not be read as PDF")
    expect(report.locator("li", has_text="scan.pdf")).to_contain_text("no text layer")
