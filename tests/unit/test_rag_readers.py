"""Reading PDF, HTML, .docx and text uploads for RAG: files built in the test, none downloaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from playground.rag.readers import read_file
from tests.documents import tiny_pdf


def write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def test_a_pdf_gives_its_text_and_page_count(tmp_path):
    path = write(tmp_path, "upload-1234.pdf", tiny_pdf(["The spare key is under the third flowerpot.",
                                                        "The boathouse opens at nine."]))
    report = read_file(path, "notes.pdf")
    assert report.error is None and (report.source, report.kind, report.pages) == ("notes.pdf", "pdf", 2)
    assert "third flowerpot" in report.document.text and "boathouse opens at nine" in report.document.text
    assert report.chars == len(report.document.text)


def test_a_scanned_pdf_with_no_text_layer_says_so(tmp_path):
    report = read_file(write(tmp_path, "scan.pdf", tiny_pdf(["", ""])))
    assert report.document is None and "no text layer" in report.error and "OCR" in report.error


@pytest.mark.parametrize(("name", "data"), [
    ("broken.pdf", b"%PDF-1.4\nthis is not really a pdf"),
    ("empty.pdf", b""),
    ("broken.docx", b"PK\x03\x04 not a zip at all"),
    ("photo.png", b"\x89PNG\r\n"),
])
def test_a_malformed_file_gets_a_message_not_a_traceback(tmp_path, name, data):
    report = read_file(write(tmp_path, name, data))
    assert report.document is None and report.error.startswith(name.split(".")[0]) or name in report.error
    assert "Traceback" not in report.error and len(report.error) < 400


def test_html_keeps_the_visible_text_only(tmp_path):
    page = ("<html><head><title>T</title><style>p {color: red}</style></head><body><h1>Ferries</h1>"
            "<p>The ferry leaves at <b>noon</b> &amp; returns at six.</p><script>alert('x')</script></body></html>")
    report = read_file(write(tmp_path, "ferry.html", page))
    assert report.document.text == "Ferries\n\nThe ferry leaves at noon & returns at six."


def test_docx_paragraphs_and_tables(tmp_path):
    import docx

    document = docx.Document()
    document.add_paragraph("Ottilie owns the red canoe.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Boat", "Canoe"
    document.save(tmp_path / "boats.docx")
    report = read_file(tmp_path / "boats.docx")
    assert report.error is None and report.document.text == "Ottilie owns the red canoe.\nBoat | Canoe"


def test_text_and_odd_unicode(tmp_path):
    report = read_file(write(tmp_path, "n.md", "\ufeff# Notes\nZero\u200bwidth and emoji 🤖."))
    assert report.document.text == "# Notes\nZero\u200bwidth and emoji 🤖." and report.pages is None
    assert "is empty" in read_file(write(tmp_path, "blank.txt", "  \n")).error
