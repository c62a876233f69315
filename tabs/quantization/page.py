"""Quantization tab: the same model at fp32, 16, 8 and 4 bits, measured side by side.

Endpoints: ``/quantize_compare`` (model, methods, prompt) -> rows; ``/quant_methods`` ().
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr
import plotly.graph_objects as go
import torch

from playground.core.iterutil import last
from playground.quantization.figure import weight_demo
from playground.quantization.lab import DEFAULT_NEW_TOKENS, QuantComparison
from playground.quantization.methods import available_methods
from playground.workspace import Workspace
from tabs.quantization import view as quant_view
from tabs.shared.common import event_handler, read_asset, wire_export
from tabs.shared.figures import waiting
from tabs.shared.queues import QUANT_CONCURRENCY, QUANT_QUEUE

DEFAULT_PROMPT = "Explain what a lighthouse does, in two sentences."
DEFAULT_METHODS = ("fp32", "bf16", "bnb-int8", "torchao-int8", "bnb-nf4")
HONESTY = ("**About the embedded model:** `smollm2-135m-instruct` ships as a Q4_1 GGUF; its “fp32” "
           "weights here were dequantized from those 4-bit values. So fp32 is the reference for "
           "what each method changes, not the original training precision, and re-quantizing to "
           "4 bits lands close to weights that were 4-bit already.")


"""One queue for the page and the API: comparisons load whole model copies."""

def status_line(state: QuantComparison) -> str:
    if state.queue_position:
        return f"⏳ Another comparison is running: {state.queue_position} ahead of you."
    running = next((row for row in state.rows if row.status == "running"), None)
    finished = sum(row.status in ("done", "failed", "unavailable") for row in state.rows)
    if running:
        return f"⏳ {running.title}: {running.step} ({finished + 1} of {len(state.rows)})"
    return f"✅ {finished} of {len(state.rows)} methods measured on {state.device.upper()}." if state.done else ""


def build(ws: Workspace, app: gr.Blocks) -> None:
    methods = available_methods(ws.settings.device)
    choices = [(m["title"] if m["available"] else f"{m['title']} (unavailable here)", m["method"]) for m in methods]
    with gr.Row():
        with gr.Column(scale=3):
            model = gr.Dropdown([ws.settings.default_model], value=ws.settings.default_model,
                                allow_custom_value=True, label="Model (causal; Hub id or local folder too)")
            runnable = {m["method"] for m in methods if m["available"]}
            chosen = gr.CheckboxGroup(choices, value=[m for m in DEFAULT_METHODS if m in runnable],
                                      label="Methods (fp32 always runs: it is the reference)", elem_id="q-methods")
            prompt = gr.Textbox(DEFAULT_PROMPT, label="Your prompt (KL divergence, top-1 agreement and the "
                                "answers are measured on it)", lines=2, elem_id="q-prompt")
            new_tokens = gr.Slider(8, 128, value=DEFAULT_NEW_TOKENS, step=1, label="New tokens for the answers")
            with gr.Row():
                run_button = gr.Button("Compare", variant="primary", elem_id="q-run")
                stop_button = gr.Button("Stop")
        with gr.Column(scale=2):
            gr.Markdown(HONESTY)
            with gr.Accordion("What quantization does to a weight", open=False) as notes:
                weights_plot = gr.Plot(show_label=False, elem_id="q-weights")
                gr.Markdown(read_asset("notes", "quantization.md"))
    status = gr.Markdown(elem_id="q-status")
    table = gr.Dataframe(headers=quant_view.TABLE_HEADERS, interactive=False, wrap=True, elem_id="q-table")
    with gr.Row():
        quality = gr.Plot(waiting("Press Compare: each method appears once measured."), label="Quality against size",
                          elem_id="q-quality")
        speed = gr.Plot(waiting("Press Compare: each method appears here once timed."), label="Speed against size",
                        elem_id="q-speed")
    outputs_html = gr.HTML(elem_id="q-outputs")
    last = gr.State(None)
    with gr.Row():
        export_button = gr.Button("Export results (JSON)", size="sm")
        exported = gr.File(label="Results", visible=False)

    @event_handler
    def compare(model_name: str, names: list[str], text: str, count: float
                ) -> Iterator[tuple[str, list[list[Any]], go.Figure, go.Figure, str, dict | None]]:
        for state in ws.quantization.compare(model_name, list(names or []), text, int(count)):
            yield (status_line(state), quant_view.table_rows(state), quant_view.quality_figure(state),
                   quant_view.speed_figure(state), quant_view.render_outputs(state),
                   state.to_dict() if state.done else None)

    @event_handler
    def show_weights(model_name: str) -> go.Figure:
        lm = ws.store.causal_lm(model_name)
        linear = next(module for name, module in lm.named_modules()
                      if isinstance(module, torch.nn.Linear) and "layers.0." in name)
        return quant_view.weight_figure(weight_demo(linear.weight), "block 0's first layer")

    notes.expand(show_weights, model, weights_plot, api_visibility="undocumented")
    event = run_button.click(compare, [model, chosen, prompt, new_tokens],
                             [status, table, quality, speed, outputs_html, last], api_visibility="undocumented",
                             api_name="quantization_page_compare", concurrency_limit=QUANT_CONCURRENCY,
                             concurrency_id=QUANT_QUEUE, show_progress="minimal")
    stop_button.click(None, cancels=[event], api_visibility="undocumented")
    wire_export(export_button, last, exported, "quantization")
    register_api(ws)


def register_api(ws: Workspace) -> None:
    @event_handler
    def quantize_compare(model: str, methods: list, prompt: str) -> list:
        """Measure `model` in each method against fp32 (always included): a list of rows with
        method, weight_bytes, load_seconds, prefill_seconds, tokens_per_s, perplexity, kl_vs_fp32,
        top1_agreement, output, first_difference, status and error (why a row could not run)."""
        final = last(ws.quantization.compare(model, [str(m) for m in methods or []], prompt))
        return [row.to_dict() for row in final.rows] if final else []

    @event_handler
    def quant_methods() -> list:
        """Every method with `available` on this machine and, if not, the `reason`."""
        return available_methods(ws.settings.device)

    gr.api(quantize_compare, api_name="quantize_compare", concurrency_limit=QUANT_CONCURRENCY,
           concurrency_id=QUANT_QUEUE)
    gr.api(quant_methods, api_name="quant_methods")
