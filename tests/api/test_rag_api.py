"""RAG endpoints through gradio_client: each client session has its own index."""

from __future__ import annotations

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError


@pytest.fixture
def client(app_url):
    return Client(app_url, verbose=False)


def test_query_the_shipped_documents_by_default(client):
    data = client.predict("How long does the ferry crossing to Quenmoor take?", 3, api_name="/rag_query")
    assert len(data["chunks"]) == 3
    assert {"text", "score", "source"} <= set(data["chunks"][0])
    assert any("3 hours and 40 minutes" in chunk["text"] for chunk in data["chunks"])
    assert data["chunks"][0]["score"] >= data["chunks"][-1]["score"]
    assert "Context:" in data["prompt"] and data["answer"]


def test_index_own_texts_and_files(client, tmp_path):
    note = tmp_path / "garden.md"
    note.write_text("# Garden\nThe greenhouse key hangs behind the kitchen door.", encoding="utf-8")
    report = client.predict(["The blue kayak is stored under the bridge at Fenwick."],
                            [handle_file(str(note))], 32, 8, api_name="/rag_index")
    assert report["num_chunks"] >= 2 and report["documents"] == 2
    assert report["files"] == [{"source": "garden.md", "kind": "md", "pages": None, "chars": 58, "error": None}]
    data = client.predict("Where is the greenhouse key?", 1, api_name="/rag_query")
    assert data["chunks"][0]["source"] == "garden.md"
    other = Client(client.src, verbose=False)  # another session does not see these documents
    assert "garden.md" not in {c["source"] for c in other.predict("greenhouse key", 3, api_name="/rag_query")["chunks"]}


def test_bad_index_requests(client):
    with pytest.raises(AppError, match="Nothing to index"):
        client.predict([], [], 64, 8, api_name="/rag_index")
    with pytest.raises(AppError, match="overlap must be"):
        client.predict(["some text"], [], 32, 40, api_name="/rag_index")
    with pytest.raises(AppError, match="Type a question"):
        client.predict("  ", 3, api_name="/rag_query")
