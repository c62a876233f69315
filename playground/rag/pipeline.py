"""Retrieval-augmented generation: documents in, top-k chunks, a prompt with citations, an answer.

The answer with retrieval streams beside the same question asked without it, so the page shows
what retrieval changed; leaving one chunk out re-asks without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from playground.core.errors import InvalidInputError
from playground.core.paths import ASSETS
from playground.core.records import read_text_file
from playground.generation.engine import GenerationEngine
from playground.generation.sampling import SamplingSettings
from playground.generation.side_by_side import Comparison, Variant, compare
from playground.rag.embeddings import Embedder
from playground.rag.index import Document, DocumentIndex, Hit
from playground.text.analysis import sanitize_text

SHIPPED_DOCS = ASSETS / "rag" / "docs"
DEFAULT_CHUNK, DEFAULT_OVERLAP, DEFAULT_TOP_K = 96, 24, 3
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_DOCUMENTS = 50
UPLOAD_TYPES = (".txt", ".md", ".markdown")
INSTRUCTION = ("Answer the question using only the context below. Cite the numbers of the passages "
               "you used, like [1]. If the context does not contain the answer, say so.")


def shipped_documents() -> list[Document]:
    return [Document(path.name, path.read_text(encoding="utf-8")) for path in sorted(SHIPPED_DOCS.glob("*.md"))]


def read_upload(path: str | Path) -> Document:
    """A user's .txt or .md file as a document, with a clear error for anything else."""
    path = Path(path)
    name = path.name
    if path.suffix.lower() not in UPLOAD_TYPES:
        hint = " (PDF is not supported: copy its text into a .txt file)" if path.suffix.lower() == ".pdf" else ""
        raise InvalidInputError(f"{name}: only {', '.join(UPLOAD_TYPES)} files can be indexed{hint}.")
    return text_document(read_text_file(path, MAX_UPLOAD_BYTES), name)


def text_document(text: str | None, source: str) -> Document:
    cleaned, _ = sanitize_text(text)
    if not cleaned.strip():
        raise InvalidInputError(f"{source} is empty.")
    if len(cleaned.encode("utf-8", "surrogatepass")) > MAX_UPLOAD_BYTES:
        raise InvalidInputError(f"{source} is over {MAX_UPLOAD_BYTES / 1e6:.0f} MB; split it.")
    return Document(source, cleaned)


def build_prompt(question: str, hits: list[Hit]) -> str:
    """The prompt actually sent: numbered passages with their sources, then the question."""
    passages = "\n\n".join(f"[{number}] (from {hit.chunk.source})\n{hit.chunk.text.strip()}"
                           for number, hit in enumerate(hits, start=1))
    return f"{INSTRUCTION}\n\nContext:\n{passages}\n\nQuestion: {question.strip()}"


@dataclass
class RagResult:
    question: str
    hits: list[Hit]
    prompt: str
    comparison: Comparison | None = None

    @property
    def answer(self) -> str:
        return self._output(0)

    @property
    def answer_without_retrieval(self) -> str:
        return self._output(1)

    def _output(self, index: int) -> str:
        if self.comparison is None or self.comparison.runs[index].generation is None:
            return ""
        return self.comparison.runs[index].generation.text

    def to_dict(self) -> dict:
        return {"question": self.question, "prompt": self.prompt, "answer": self.answer,
                "answer_without_retrieval": self.answer_without_retrieval,
                "chunks": [{"text": hit.chunk.text, "score": hit.score, "source": hit.chunk.source,
                            "index": hit.chunk.index, "start": hit.chunk.start, "end": hit.chunk.end}
                           for hit in self.hits]}


class RagPipeline:
    """Index, retrieve, answer; per owner (a session or an API client)."""

    def __init__(self, engine: GenerationEngine, embedder: Embedder, chunking_model: str) -> None:
        """``chunking_model``'s tokenizer sizes the chunks when the answering model is on an endpoint
        (its tokenizer is on the server)."""
        self.engine = engine
        self.index = DocumentIndex(
            embedder, lambda model: engine.load(chunking_model if engine.locate(model) else model)[1])

    def ensure_shipped(self, owner: str, model: str) -> None:
        """A first question before any indexing searches the shipped documents."""
        if not self.index.has(owner):
            self.index.index(owner, shipped_documents(), model, DEFAULT_CHUNK, DEFAULT_OVERLAP)

    def retrieve(self, owner: str, question: str | None, top_k: int, model: str) -> list[Hit]:
        cleaned, _ = sanitize_text(question)
        if not cleaned.strip():
            raise InvalidInputError("Type a question.")
        self.ensure_shipped(owner, model)
        return self.index.search(owner, cleaned, top_k)

    def answer(self, question: str, hits: list[Hit], model: str, settings: SamplingSettings | None = None,
               leave_out: set[int] | None = None) -> Iterator[RagResult]:
        """Stream the answer with the (kept) chunks beside the answer without retrieval."""
        kept = [hit for number, hit in enumerate(hits, start=1) if number not in (leave_out or set())]
        result = RagResult(question, kept, build_prompt(question, kept))
        variants = [Variant(result.prompt, model), Variant(question, model)]
        for state in compare(self.engine, variants, settings or SamplingSettings(max_new_tokens=96)):
            result.comparison = state
            yield result


def project_2d(vectors: np.ndarray) -> np.ndarray:
    """PCA to two dimensions (SVD of the centred vectors): a faithful, deterministic map."""
    if len(vectors) < 2:
        return np.zeros((len(vectors), 2), dtype=np.float32)
    centred = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    return centred @ components[:2].T
