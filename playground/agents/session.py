"""The tools' view of one session: its RAG index (if it built one) and today's date."""

from __future__ import annotations

from playground.agents.tools import ToolContext
from playground.rag.pipeline import RagPipeline


def session_context(rag: RagPipeline, owner: str) -> ToolContext:
    """Search over ``owner``'s own index; none where that session indexed nothing (the tool says so)."""
    if not rag.index.has(owner):
        return ToolContext()

    def search(query: str, top_k: int) -> list[tuple[str, str]]:
        return [(hit.chunk.source, hit.chunk.text) for hit in rag.index.search(owner, query, top_k)]

    return ToolContext(search=search)
