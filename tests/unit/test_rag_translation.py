"""The RAG tab's translation, called with values keyed by component (no Gradio app launched), on the real
embedded models and shipped documents; and the library actions the page and ``/rag_index`` share."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr
import pytest

from playground.core.errors import InvalidInputError
from playground.rag.actions import AgainRequest, AskRequest, IndexRequest, api_texts, index_documents
from tabs.rag import AskView, IndexView, again_outputs, ask_outputs, index_outputs

QUESTION = "In which sea is the island of Quenmoor?"


def first(stream: Iterator[dict[Any, Any]]) -> dict[Any, Any]:
    """The first state of a page's stream, then stop it (as the page's Stop does): enough to see what it
    shows, without decoding both answers to the end."""
    try:
        return next(stream)
    finally:
        stream.close()


@pytest.fixture
def index_view() -> IndexView:
    return IndexView(gr.Dropdown(), gr.Checkbox(), gr.File(), gr.Textbox(), gr.Slider(), gr.Slider(), gr.Button(),
                     gr.Markdown(), gr.Dataframe())


@pytest.fixture
def ask_view() -> AskView:
    return AskView(gr.Dropdown(), gr.Textbox(), gr.Slider(), gr.Button(), gr.Button(), gr.Dataframe(),
                   gr.CheckboxGroup(), gr.Button(), gr.HTML(), gr.Textbox(), gr.Plot(), gr.State())


def index_values(view: IndexView, model: str, **changes: object) -> dict[object, object]:
    values = {view.model: model, view.include_shipped: False, view.files: None, view.pasted: "",
              view.chunk_size: 32.0, view.overlap: 8.0}  # sliders send floats
    values.update({getattr(view, name): value for name, value in changes.items()})
    return dict(reversed(values.items()))  # the order of the values does not matter


def test_index_reads_the_pasted_text_and_the_uploads(workspace, index_view, tmp_path):
    note = tmp_path / "upload-1234.md"
    note.write_text("# Garden\nThe greenhouse key hangs behind the kitchen door.", encoding="utf-8")
    uploaded = {"path": str(note), "orig_name": "garden.md"}  # Gradio renames uploads; the report uses the name
    model = workspace.settings.default_model
    outputs = index_outputs(workspace.rag, index_view, index_values(
        index_view, model, pasted="The red canoe belongs to Ottilie.", files=[uploaded]), "test-translation-index")
    assert set(outputs) == {index_view.report, index_view.chunk_table}
    report = outputs[index_view.report]
    assert "from 2 documents" in report and "embedded 2 new or changed" in report
    assert "✓ **garden.md** (md): 58 characters read" in report
    assert {row[0] for row in outputs[index_view.chunk_table]} == {"garden.md", "pasted text"}
    assert all(row[2] <= 32 for row in outputs[index_view.chunk_table])  # tokens per chunk, as asked
    again = index_outputs(workspace.rag, index_view, index_values(
        index_view, model, pasted="The red canoe belongs to Ottilie.", files=[uploaded]), "test-translation-index")
    assert "embedded 0 new or changed, reused 2" in again[index_view.report]


def test_index_refuses_what_the_library_refuses(workspace, index_view):
    model = workspace.settings.default_model
    with pytest.raises(InvalidInputError, match="overlap must be"):
        index_outputs(workspace.rag, index_view, index_values(index_view, model, pasted="text", overlap=40.0), "x")
    with pytest.raises(InvalidInputError, match="Nothing to index"):
        index_outputs(workspace.rag, index_view, index_values(index_view, model), "x")
    with pytest.raises(InvalidInputError, match="Choose a model"):
        index_outputs(workspace.rag, index_view, index_values(index_view, " ", pasted="text"), "x")


def test_ask_then_ask_again_without_the_first_chunk(workspace, ask_view):
    model = workspace.settings.default_model
    values = {ask_view.model: model, ask_view.question: QUESTION, ask_view.top_k: 3.0}
    asked = first(ask_outputs(workspace.rag, ask_view, values, "test-translation-ask"))
    assert set(asked) == {ask_view.hits_table, ask_view.leave_out, ask_view.answers, ask_view.prompt_box,
                          ask_view.chunk_map, ask_view.hits_state}
    hits = asked[ask_view.hits_state]
    assert [row[0] for row in asked[ask_view.hits_table]] == ["[1]", "[2]", "[3]"] and len(hits) == 3
    assert [value for _, value in asked[ask_view.leave_out].choices] == [1, 2, 3]
    assert "With retrieval" in asked[ask_view.answers] and "Without retrieval" in asked[ask_view.answers]
    assert "[1] (from " in asked[ask_view.prompt_box]
    assert len(asked[ask_view.chunk_map].data) >= 2  # the documents' chunks and the question

    again_values = {**values, ask_view.hits_state: hits, ask_view.leave_out: [1]}
    again = first(again_outputs(workspace.rag, ask_view, again_values))
    assert set(again) == {ask_view.hits_table, ask_view.answers, ask_view.prompt_box}
    assert [row[0] for row in again[ask_view.hits_table]] == ["[1] dropped", "[2]", "[3]"]
    assert "With retrieval (chunks [2], [3])" in again[ask_view.answers]
    assert "[2] (from " in again[ask_view.prompt_box] and "[1] (from" not in again[ask_view.prompt_box]


def test_asking_refuses_a_blank_question_and_asking_again_before_asking(workspace, ask_view):
    model = workspace.settings.default_model
    values = {ask_view.model: model, ask_view.question: "  ", ask_view.top_k: 3.0, ask_view.hits_state: [],
              ask_view.leave_out: []}
    with pytest.raises(InvalidInputError, match="Type a question"):
        next(ask_outputs(workspace.rag, ask_view, values, "test-translation-blank"))
    with pytest.raises(InvalidInputError, match="Ask a question first"):
        next(again_outputs(workspace.rag, ask_view, {**values, ask_view.question: QUESTION}))


def test_requests_validate_once_for_the_page_and_the_api(workspace):
    model = workspace.settings.default_model
    request = IndexRequest("test-translation-api", model, api_texts(["Bob grows tomatoes.",
                                                                       {"source": "a.md", "text": "Alice rows."}]),
                           chunk_size=32.0, overlap=0.0)
    assert (request.chunk_size, request.overlap) == (32, 0) and [t.source for t in request.texts] == ["text 1", "a.md"]
    result = index_documents(workspace.rag, request).to_dict()
    assert result == {"num_chunks": 2, "documents": 2, "embedded": 2, "reused": 0, "removed": 0, "files": []}
    assert AskRequest("o", "A question?", model, 4.0).top_k == 4
    with pytest.raises(InvalidInputError, match="top_k must be a whole number from 1 to 20"):
        AskRequest("o", "A question?", model, 21)
    with pytest.raises(InvalidInputError, match="leave_out must be"):
        AgainRequest(QUESTION, model, ("a hit",), frozenset({2}))
    with pytest.raises(InvalidInputError, match="text 1 is empty"):
        api_texts([" "])
