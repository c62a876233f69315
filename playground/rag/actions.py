"""The RAG tab's three actions, shared by its page and its endpoints: index, ask, ask again.

Each takes a validated request (a bad value fails here, with the message the page and ``/rag_index`` /
``/rag_query`` both show) and returns the library's own results, so the page and the API cannot drift.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from playground.core.errors import InvalidInputError
from playground.core.validation import whole_number
from playground.generation.sampling import SamplingSettings
from playground.rag.chunking import check_sizes
from playground.rag.index import MAX_TOP_K, TOP_K_HINT, Document, Hit, IndexReport
from playground.rag.pipeline import (
    ANSWER_SETTINGS,
    DEFAULT_CHUNK,
    DEFAULT_OVERLAP,
    DEFAULT_TOP_K,
    RagPipeline,
    RagResult,
    gather_documents,
)
from playground.rag.readers import FileReport, text_document
from playground.text.analysis import sanitize_text


def check_model(model: Any) -> None:
    if not isinstance(model, str) or not model.strip():
        raise InvalidInputError("Choose a model.")


@dataclass(frozen=True)
class IndexRequest:
    """What one owner (a browser session, an API client) indexes, replacing what it indexed before.

    ``files`` are uploads as ``(path, name)``: the name is what the user called the file. ``model``'s
    tokenizer sizes the chunks.
    """

    owner: str
    model: str
    texts: tuple[Document, ...] = ()
    files: tuple[tuple[str, str], ...] = ()
    include_shipped: bool = False
    chunk_size: int = DEFAULT_CHUNK
    overlap: int = DEFAULT_OVERLAP

    def __post_init__(self) -> None:
        check_model(self.model)
        chunk_size, overlap = check_sizes(self.chunk_size, self.overlap)  # a slider's 96.0 counts as 96
        object.__setattr__(self, "chunk_size", chunk_size)
        object.__setattr__(self, "overlap", overlap)
        object.__setattr__(self, "texts", tuple(self.texts))
        object.__setattr__(self, "files", tuple(self.files))


@dataclass(frozen=True)
class IndexResult:
    """The index's report, and what each uploaded file gave (or why it was skipped)."""

    report: IndexReport
    files: tuple[FileReport, ...]

    def to_dict(self) -> dict[str, Any]:
        return {**self.report.to_dict(), "files": [file.to_dict() for file in self.files]}


def index_documents(pipeline: RagPipeline, request: IndexRequest) -> IndexResult:
    """Read the files, then index them with the texts (and the shipped documents if asked); unchanged
    documents are not embedded again."""
    documents, reports = gather_documents(request.include_shipped, list(request.files), list(request.texts))
    report = pipeline.index.index(request.owner, documents, request.model, request.chunk_size, request.overlap)
    return IndexResult(report, tuple(reports))


def api_texts(texts: Sequence[Any] | None) -> tuple[Document, ...]:
    """``/rag_index``'s texts: strings (named "text 1", "text 2"...) or ``{source, text}`` objects."""
    return tuple(text_document(t, f"text {i + 1}") if isinstance(t, str)
                 else text_document(t.get("text"), str(t.get("source") or f"text {i + 1}"))
                 for i, t in enumerate(texts or []))


@dataclass(frozen=True)
class AskRequest:
    """A question to an owner's index (the shipped documents if it built none), answered with the top
    ``top_k`` chunks and without them."""

    owner: str
    question: str
    model: str
    top_k: int = DEFAULT_TOP_K
    settings: SamplingSettings = ANSWER_SETTINGS

    def __post_init__(self) -> None:
        if not sanitize_text(self.question)[0].strip():
            raise InvalidInputError("Type a question.")
        check_model(self.model)
        object.__setattr__(self, "top_k", whole_number("top_k", self.top_k, 1, MAX_TOP_K, TOP_K_HINT))


def ask(pipeline: RagPipeline, request: AskRequest) -> Iterator[RagResult]:
    """Retrieve, then stream the answer with the chunks beside the answer without them."""
    hits = pipeline.retrieve(request.owner, request.question, request.top_k, request.model)
    yield from pipeline.answer(request.question, hits, request.model, request.settings)


@dataclass(frozen=True)
class AgainRequest:
    """The chunks a question retrieved, asked again with some left out (numbered from 1, as retrieved)."""

    question: str
    model: str
    hits: tuple[Hit, ...]
    leave_out: frozenset[int] = frozenset()
    settings: SamplingSettings = ANSWER_SETTINGS

    def __post_init__(self) -> None:
        if not self.hits:
            raise InvalidInputError("Ask a question first.")
        check_model(self.model)
        object.__setattr__(self, "hits", tuple(self.hits))
        object.__setattr__(self, "leave_out", frozenset(
            whole_number("leave_out", number, 1, len(self.hits), "the numbers of retrieved chunks")
            for number in self.leave_out))


def ask_again(pipeline: RagPipeline, request: AgainRequest) -> Iterator[RagResult]:
    """The answer without the left-out chunks; the kept ones keep their numbers in the prompt."""
    yield from pipeline.answer(request.question, list(request.hits), request.model, request.settings,
                               set(request.leave_out))
