"""Reading the files users bring to RAG: plain text, Markdown, PDF, HTML and Word .docx.

Each file gives a :class:`FileReport` (pages and characters read, or why it could not be read),
so the page can list what came out of every file, and one scanned or broken file is skipped with
its reason instead of failing the others. Parsers' own errors never reach the user as tracebacks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from playground.core.errors import InvalidInputError, PlaygroundError
from playground.core.records import check_file_size, read_text_file
from playground.rag.index import Document
from playground.text.analysis import sanitize_text

MAX_TEXT_BYTES = 2 * 1024 * 1024
"""Text kept per document (2 MB, a long book); a PDF with more is refused with a hint to split it."""
MAX_FILE_BYTES = 25 * 1024 * 1024
"""A PDF or .docx may be much bigger than its text (fonts, images)."""
MAX_PDF_PAGES = 1000
TEXT_TYPES = (".txt", ".md", ".markdown")
HTML_TYPES = (".html", ".htm")
UPLOAD_TYPES = (*TEXT_TYPES, ".pdf", *HTML_TYPES, ".docx")


@dataclass(frozen=True)
class FileReport:
    """What one file gave: its text as a document, or the reason it gave none."""

    source: str
    kind: str
    pages: int | None
    chars: int
    document: Document | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {"source": self.source, "kind": self.kind, "pages": self.pages, "chars": self.chars,
                "error": self.error}


def text_document(text: str | None, source: str) -> Document:
    """A document from text, cleaned like every other text the app reads, or a clear refusal."""
    cleaned, _ = sanitize_text(text)
    if not cleaned.strip():
        raise InvalidInputError(f"{source} is empty.")
    if len(cleaned.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
        raise InvalidInputError(f"{source} has over {MAX_TEXT_BYTES / 1e6:.0f} MB of text; split it.")
    return Document(source, cleaned)


def read_file(path: str | Path, name: str | None = None) -> FileReport:
    """One uploaded file as a report; ``name`` is what the user called it (uploads are renamed)."""
    path = Path(path)
    name = name or path.name
    suffix = Path(name).suffix.lower() or path.suffix.lower()
    reader = READERS.get(suffix)
    if reader is None:
        return FileReport(name, suffix or "no extension", None, 0,
                          error=f"{name}: only {', '.join(UPLOAD_TYPES)} files can be read.")
    kind = suffix.lstrip(".").replace("markdown", "md").replace("htm", "html").replace("htmll", "html")
    try:
        text, pages = reader(path, name)
        document = text_document(text, name)
    except PlaygroundError as error:
        return FileReport(name, kind, None, 0, error=str(error))
    except MemoryError:
        raise
    except Exception as error:  # noqa: BLE001 - a parser's own failure on a malformed file
        # The parser's own text can name server paths and internals: the type is enough to report.
        return FileReport(name, kind, None, 0, error=f"{name} could not be read as {kind.upper()}: it looks "
                          f"damaged, or is not really a .{kind} file ({type(error).__name__}).")
    return FileReport(name, kind, pages, len(document.text), document)


def _read_text(path: Path, name: str) -> tuple[str, int | None]:
    return read_text_file(path, MAX_TEXT_BYTES), None


def _read_pdf(path: Path, name: str) -> tuple[str, int | None]:
    """Text of every page (pypdf reads the text layer; it does no OCR)."""
    from pypdf import PdfReader

    check_file_size(path, name, MAX_FILE_BYTES)
    reader = PdfReader(path)
    if reader.is_encrypted and not reader.decrypt(""):
        raise InvalidInputError(f"{name} is password-protected: save an unprotected copy first.")
    pages = len(reader.pages)
    if pages > MAX_PDF_PAGES:
        raise InvalidInputError(f"{name} has {pages:,} pages; the limit is {MAX_PDF_PAGES:,}: split it.")
    texts = [page.extract_text() or "" for page in reader.pages]
    if not any(text.strip() for text in texts):
        raise InvalidInputError(f"{name}: no text layer in its {pages} page(s) (a scanned PDF is images "
                                "of pages): run OCR on it first, e.g. `ocrmypdf in.pdf out.pdf`.")
    return "\n\n".join(text.strip() for text in texts if text.strip()), pages


class _TextOfHtml(HTMLParser):
    """Visible text of an HTML page: scripts, styles and the head are left out, blocks become lines."""

    SKIP = {"script", "style", "head", "noscript", "template", "svg"}
    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article",
              "pre", "blockquote", "table", "ul", "ol", "header", "footer", "title", "dd", "dt"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)

    def text(self) -> str:
        lines = (" ".join(line.split()) for line in "".join(self.parts).splitlines())
        paragraphs, blank = [], True
        for line in lines:
            if line or not blank:
                paragraphs.append(line)
            blank = not line
        return "\n".join(paragraphs).strip()


def _read_html(path: Path, name: str) -> tuple[str, int | None]:
    parser = _TextOfHtml()
    parser.feed(read_text_file(path, MAX_TEXT_BYTES * 4, "HTML"))
    parser.close()
    return parser.text(), None


def _read_docx(path: Path, name: str) -> tuple[str, int | None]:
    """Paragraphs, then table cells row by row (python-docx; a .docx has no fixed pages)."""
    import docx

    check_file_size(path, name, MAX_FILE_BYTES)
    document = docx.Document(str(path))
    lines = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        lines += [" | ".join(cell.text for cell in row.cells) for row in table.rows]
    return "\n".join(line for line in lines if line.strip()), None


READERS: dict[str, Callable[[Path, str], tuple[str, int | None]]] = {
    **dict.fromkeys(TEXT_TYPES, _read_text), ".pdf": _read_pdf,
    **dict.fromkeys(HTML_TYPES, _read_html), ".docx": _read_docx,
}
