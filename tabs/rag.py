"""RAG tab: index documents, ask a question, see the chunks, the prompt, and the answer with and
without retrieval side by side.

Endpoints: ``/rag_index`` (texts, files, chunk_size, overlap) -> {num_chunks, ...};
``/rag_query`` (question, top_k) -> {chunks, prompt, answer, answer_without_retrieval}.
Each browser session (and each API client) has its own index.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import gradio as gr
import plotly.graph_objects as go

from playground.core.iterutil import last
from playground.rag.actions import (
    AgainRequest,
    AskRequest,
    IndexRequest,
    IndexResult,
    api_texts,
    ask,
    ask_again,
    index_documents,
)
from playground.rag.chunking import Chunk
from playground.rag.index import Hit
from playground.rag.pipeline import (
    DEFAULT_CHUNK,
    DEFAULT_OVERLAP,
    DEFAULT_TOP_K,
    ChunkMap,
    RagPipeline,
    RagResult,
)
from playground.rag.readers import UPLOAD_TYPES, FileReport, text_document
from playground.workspace import Workspace
from tabs.shared import generation_view
from tabs.shared.common import event_handler, owner_of, read_asset, uploaded_name, uploaded_path
from tabs.shared.figures import waiting
from tabs.shared.queues import GENERATION_CONCURRENCY, GENERATION_QUEUE

CHUNK_HEADERS = ["Source", "#", "Tokens", "Text"]
HIT_HEADERS = ["[n]", "Score", "Source", "Chunk", "Text"]
DEFAULT_QUESTION = "On what date does the Lantern Festival on Quenmoor start?"
INDEX_NOTE = (f"Indexing is optional: **Ask** without it searches the shipped documents, cut into chunks of "
              f"{DEFAULT_CHUNK} tokens with an overlap of {DEFAULT_OVERLAP}. Index to add your own documents or to "
              "try other chunk sizes; the index is yours alone and lasts while this page is open.")


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


@dataclass(frozen=True)
class IndexView:
    """The documents panel: what to index, how to chunk it, and what indexing gave."""

    model: gr.Dropdown
    include_shipped: gr.Checkbox
    files: gr.File
    pasted: gr.Textbox
    chunk_size: gr.Slider
    overlap: gr.Slider
    index_button: gr.Button
    report: gr.Markdown
    chunk_table: gr.Dataframe

    @property
    def inputs(self) -> set[Any]:
        return {self.model, self.include_shipped, self.files, self.pasted, self.chunk_size, self.overlap}


@dataclass(frozen=True)
class AskView:
    """The question panel: the question, the retrieved chunks, both answers, the prompt and the map."""

    model: gr.Dropdown
    question: gr.Textbox
    top_k: gr.Slider
    ask_button: gr.Button
    stop_button: gr.Button
    hits_table: gr.Dataframe
    leave_out: gr.CheckboxGroup
    again_button: gr.Button
    answers: gr.HTML
    prompt_box: gr.Textbox
    chunk_map: gr.Plot
    hits_state: gr.State


def layout_index(ws: Workspace) -> IndexView:
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
    return IndexView(model, include_shipped, files, pasted, chunk_size, overlap, index_button, report, chunk_table)


def layout_ask(model: gr.Dropdown) -> AskView:
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
    chunk_map = gr.Plot(waiting("Ask a question: the chunks, the question and the retrieved hits on a map of the "
                                "embeddings."), label="Embedding map", elem_id="rag-map")
    return AskView(model, question, top_k, ask_button, stop_button, hits_table, leave_out, again_button, answers,
                   prompt_box, chunk_map, gr.State([]))


def index_summary(result: IndexResult) -> str:
    """What indexing did (chunks, documents, embedded or reused), then what each uploaded file gave."""
    report = result.report
    plural = "s" if report.documents != 1 else ""
    summary = (f"**{report.num_chunks} chunks** from {report.documents} document{plural} · embedded "
               f"{report.embedded} new or changed, reused {report.reused}, removed {report.removed}.")
    return "\n\n".join(part for part in (summary, files_report(list(result.files))) if part)


def chunk_rows(chunks: list[Chunk]) -> list[list[Any]]:
    """The chunk table: source, number, size in tokens and text of each chunk."""
    return [[c.source, c.index, c.token_end - c.token_start, c.text] for c in chunks]


def uploads(files: list[Any] | None) -> tuple[tuple[str, str], ...]:
    """Gradio's uploads (paths or FileData) as ``(path, the user's file name)``."""
    return tuple((uploaded_path(item), uploaded_name(item)) for item in files or [])


def index_outputs(rag: RagPipeline, view: IndexView, values: dict[Any, Any], owner: str) -> dict[Any, Any]:
    """The page's "Index": the request the widgets describe, indexed by the library, then its report and chunks."""
    text = values[view.pasted]
    pasted = (text_document(text, "pasted text"),) if text and text.strip() else ()
    request = IndexRequest(owner, values[view.model], pasted, uploads(values[view.files]),
                           values[view.include_shipped], values[view.chunk_size], values[view.overlap])
    result = index_documents(rag, request)
    chunks, _ = rag.index.vectors(owner, limit=5000)
    return {view.report: index_summary(result), view.chunk_table: chunk_rows(chunks)}


def answer_outputs(view: AskView, result: RagResult, dropped: bool) -> dict[Any, str]:
    """Both answers side by side (the first titled with the chunks it kept) and the prompt sent."""
    kept = ", ".join(f"[{n}]" for n in result.numbers) or "none"
    titles = [f"With retrieval (chunks {kept})" if dropped else "With retrieval", "Without retrieval"]
    runs = result.comparison.runs if result.comparison else []
    return {view.answers: generation_view.render_columns(runs, titles), view.prompt_box: result.prompt}


def ask_outputs(rag: RagPipeline, view: AskView, values: dict[Any, Any], owner: str) -> Iterator[dict[Any, Any]]:
    """The page's "Ask": the retrieved chunks (kept for "Ask again"), the map, then both answers as they stream."""
    request = AskRequest(owner, values[view.question], values[view.model], values[view.top_k])
    retrieved: dict[Any, Any] = {}
    for result in ask(rag, request):
        if not retrieved:  # the chunks are the same in every state of the stream
            choices = [(f"[{n}] {hit.chunk.source} #{hit.chunk.index}", n) for n, hit in enumerate(result.hits, 1)]
            retrieved = {view.hits_table: hit_rows(result.hits), view.hits_state: result.hits,
                         view.leave_out: gr.CheckboxGroup(choices=choices, value=[]),
                         view.chunk_map: map_figure(rag.question_map(owner, request.question), result.hits)}
        yield {**retrieved, **answer_outputs(view, result, False)}


def again_outputs(rag: RagPipeline, view: AskView, values: dict[Any, Any]) -> Iterator[dict[Any, Any]]:
    """The page's "Ask again without them": the table keeps the numbers (dropped ones marked), as does the prompt."""
    request = AgainRequest(values[view.question], values[view.model], values[view.hits_state],
                           frozenset(int(n) for n in values[view.leave_out] or []))
    rows = hit_rows(list(request.hits), set(request.leave_out))
    for result in ask_again(rag, request):
        yield {view.hits_table: rows, **answer_outputs(view, result, bool(request.leave_out))}


def wire_index(rag: RagPipeline, view: IndexView) -> None:
    @event_handler
    def index_in_page(values: dict[Any, Any], request: gr.Request) -> dict[Any, Any]:
        return index_outputs(rag, view, values, owner_of(request))

    view.index_button.click(index_in_page, view.inputs, [view.report, view.chunk_table],
                            api_visibility="undocumented", api_name="rag_page_index")


def wire_ask(rag: RagPipeline, app: gr.Blocks, view: AskView) -> None:
    @event_handler
    def ask_in_page(values: dict[Any, Any], request: gr.Request) -> Iterator[dict[Any, Any]]:
        yield from ask_outputs(rag, view, values, owner_of(request))

    def forget(request: gr.Request) -> None:
        """A closed page takes its index with it (memory on a shared server stays bounded)."""
        rag.index.drop(owner_of(request))

    queue = dict(concurrency_id=GENERATION_QUEUE, concurrency_limit=GENERATION_CONCURRENCY)
    event = view.ask_button.click(ask_in_page, {view.model, view.question, view.top_k},
                                  [view.hits_table, view.leave_out, view.answers, view.prompt_box, view.chunk_map,
                                   view.hits_state], api_visibility="undocumented", api_name="rag_page_ask", **queue)
    again = view.again_button.click(event_handler(partial(again_outputs, rag, view)),
                                    {view.model, view.question, view.hits_state, view.leave_out},
                                    [view.hits_table, view.answers, view.prompt_box],
                                    api_visibility="undocumented", api_name="rag_page_again", **queue)
    view.stop_button.click(None, cancels=[event, again], api_visibility="undocumented")
    app.unload(forget)


def build(ws: Workspace, app: gr.Blocks) -> None:
    index_view = layout_index(ws)
    ask_view = layout_ask(index_view.model)
    wire_index(ws.rag, index_view)
    wire_ask(ws.rag, app, ask_view)
    register_api(ws)


def register_api(ws: Workspace) -> None:
    rag = ws.rag

    @event_handler
    def rag_index(texts: list, files: list[gr.FileData] | None, chunk_size: int, overlap: int,
                  request: gr.Request) -> dict:
        """Index texts (strings, or {source, text}) and files (PDF, .docx, HTML, .txt, .md) for this
        client session, replacing what it indexed before (unchanged documents are not embedded again).
        ``files`` in the result gives each file's pages and characters read, or why it was skipped."""
        wanted = IndexRequest(owner_of(request), ws.settings.default_model, api_texts(texts), uploads(files),
                              False, chunk_size, overlap)
        return index_documents(rag, wanted).to_dict()

    @event_handler
    def rag_query(question: str, top_k: int, request: gr.Request) -> dict:
        """Retrieve top_k chunks for this session's index (the shipped documents if none was built)
        and answer with them; also answers without retrieval, for comparison."""
        result = last(ask(rag, AskRequest(owner_of(request), question, ws.settings.default_model, top_k)))
        return result.to_dict() if result else {}

    queue = dict(concurrency_id=GENERATION_QUEUE, concurrency_limit=GENERATION_CONCURRENCY)
    gr.api(rag_index, api_name="rag_index")
    gr.api(rag_query, api_name="rag_query", **queue)
