"""Retrieval-augmented generation: documents in, top-k chunks, a prompt with citations, an answer.

The answer with retrieval streams beside the same question asked without it, so the page shows
what retrieval changed; leaving one chunk out re-asks without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from playground.core.errors import InvalidInputError
from playground.core.paths import ASSETS
from playground.generation.engine import GenerationEngine
from playground.generation.sampling import SamplingSettings
from playground.generation.side_by_side import Comparison, Variant, compare
from playground.rag.chunking import Chunk
from playground.rag.embeddings import Embedder
from playground.rag.index import Document, DocumentIndex, Hit
from playground.rag.readers import FileReport, read_file
from playground.text.analysis import sanitize_text

SHIPPED_DOCS = ASSETS / "rag" / "docs"
DEFAULT_CHUNK, DEFAULT_OVERLAP, DEFAULT_TOP_K = 96, 24, 3
MAX_DOCUMENTS = 50
ANSWER_SETTINGS = SamplingSettings(max_new_tokens=96)
"""How the page and ``/rag_query`` sample both answers: greedy, short enough to compare at a glance."""
INSTRUCTION = ("Answer the question using only the context below. Cite the numbers of the passages "
               "you used, like [1]. If the context does not contain the answer, say so.")


def shipped_documents() -> list[Document]:
    return [Document(path.name, path.read_text(encoding="utf-8")) for path in sorted(SHIPPED_DOCS.glob("*.md"))]


def gather_documents(include_shipped: bool, files: list[tuple[str, str]], texts: list[Document] | None = None
                     ) -> tuple[list[Document], list[FileReport]]:
    """The documents to index and a report per uploaded file ``(path, name)``: a file that cannot
    be read (scanned, malformed) is left out with its reason, unless nothing at all is left."""
    documents = shipped_documents() if include_shipped else []
    reports = [read_file(path, name) for path, name in files]
    documents += [report.document for report in reports if report.document is not None]
    documents += texts or []
    if not documents:
        reasons = " ".join(report.error for report in reports if report.error)
        raise InvalidInputError(f"Nothing to index: {reasons or 'add a document or keep the shipped ones.'}")
    if len(documents) > MAX_DOCUMENTS:
        raise InvalidInputError(f"{len(documents)} documents; the limit is {MAX_DOCUMENTS} per index.")
    return documents, reports


def build_prompt(question: str, hits: list[Hit], numbers: list[int] | None = None) -> str:
    """The prompt actually sent: numbered passages with their sources, then the question.

    ``numbers`` are the passages' numbers as retrieved, so after dropping [2] the prompt still says
    [1] and [3], the numbers the table and the answer's citations use.
    """
    numbers = numbers or list(range(1, len(hits) + 1))
    passages = "\n\n".join(f"[{number}] (from {hit.chunk.source})\n{hit.chunk.text.strip()}"
                           for number, hit in zip(numbers, hits, strict=True))
    return f"{INSTRUCTION}\n\nContext:\n{passages}\n\nQuestion: {question.strip()}"


@dataclass
class RagResult:
    question: str
    hits: list[Hit]
    prompt: str
    numbers: list[int]
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
                "chunks": [{"number": number, "text": hit.chunk.text, "score": hit.score,
                            "source": hit.chunk.source, "index": hit.chunk.index, "start": hit.chunk.start,
                            "end": hit.chunk.end} for number, hit in zip(self.numbers, self.hits, strict=True)]}


@dataclass(frozen=True)
class ChunkMap:
    """Chunks and a question projected together on their first two principal components."""

    chunks: list[Chunk]
    coords: np.ndarray
    question: np.ndarray


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

    def question_map(self, owner: str, question: str) -> ChunkMap:
        """The owner's chunks and the question on one 2-D map (the question is the last point), so a learner
        sees the retrieved chunks as the question's neighbours."""
        chunks, vectors = self.index.vectors(owner)
        coords = project_2d(np.vstack([vectors, self.index.embedder.embed([question])]))
        return ChunkMap(chunks, coords[:-1], coords[-1])

    def answer(self, question: str, hits: list[Hit], model: str, settings: SamplingSettings | None = None,
               leave_out: set[int] | None = None) -> Iterator[RagResult]:
        """Stream the answer with the (kept) chunks beside the answer without retrieval; the kept
        chunks keep their numbers (1-based, as retrieved)."""
        numbers = [number for number in range(1, len(hits) + 1) if number not in (leave_out or set())]
        kept = [hits[number - 1] for number in numbers]
        result = RagResult(question, kept, build_prompt(question, kept, numbers), numbers)
        variants = [Variant(result.prompt, model), Variant(question, model)]
        for state in compare(self.engine, variants, settings or ANSWER_SETTINGS):
            result.comparison = state
            yield result


def project_2d(vectors: np.ndarray) -> np.ndarray:
    """PCA to two dimensions (SVD of the centred vectors): a faithful, deterministic map."""
    if len(vectors) < 2:
        return np.zeros((len(vectors), 2), dtype=np.float32)
    centred = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    return centred @ components[:2].T
