"""Tokenizer tab: one text, several tokenizers side by side, and chat templates.

Endpoints: ``/tokenize``, ``/tokenizers``, ``/chat_template``, ``/train_bpe`` (plain data), plus
the page's own handlers (HTML, tables, a chart).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import gradio as gr
import plotly.graph_objects as go

from playground.core.progress import ProgressFn
from playground.core.settings import DEFAULT_CAUSAL_MODEL
from playground.text.analysis import TokenizationResult, TokenizerRegistry, visible_whitespace
from playground.text.bpe_training import DEFAULT_SENTENCE, STAGES, default_training_text, training_report
from playground.text.comparison import CompareRequest, TokenizerComparison, compare_tokenizers
from playground.workspace import Workspace
from tabs.shared import token_view
from tabs.shared.common import event_handler, progress_callback, read_asset, split_names
from tabs.shared.samples import load_samples

TABLE_HEADERS = ["Tokenizer", "Type", "Vocab", "Tokens", "Chars", "Words", "Chars/token",
                 "Round trip", "Context", "Past context"]

DEFAULT_MESSAGES = [
    ["system", "You are a concise tutor."],
    ["user", "What is a token?"],
    ["assistant", "A piece of text the model reads as one unit."],
    ["user", "Why do counts differ between models?"],
]


def table_rows(results: list[TokenizationResult]) -> list[list[Any]]:
    rows = []
    for result in results:
        row = result.summary()
        rows.append([row["tokenizer"], row["family"], row["vocab_size"], row["num_tokens"],
                     row["num_chars"], row["num_words"], row["chars_per_token"],
                     "yes" if row["round_trip"] else "no (lossy)",
                     row["context_length"] or "n/a", row["num_truncated"]])
    return rows


def counts_figure(results: list[TokenizationResult]) -> go.Figure:
    names = [result.tokenizer for result in results]
    counts = [result.num_tokens for result in results]
    figure = go.Figure(go.Bar(x=names, y=counts, text=counts, textposition="auto",
                              marker_color="#6366f1",
                              hovertemplate="%{x}: %{y} tokens<extra></extra>"))
    figure.update_layout(title="Tokens for the same text", height=260,
                         margin=dict(l=40, r=10, t=40, b=40), yaxis_title="tokens")
    return figure


MERGE_HEADERS = ["Step", "Left", "Right", "New token", "Pair count"]


def shown(piece: str) -> str:
    """A merge's piece with its spaces visible (a leading space is most of what BPE learns first)."""
    return visible_whitespace(piece)


@dataclass(frozen=True)
class CompareView:
    """The comparison's components (layout), which its translation and wiring refer to."""

    text: gr.Textbox
    sample: gr.Dropdown
    chosen: gr.CheckboxGroup
    extra: gr.Textbox
    show_whitespace: gr.Checkbox
    status: gr.Markdown
    spans: gr.HTML
    table: gr.Dataframe
    plot: gr.Plot

    @property
    def inputs(self) -> set[Any]:
        return {self.text, self.chosen, self.extra, self.show_whitespace}

    @property
    def outputs(self) -> list[Any]:
        return [self.spans, self.table, self.plot, self.status]


@dataclass(frozen=True)
class ChatView:
    """The chat template panel's components."""

    tokenizer: gr.Dropdown
    add_generation_prompt: gr.Checkbox
    messages: gr.Dataframe
    render_button: gr.Button
    view: gr.HTML

    @property
    def inputs(self) -> set[Any]:
        return {self.tokenizer, self.add_generation_prompt, self.messages}


@dataclass(frozen=True)
class TrainingView:
    """The "Train your own" panel's components."""

    panel: gr.Accordion
    corpus: gr.Textbox
    sentence: gr.Textbox
    train_button: gr.Button
    summary: gr.Markdown
    merges: gr.Dataframe
    stages: gr.HTML

    @property
    def inputs(self) -> set[Any]:
        return {self.corpus, self.sentence}

    @property
    def outputs(self) -> list[Any]:
        return [self.summary, self.merges, self.stages]


def compare_request(view: CompareView, values: Mapping[Any, Any]) -> CompareRequest:
    """The ticked tokenizers, then the typed ones: the request the widgets describe."""
    return CompareRequest(values[view.text], [*(values[view.chosen] or []), *split_names(values[view.extra])])


def render_comparison(comparison: TokenizerComparison, show_whitespace: bool) -> str:
    """One column per tokenizer, in the order asked; a failure gets an error column in its place."""
    return token_view.render_grid([
        token_view.render_column(column, show_whitespace) if isinstance(column, TokenizationResult)
        else token_view.render_error_column(column.tokenizer, column.error)
        for column in comparison.columns])


def compare_outputs(registry: TokenizerRegistry, view: CompareView, values: Mapping[Any, Any],
                    progress: ProgressFn | None = None) -> dict[Any, Any]:
    """The comparison the widgets ask for, run by the library, as the columns, table, chart and status."""
    comparison = compare_tokenizers(registry, compare_request(view, values), progress)
    failed = [failure.tokenizer for failure in comparison.failures]
    return {view.spans: render_comparison(comparison, values[view.show_whitespace]),
            view.table: table_rows(comparison.results), view.plot: counts_figure(comparison.results),
            view.status: f"⚠️ Could not load: {', '.join(failed)} (see its column)." if failed else ""}


def chat_messages(rows: list[list[str]] | None) -> list[dict[str, str]]:
    """The messages table's rows as {role, content}; short rows (the editor's spare line) are skipped."""
    return [{"role": row[0], "content": row[1]} for row in rows or [] if len(row) >= 2]


def chat_outputs(registry: TokenizerRegistry, view: ChatView, values: Mapping[Any, Any]) -> dict[Any, str]:
    """The conversation as the model sees it: the library renders and tokenizes, the page draws it."""
    result = registry.render_chat(chat_messages(values[view.messages]), values[view.tokenizer],
                                  values[view.add_generation_prompt])
    special = sum(token.special for token in result.tokens)
    head = (f'<div class="tok-stats"><b class="stat-tokens">{result.num_tokens:,} tokens</b> '
            f"in the whole conversation · {special} special tokens (outlined)</div>")
    return {view.view: head + token_view.render_spans(result, show_whitespace=True)}


def training_outputs(view: TrainingView, values: Mapping[Any, Any]) -> dict[Any, Any]:
    """The "Train your own" panel: a summary, the first merges, the sentence at each stage."""
    report = training_report(values[view.corpus], values[view.sentence])
    learned = len(report.trained.merges)
    summary = (f"**Learned {learned:,} merges** from {report.num_chars:,} characters "
               f"({len(report.trained.words):,} distinct words) in {report.trained.seconds * 1000:.0f} ms.")
    notes = "".join(f"\n\n⚠️ {note}" for note in report.notes)
    rows = [[merge.rank, shown(merge.left), shown(merge.right), shown(merge.merged), merge.count]
            for merge in report.merges]
    columns = [token_view.render_column(result, show_whitespace=True) for result in report.stages]
    return {view.summary: summary + notes, view.merges: rows, view.stages: token_view.render_grid(columns)}


def layout_compare(samples: dict[str, str], available: list[str]) -> CompareView:
    """The text, the tokenizers to compare and the notes beside them; the columns, table and chart below."""
    with gr.Row():
        with gr.Column(scale=3):
            text = gr.Textbox(label="Text", value=next(iter(samples.values()), ""), lines=6,
                              max_lines=16, elem_id="tok-text")
            with gr.Row():
                sample = gr.Dropdown(list(samples), label="Sample text", value=None, scale=1)
                chosen = gr.CheckboxGroup(available, value=available, label="Tokenizers",
                                          elem_id="tok-choice", scale=2)
            extra = gr.Textbox(label="More tokenizers: Hub ids or local folders, comma-separated "
                                     "(Hub ids need a network)",
                               placeholder="gpt2, Qwen/Qwen2.5-0.5B-Instruct, ./my-tokenizer")
            show_whitespace = gr.Checkbox(True, label="Show whitespace and invisible characters")
        with gr.Column(scale=2):
            with gr.Accordion("How tokenizers work", open=True):
                gr.Markdown(read_asset("notes", "tokenizer.md"))
    status = gr.Markdown(elem_id="tok-status")
    spans = gr.HTML(elem_id="tok-spans")
    # Full width: all ten columns fit, where beside the chart six showed and the rest hid off the edge.
    table = gr.Dataframe(headers=TABLE_HEADERS, interactive=False, wrap=True, elem_id="tok-table")
    plot = gr.Plot(label="Tokens per tokenizer")
    return CompareView(text, sample, chosen, extra, show_whitespace, status, spans, table, plot)


def layout_chat() -> ChatView:
    with gr.Accordion("Chat template: a conversation as the model sees it", open=False):
        with gr.Row():
            tokenizer = gr.Dropdown([DEFAULT_CAUSAL_MODEL], value=DEFAULT_CAUSAL_MODEL,
                                    allow_custom_value=True, label="Chat model")
            add_generation_prompt = gr.Checkbox(True, label="Add the generation prompt "
                                                            "(the cue for the assistant's turn)")
        messages = gr.Dataframe(value=DEFAULT_MESSAGES, headers=["role", "content"], type="array",
                                interactive=True, column_count=2, wrap=True, label="Messages "
                                "(role: system, user or assistant)", elem_id="chat-messages")
        render_button = gr.Button("Render with the chat template", variant="primary")
        view = gr.HTML(elem_id="chat-view")
    return ChatView(tokenizer, add_generation_prompt, messages, render_button, view)


def layout_training() -> TrainingView:
    """Train a small BPE on the user's text, live: the merges, then one sentence at three sizes."""
    with gr.Accordion("Train your own: a BPE tokenizer learned from your text", open=False,
                      elem_id="bpe-panel") as panel:
        gr.Markdown("Byte-level BPE starts from the 256 bytes and repeatedly merges the pair of symbols seen "
                    "most often in the training text (the `tokenizers` library trains it here, in well under a "
                    "second for a few pages). The table shows the first merges in the order they were learned; "
                    "below, the same sentence with the first " + ", ".join(f"{s:,}" for s in STAGES) +
                    " merges: single letters, then subwords, then whole words. `·` is a space.")
        with gr.Row():
            corpus = gr.Textbox(default_training_text(), label="Training text (paste a few pages of your own)",
                                lines=6, max_lines=12, elem_id="bpe-text", scale=3)
            with gr.Column(scale=2):
                sentence = gr.Textbox(DEFAULT_SENTENCE, label="Sentence to tokenize", elem_id="bpe-sentence")
                train_button = gr.Button("Train", variant="primary", elem_id="bpe-train")
                summary = gr.Markdown(elem_id="bpe-summary")
        merges = gr.Dataframe(headers=MERGE_HEADERS, interactive=False, elem_id="bpe-merges", max_height=320,
                              label="The first merges, step by step (pair count: how often the pair occurred "
                                    "when it was merged)")
        stages = gr.HTML(elem_id="bpe-stages")
    return TrainingView(panel, corpus, sentence, train_button, summary, merges, stages)


@event_handler
def compare_in_page(registry: TokenizerRegistry, view: CompareView, values: dict[Any, Any],
                    progress: gr.Progress = gr.Progress()) -> dict[Any, Any]:
    return compare_outputs(registry, view, values, progress_callback(progress))


@event_handler
def chat_in_page(registry: TokenizerRegistry, view: ChatView, values: dict[Any, Any]) -> dict[Any, str]:
    return chat_outputs(registry, view, values)


@event_handler
def train_in_page(view: TrainingView, values: dict[Any, Any]) -> dict[Any, Any]:
    return training_outputs(view, values)


def sample_text(samples: dict[str, str], title: str | None) -> str:
    return samples.get(title, "") if title else ""


def wire_compare(ws: Workspace, app: gr.Blocks, view: CompareView, samples: dict[str, str]) -> None:
    common = dict(fn=partial(compare_in_page, ws.tokenizers, view), inputs=view.inputs, outputs=view.outputs,
                  api_visibility="undocumented", show_progress="minimal", trigger_mode="always_last")
    view.text.change(**common)  # fires for typing, pasting and the sample picker alike
    view.chosen.change(**common)
    view.extra.submit(**common)
    view.show_whitespace.change(**common)
    view.sample.change(partial(sample_text, samples), view.sample, view.text, api_visibility="undocumented")
    app.load(**{key: value for key, value in common.items() if key != "trigger_mode"})


def wire_chat(ws: Workspace, view: ChatView) -> None:
    view.render_button.click(partial(chat_in_page, ws.tokenizers, view), view.inputs, [view.view],
                             api_visibility="undocumented")


def wire_training(view: TrainingView) -> None:
    common = dict(fn=partial(train_in_page, view), inputs=view.inputs, outputs=view.outputs,
                  api_visibility="undocumented", show_progress="minimal", trigger_mode="always_last")
    view.train_button.click(**common)
    view.panel.expand(**common)
    view.corpus.change(**common)  # live: retraining a few pages takes a fraction of a second
    view.sentence.change(**common)


def build(ws: Workspace, app: gr.Blocks) -> None:
    """Lay out the tab inside the caller's ``gr.Tab`` and wire its events and endpoints."""
    samples = load_samples()
    compare_view = layout_compare(samples, ws.tokenizers.available())
    chat_view = layout_chat()
    training_view = layout_training()
    wire_compare(ws, app, compare_view, samples)
    wire_chat(ws, chat_view)
    wire_training(training_view)
    register_api(ws)


def register_api(ws: Workspace) -> None:
    """Named endpoints returning plain data, for ``gradio_client``, notebooks and tests."""

    @event_handler
    def tokenize(text: str, tokenizer: str) -> dict:
        """Tokens of `text` under `tokenizer`: each {id, text, start, end, special, ...};
        text[start:end] is the token's span of the input (empty for added special tokens)."""
        return ws.tokenizers.tokenize(text, tokenizer).to_dict()

    @event_handler
    def tokenizers() -> list:
        """Names of the tokenizers available on this machine."""
        return ws.tokenizers.available()

    @event_handler
    def chat_template(messages: list, tokenizer: str, add_generation_prompt: bool) -> dict:
        """A list of {role, content} rendered with the model's chat template, then tokenized."""
        result = ws.tokenizers.render_chat(messages, tokenizer, add_generation_prompt)
        return {"text": result.text, **result.to_dict()}

    @event_handler
    def train_bpe(text: str, sentence: str) -> dict:
        """Train a byte-level BPE on `text` (up to 2,000 merges) and tokenize `sentence` after
        100, 500 and 2,000 of them: {num_merges, merges: [{rank, left, right, merged, count}],
        stages: [{merges, applied, num_tokens, tokens: [{text, piece, id, start, end}]}], notes}."""
        return training_report(text, sentence).to_dict()

    gr.api(tokenize, api_name="tokenize")
    gr.api(train_bpe, api_name="train_bpe")
    gr.api(tokenizers, api_name="tokenizers")
    gr.api(chat_template, api_name="chat_template")
