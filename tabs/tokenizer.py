"""Tokenizer tab: one text, several tokenizers side by side, and chat templates.

Endpoints: ``/tokenize``, ``/tokenizers``, ``/chat_template``, ``/train_bpe`` (plain data), plus
the page's own handlers (HTML, tables, a chart).
"""

from __future__ import annotations

from typing import Any

import gradio as gr
import plotly.graph_objects as go

from playground.core.settings import DEFAULT_CAUSAL_MODEL
from playground.text.analysis import TokenizationResult, analyse, sanitize_text, visible_whitespace
from playground.text.bpe_training import DEFAULT_SENTENCE, STAGES, default_training_text, training_report
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


@event_handler
def train_panel(text: str, sentence: str) -> tuple[str, list[list[Any]], str]:
    """The "Train your own" panel: a summary, the first merges, the sentence at each stage."""
    report = training_report(text, sentence)
    learned = len(report.trained.merges)
    summary = (f"**Learned {learned:,} merges** from {report.num_chars:,} characters "
               f"({len(report.trained.words):,} distinct words) in {report.trained.seconds * 1000:.0f} ms.")
    notes = "".join(f"\n\n⚠️ {note}" for note in report.notes)
    rows = [[merge.rank, shown(merge.left), shown(merge.right), shown(merge.merged), merge.count]
            for merge in report.merges]
    columns = [token_view.render_column(result, show_whitespace=True) for result in report.stages]
    return summary + notes, rows, token_view.render_grid(columns)


def build_training_panel() -> None:
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
    common = dict(fn=train_panel, inputs=[corpus, sentence], outputs=[summary, merges, stages],
                  api_visibility="undocumented", show_progress="minimal", trigger_mode="always_last")
    train_button.click(**common)
    panel.expand(**common)
    corpus.change(**common)  # live: retraining a few pages takes a fraction of a second
    sentence.change(**common)


def build(ws: Workspace, app: gr.Blocks) -> None:
    """Lay out the tab inside the caller's ``gr.Tab`` and wire its events and endpoints."""
    samples = load_samples()
    available = ws.tokenizers.available()

    @event_handler
    def compare(text: str, names: list[str], extra: str, show_whitespace: bool,
                progress: gr.Progress = gr.Progress()) -> tuple[str, list[list[Any]], go.Figure, str]:
        cleaned, notes = sanitize_text(text)  # once, not once per tokenizer
        wanted = list(dict.fromkeys([*(names or []), *split_names(extra)]))
        results, columns, failures = [], [], []
        for name in wanted:
            try:
                result = analyse(ws.tokenizers.get(name, progress_callback(progress)), cleaned, notes)
            except Exception as error:  # one bad tokenizer must not hide the others
                columns.append(token_view.render_error_column(name, str(error)))
                failures.append(name)
                continue
            results.append(result)
            columns.append(token_view.render_column(result, show_whitespace))
        status = (f"⚠️ Could not load: {', '.join(failures)} (see its column)." if failures else "")
        return token_view.render_grid(columns), table_rows(results), counts_figure(results), status

    @event_handler
    def render_chat(rows: list[list[str]], tokenizer: str, add_generation_prompt: bool) -> str:
        messages = [{"role": row[0], "content": row[1]} for row in rows or [] if len(row) >= 2]
        result = ws.tokenizers.render_chat(messages, tokenizer, add_generation_prompt)
        special = sum(token.special for token in result.tokens)
        head = (f'<div class="tok-stats"><b class="stat-tokens">{result.num_tokens:,} tokens</b> '
                f"in the whole conversation · {special} special tokens (outlined)</div>")
        return head + token_view.render_spans(result, show_whitespace=True)

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

    with gr.Accordion("Chat template: a conversation as the model sees it", open=False):
        with gr.Row():
            chat_tokenizer = gr.Dropdown([DEFAULT_CAUSAL_MODEL], value=DEFAULT_CAUSAL_MODEL,
                                         allow_custom_value=True, label="Chat model")
            add_generation_prompt = gr.Checkbox(True, label="Add the generation prompt "
                                                            "(the cue for the assistant's turn)")
        messages = gr.Dataframe(value=DEFAULT_MESSAGES, headers=["role", "content"], type="array",
                                interactive=True, column_count=2, wrap=True, label="Messages "
                                "(role: system, user or assistant)", elem_id="chat-messages")
        render_button = gr.Button("Render with the chat template", variant="primary")
        chat_view = gr.HTML(elem_id="chat-view")
    build_training_panel()

    inputs = [text, chosen, extra, show_whitespace]
    outputs = [spans, table, plot, status]
    common = dict(fn=compare, inputs=inputs, outputs=outputs, api_visibility="undocumented",
                  show_progress="minimal", trigger_mode="always_last")
    text.change(**common)  # fires for typing, pasting and the sample picker alike
    chosen.change(**common)
    extra.submit(**common)
    show_whitespace.change(**common)
    sample.change(lambda title: samples.get(title, ""), sample, text, api_visibility="undocumented")
    render_button.click(render_chat, [messages, chat_tokenizer, add_generation_prompt], chat_view,
                        api_visibility="undocumented")
    app.load(**{key: value for key, value in common.items() if key != "trigger_mode"})
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
