"""RAG tab: index documents, ask a question, see the chunks, the prompt, and the answer with and
without retrieval side by side.

Endpoints: ``/rag_index`` (texts, files, chunk_size, overlap) -> {num_chunks, ...};
``/rag_query`` (question, top_k) -> {chunks, prompt, answer, answer_without_retrieval}.
Each browser session (and each API client) has its own index.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any

import gradio as gr
import plotly.graph_objects as go

from playground.core.iterutil import last
from playground.generation.sampling import SamplingSettings
from playground.rag.index import Document, Hit
from playground.rag.pipeline import DEFAULT_CHUNK, DEFAULT_OVERLAP, DEFAULT_TOP_K, ChunkMap, gather_documents
from playground.rag.readers import UPLOAD_TYPES, FileReport, text_document
from playground.workspace import Workspace
from tabs.shared import generation_view
from tabs.shared.common import event_handler, read_asset, uploaded_name, uploaded_path
from tabs.shared.queues import GENERATION_CONCURRENCY, GENERATION_QUEUE

CHUNK_HEADERS = ["Source", "#", "Tokens", "Text"]
HIT_HEADERS = ["[n]", "Score", "Source", "Chunk", "Text"]
DEFAULT_QUESTION = "On what date does the Lantern Festival on Quenmoor start?"
INDEX_NOTE = (f"Indexing is optional: **Ask** without it searches the shipped documents, cut into chunks of "
              f"{DEFAULT_CHUNK} tokens with an overlap of {DEFAULT_OVERLAP}. Index to add your own documents or to "
              "try other chunk sizes; the index is yours alone and lasts while this page is open.")


def owner_of(request: gr.Request | None) -> str:
    """Whose index: the browser session (or API client session)."""
    return getattr(request, "session_hash", None) or "anonymous"


def gather(include_shipped: bool, files: list[Any] | None, texts: list[Document]
           ) -> tuple[list[Document], list[FileReport]]:
    """The page's (or an API call's) documents, with a report for each uploaded file."""
    uploads = [(uploaded_path(item), uploaded_name(item)) for item in files or []]
    return gather_documents(include_shipped, uploads, texts)


def files_report(reports: list[FileReport]) -> str:
    """A Markdown list: each uploaded file's pages and characters read, or why it was skipped."""
    lines = []
    for report in reports:
        name = html.escape(report.source)
        if report.error:
            reason = report.error.removeprefix(f"{report.source}: ")  # the name is already in bold
            lines.append(f"- ⚠️ **{name}** skipped: {html.escape(reason)}")
            continue
        pages = f"{report.pages:,} page{'s' if report.pages != 1 else ''}, " if report.pages is not None else ""
        lines.append(f"- ✓ **{name}** ({report.kind}): {pages}{report.chars:,} characters read")
    return "\n".join(lines)


def hit_rows(hits: list[Hit], dropped: set[int] | None = None) -> list[list[Any]]:
    """One row per retrieved chunk, numbered as in the prompt; dropped ones say so."""
    return [[f"[{n}] dropped" if n in (dropped or set()) else f"[{n}]", round(hit.score, 3), hit.chunk.source,
             hit.chunk.index, hit.chunk.text] for n, hit in enumerate(hits, start=1)]


def map_figure(projected: ChunkMap, hits: list[Hit]) -> go.Figure:
    """Chunks and the question on the first two principal components; retrieved chunks ringed."""
    chunks, coords = projected.chunks, projected.coords
    retrieved = {(hit.chunk.source, hit.chunk.index): n for n, hit in enumerate(hits, start=1)}
    figure = go.Figure()
    sources = sorted({chunk.source for chunk in chunks})
    for source in sources:
        picks = [i for i, chunk in enumerate(chunks) if chunk.source == source]
        figure.add_trace(go.Scatter(
            x=coords[picks, 0], y=coords[picks, 1], mode="markers", name=source,
            marker=dict(size=[16 if (chunks[i].source, chunks[i].index) in retrieved else 9 for i in picks],
                        line=dict(width=[3 if (chunks[i].source, chunks[i].index) in retrieved else 0
                                         for i in picks], color="#111827")),
            text=[html.escape(chunks[i].text[:120]) + "…" for i in picks],
            hovertemplate="%{text}<extra>" + html.escape(source) + "</extra>"))
    question_x, question_y = projected.question
    figure.add_trace(go.Scatter(x=[question_x], y=[question_y], mode="markers+text", name="question",
                                text=["question"], textposition="top center",
                                marker=dict(size=18, symbol="star", color="#dc2626")))
    figure.update_layout(title="Chunks and the question (PCA of MiniLM embeddings; ringed: retrieved)",
                         height=420, margin=dict(l=30, r=10, t=40, b=30), legend=dict(orientation="h", y=-0.1))
    return figure


def build(ws: Workspace, app: gr.Blocks) -> None:
    rag = ws.rag
    with gr.Row():
        with gr.Column(scale=3):
            model = gr.Dropdown([ws.settings.default_model], value=ws.settings.default_model,
                                allow_custom_value=True, label="Model that answers")
            include_shipped = gr.Checkbox(True, label="Include the shipped documents about Quenmoor, a "
                                          "fictional island no model has heard of", elem_id="rag-shipped")
            files = gr.File(file_count="multiple", file_types=list(UPLOAD_TYPES), label="Your documents "
                            "(PDF, Word .docx, HTML, .txt or .md; up to 2 MB of text each)", elem_id="rag-files")
            pasted = gr.Textbox(label="…or paste a document", lines=3, elem_id="rag-pasted")
            with gr.Row():
                chunk_size = gr.Slider(32, 512, value=DEFAULT_CHUNK, step=8, label="Chunk size (model tokens)")
                overlap = gr.Slider(0, 128, value=DEFAULT_OVERLAP, step=4, label="Overlap (tokens)")
            index_button = gr.Button("Index the documents", elem_id="rag-index")
            gr.Markdown(INDEX_NOTE, elem_id="rag-index-note", elem_classes="muted")
            report = gr.Markdown(elem_id="rag-report")
        with gr.Column(scale=2):
            with gr.Accordion("How retrieval-augmented generation works", open=True):
                gr.Markdown(read_asset("notes", "rag.md"))
    with gr.Accordion("The chunks", open=False):
        chunk_table = gr.Dataframe(headers=CHUNK_HEADERS, interactive=False, wrap=True, elem_id="rag-chunks",
                                   column_widths=["22%", "6%", "8%", "64%"])
    with gr.Row():
        question = gr.Textbox(DEFAULT_QUESTION, label="Question", scale=4, elem_id="rag-question")
        top_k = gr.Slider(1, 8, value=DEFAULT_TOP_K, step=1, label="Chunks to retrieve (top-k)", scale=1)
    with gr.Row():
        ask_button = gr.Button("Ask", variant="primary", elem_id="rag-ask")
        stop_button = gr.Button("Stop", elem_id="rag-stop")
    hits_table = gr.Dataframe(headers=HIT_HEADERS, interactive=False, wrap=True, elem_id="rag-hits",
                              column_widths=["7%", "8%", "20%", "7%", "58%"])
    with gr.Row():
        leave_out = gr.CheckboxGroup([], label="Drop chunks and ask again", elem_id="rag-leave-out", scale=3)
        again_button = gr.Button("Ask again without them", scale=1, elem_id="rag-again")
    answers = gr.HTML(elem_id="rag-answers")
    with gr.Accordion("The prompt actually sent (context injected, numbered for citations)", open=False):
        prompt_box = gr.Textbox(lines=10, max_lines=30, interactive=False, show_label=False, elem_id="rag-prompt")
    chunk_map = gr.Plot(label="Embedding map", elem_id="rag-map")
    hits_state = gr.State([])

    @event_handler
    def index(model_name: str, shipped: bool, uploads: list[Any] | None, text: str, size: float, lap: float,
              request: gr.Request) -> tuple[str, list[list[Any]]]:
        owner = owner_of(request)
        pasted = [text_document(text, "pasted text")] if text and text.strip() else []
        documents, reports = gather(shipped, uploads, pasted)
        result = rag.index.index(owner, documents, model_name, int(size), int(lap))
        chunks, _ = rag.index.vectors(owner, limit=5000)
        rows = [[c.source, c.index, c.token_end - c.token_start, c.text] for c in chunks]
        plural = "s" if result.documents != 1 else ""
        summary = (f"**{result.num_chunks} chunks** from {result.documents} document{plural} · embedded "
                   f"{result.embedded} new or changed, reused {result.reused}, removed {result.removed}.")
        return "\n\n".join(part for part in (summary, files_report(reports)) if part), rows

    def stream_answer(model_name: str, query: str, hits: list[Hit], dropped: set[int]
                      ) -> Iterator[tuple[str, str]]:
        kept = ", ".join(f"[{n}]" for n in range(1, len(hits) + 1) if n not in dropped) or "none"
        titles = [f"With retrieval (chunks {kept})" if dropped else "With retrieval", "Without retrieval"]
        for result in rag.answer(query, hits, model_name, SamplingSettings(max_new_tokens=96), dropped):
            runs = result.comparison.runs if result.comparison else []
            yield (generation_view.render_columns(runs, titles), result.prompt)

    @event_handler
    def ask(model_name: str, query: str, k: float, request: gr.Request
            ) -> Iterator[tuple[Any, ...]]:
        owner = owner_of(request)
        hits = rag.retrieve(owner, query, int(k), model_name)
        choices = [(f"[{n}] {hit.chunk.source} #{hit.chunk.index}", n) for n, hit in enumerate(hits, start=1)]
        figure = map_figure(rag.question_map(owner, query), hits)
        for html_answers, prompt in stream_answer(model_name, query, hits, set()):
            yield (hit_rows(hits), gr.CheckboxGroup(choices=choices, value=[]), html_answers, prompt, figure, hits)

    @event_handler
    def ask_again(model_name: str, query: str, hits: list[Hit], dropped: list[int]
                  ) -> Iterator[tuple[list[list[Any]], str, str]]:
        if not hits:
            raise gr.Error("Ask a question first.")
        left_out = {int(n) for n in dropped or []}
        rows = hit_rows(hits, left_out)  # the same numbers as the prompt, dropped ones marked
        for html_answers, prompt in stream_answer(model_name, query, hits, left_out):
            yield rows, html_answers, prompt

    index_button.click(index, [model, include_shipped, files, pasted, chunk_size, overlap], [report, chunk_table],
                       api_visibility="undocumented", api_name="rag_page_index")
    queue = dict(concurrency_id=GENERATION_QUEUE, concurrency_limit=GENERATION_CONCURRENCY)
    event = ask_button.click(ask, [model, question, top_k],
                             [hits_table, leave_out, answers, prompt_box, chunk_map, hits_state],
                             api_visibility="undocumented", api_name="rag_page_ask", **queue)
    again = again_button.click(ask_again, [model, question, hits_state, leave_out], [hits_table, answers, prompt_box],
                               api_visibility="undocumented", api_name="rag_page_again", **queue)
    stop_button.click(None, cancels=[event, again], api_visibility="undocumented")
    def forget(request: gr.Request) -> None:
        """A closed page takes its index with it (memory on a shared server stays bounded)."""
        rag.index.drop(owner_of(request))

    app.unload(forget)
    register_api(ws)


def register_api(ws: Workspace) -> None:
    rag = ws.rag

    @event_handler
    def rag_index(texts: list, files: list[gr.FileData] | None, chunk_size: int, overlap: int,
                  request: gr.Request) -> dict:
        """Index texts (strings, or {source, text}) and files (PDF, .docx, HTML, .txt, .md) for this
        client session, replacing what it indexed before (unchanged documents are not embedded again).
        ``files`` in the result gives each file's pages and characters read, or why it was skipped."""
        texts = [text_document(t, f"text {i + 1}") if isinstance(t, str)
                 else text_document(t.get("text"), str(t.get("source") or f"text {i + 1}"))
                 for i, t in enumerate(texts or [])]
        documents, reports = gather(False, list(files or []), texts)
        report = rag.index.index(owner_of(request), documents, ws.settings.default_model, chunk_size, overlap)
        return {**report.to_dict(), "files": [file.to_dict() for file in reports]}

    @event_handler
    def rag_query(question: str, top_k: int, request: gr.Request) -> dict:
        """Retrieve top_k chunks for this session's index (the shipped documents if none was built)
        and answer with them; also answers without retrieval, for comparison."""
        model = ws.settings.default_model
        hits = rag.retrieve(owner_of(request), question, top_k, model)
        result = last(rag.answer(question, hits, model))
        return result.to_dict() if result else {}

    queue = dict(concurrency_id=GENERATION_QUEUE, concurrency_limit=GENERATION_CONCURRENCY)
    gr.api(rag_index, api_name="rag_index")
    gr.api(rag_query, api_name="rag_query", **queue)
