"""Documents in a vector index (qdrant-client): one collection per owner, re-indexing only what changed.

qdrant-client runs in-process by default (local mode, in memory or in a folder) and speaks the
same API to a Qdrant server, so a deployment that outgrows one machine changes a URL, not code:
``PLAYGROUND_QDRANT_URL=http://host:6333`` (or ``PLAYGROUND_QDRANT_PATH=/folder`` to keep the
local index on disk).
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from playground.core.errors import InvalidInputError
from playground.core.validation import whole_number
from playground.rag.chunking import Chunk, chunk_text
from playground.rag.embeddings import Embedder

MAX_OWNERS = 64
"""Collections kept at once (one per browser session); the least recently used is dropped."""
MAX_TOP_K = 20
"""Chunks one question may put in the prompt."""
TOP_K_HINT = "how many chunks to put in the prompt"


@dataclass(frozen=True)
class Document:
    source: str
    text: str


@dataclass(frozen=True)
class IndexReport:
    num_chunks: int
    documents: int
    embedded: int
    reused: int
    removed: int

    def to_dict(self) -> dict[str, int]:
        return {"num_chunks": self.num_chunks, "documents": self.documents, "embedded": self.embedded,
                "reused": self.reused, "removed": self.removed}


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float


def make_client() -> Any:
    """A server if ``PLAYGROUND_QDRANT_URL`` says so, a folder if ``PLAYGROUND_QDRANT_PATH`` does,
    else memory (fine for a demo: the shipped documents index in about a second)."""
    from qdrant_client import QdrantClient

    if os.environ.get("PLAYGROUND_QDRANT_URL"):
        return QdrantClient(url=os.environ["PLAYGROUND_QDRANT_URL"], api_key=os.environ.get("QDRANT_API_KEY"))
    if os.environ.get("PLAYGROUND_QDRANT_PATH"):
        return QdrantClient(path=os.environ["PLAYGROUND_QDRANT_PATH"])
    return QdrantClient(":memory:")


def collection_name(owner: str) -> str:
    """A safe collection name for any owner string (session hashes, 'shipped')."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", owner)[:48]
    return f"playground_{cleaned}_{hashlib.sha256(owner.encode()).hexdigest()[:8]}"


class DocumentIndex:
    """Embeds chunks and searches them; each owner (a browser session, an API client) has its own."""

    def __init__(self, embedder: Embedder, tokenizer_of: Any, client: Any = None) -> None:
        self.embedder = embedder
        self.tokenizer_of = tokenizer_of
        self._client = client
        self._lock = threading.RLock()
        self._owners: OrderedDict[str, None] = OrderedDict()

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = make_client()
            return self._client

    def index(self, owner: str, documents: list[Document], model: str, chunk_size: int,
              overlap: int) -> IndexReport:
        """Make ``owner``'s collection hold exactly ``documents``, embedding only new or changed ones."""
        from qdrant_client import models

        if not documents:
            raise InvalidInputError("Nothing to index: add a document or keep the shipped ones.")
        tokenizer = self.tokenizer_of(model)
        name = self._collection(owner)
        settings = f"{model}|{chunk_size}|{overlap}"
        existing = self._fingerprints(name)
        wanted = {doc.source: hashlib.sha256(f"{settings}|{doc.text}".encode()).hexdigest() for doc in documents}
        removed = [source for source, digest in existing.items() if wanted.get(source) != digest]
        embedded = reused = 0
        points = []
        for doc in documents:
            if existing.get(doc.source) == wanted[doc.source]:
                reused += 1
                continue
            chunks = chunk_text(doc.text, doc.source, tokenizer, chunk_size, overlap)
            vectors = self.embedder.embed([chunk.text for chunk in chunks])
            embedded += 1
            fingerprint = wanted[doc.source]
            points += [models.PointStruct(id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{fingerprint}/{c.index}")),
                                          vector=vector.tolist(), payload={**vars(c), "fingerprint": fingerprint})
                       for c, vector in zip(chunks, vectors, strict=True)]
        with self._lock:
            for source in removed:
                self.client.delete(name, points_selector=models.FilterSelector(filter=_source_is(source)))
            if points:
                self.client.upsert(name, points=points)
            total = self.client.count(name).count
        return IndexReport(total, len(documents), embedded, reused, len([s for s in removed if s not in wanted]))

    def search(self, owner: str, question: str, top_k: int) -> list[Hit]:
        top_k = whole_number("top_k", top_k, 1, MAX_TOP_K, TOP_K_HINT)
        name = self._collection(owner, create=False)
        vector = self.embedder.embed([question])[0]
        with self._lock:
            result = self.client.query_points(name, query=vector.tolist(), limit=top_k, with_payload=True)
        return [Hit(_chunk(point.payload), float(point.score)) for point in result.points]

    def vectors(self, owner: str, limit: int = 2000) -> tuple[list[Chunk], np.ndarray]:
        """Up to ``limit`` chunks with their vectors (for the 2-D map and the page's chunk table), in
        document order: by source, then position (the store keeps them in the order of their ids)."""
        name = self._collection(owner, create=False)
        with self._lock:
            points, _ = self.client.scroll(name, limit=limit, with_payload=True, with_vectors=True)
        pairs = sorted(((_chunk(point.payload), point.vector) for point in points),
                       key=lambda pair: (pair[0].source, pair[0].index))
        chunks = [chunk for chunk, _ in pairs]
        matrix = np.array([vector for _, vector in pairs], dtype=np.float32)
        return chunks, matrix

    def has(self, owner: str) -> bool:
        with self._lock:
            return owner in self._owners and self.client.count(collection_name(owner)).count > 0

    def drop(self, owner: str) -> None:
        """Forget an owner's collection (the page calls this when its session ends)."""
        with self._lock:
            if self._owners.pop(owner, "absent") != "absent":
                self.client.delete_collection(collection_name(owner))

    def _collection(self, owner: str, create: bool = True) -> str:
        from qdrant_client import models

        name = collection_name(owner)
        with self._lock:
            if owner in self._owners:
                self._owners.move_to_end(owner)
                return name
            if not create:
                raise InvalidInputError("No documents indexed yet: index some first.")
            self.client.create_collection(name, vectors_config=models.VectorParams(
                size=self.embedder.dimensions, distance=models.Distance.COSINE))
            self._owners[owner] = None
            while len(self._owners) > MAX_OWNERS:
                oldest, _ = self._owners.popitem(last=False)
                self.client.delete_collection(collection_name(oldest))
            return name

    def _fingerprints(self, name: str) -> dict[str, str]:
        """source -> fingerprint of what is indexed for it now."""
        found: dict[str, str] = {}
        offset = None
        with self._lock:
            while True:
                points, offset = self.client.scroll(name, limit=1000, offset=offset,
                                                    with_payload=["source", "fingerprint"])
                found.update({p.payload["source"]: p.payload["fingerprint"] for p in points})
                if offset is None:
                    return found


def _source_is(source: str) -> Any:
    from qdrant_client import models

    return models.Filter(must=[models.FieldCondition(key="source", match=models.MatchValue(value=source))])


def _chunk(payload: dict[str, Any]) -> Chunk:
    return Chunk(**{key: payload[key] for key in Chunk.__dataclass_fields__})
