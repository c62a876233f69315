"""Attention tab: live heatmaps for every layer and head, causal against bidirectional.

Endpoint: ``/attention`` (text, model, layer, head) -> tokens and one head's n x n weights.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from playground.attention import DEFAULT_MAX_TOKENS, MAX_TOKENS_LIMIT
from playground.core.settings import DEFAULT_CAUSAL_MODEL, DEFAULT_ENCODER_MODEL
from playground.models.registry import EMBEDDED_MODELS
from playground.workspace import Workspace
from tabs.attention import plots
from tabs.shared.common import event_handler, progress_callback, read_asset
from tabs.shared.queues import (
    ATTENTION_FORWARD_CONCURRENCY,
    ATTENTION_FORWARD_QUEUE,
    ATTENTION_HEAD_DRAW_CONCURRENCY,
    ATTENTION_HEAD_DRAW_QUEUE,
)
from tabs.shared.sliders import bounded_slider, clip

DEFAULT_TEXT = "The animal didn't cross the street because it was too tired."
PAGE_MAX_TOKENS = 128
CAUSAL, ENCODER = DEFAULT_CAUSAL_MODEL, DEFAULT_ENCODER_MODEL
"""The pair drawn in "Causal vs bidirectional": the embedded decoder and the embedded encoder."""


def pin_for_text(pin: Any, pinned_tokens: list[str] | None, maps: Any) -> int | None:
    """The pin that still applies to ``maps``: the user's choice only while the text's tokens are the ones
    it was chosen on. A new text starts again from its last token; keeping the old index would pin token
    0 (the hidden sink) after typing from scratch, or some middle token of a pasted sentence."""
    return pin if pinned_tokens == list(maps.tokens) else None


def pin_dropdown(pin: Any, maps: Any) -> gr.Dropdown:
    """The text's tokens to choose from; defaults to the last token (the one that predicts next).

    Like the sliders, a still-valid choice is left alone so a late refresh cannot undo it.
    """
    choices = [(label, index) for index, label in enumerate(plots.axis_labels(maps))]
    if isinstance(pin, int) and 0 <= pin < maps.num_tokens:
        return gr.Dropdown(choices=choices)
    return gr.Dropdown(choices=choices, value=maps.num_tokens - 1)


def pinned_index(pin: Any, maps: Any) -> int:
    return clip(pin, maps.num_tokens - 1) if isinstance(pin, int) else maps.num_tokens - 1


FORWARD_QUEUE = dict(concurrency_id=ATTENTION_FORWARD_QUEUE, concurrency_limit=ATTENTION_FORWARD_CONCURRENCY)
"""Forward passes with every attention map: two at once. On 2 cores more only adds contention (the
load benchmark's tokenize p95 halved during the opening burst with fewer at once), and a repeat is cached."""


def build(ws: Workspace, app: gr.Blocks) -> None:
    explorer = ws.attention

    def maps_for(text: str, model: str, max_tokens: float, progress: gr.Progress | None = None):
        return explorer.compute(text, model, int(max_tokens), progress_callback(progress))

    @event_handler
    def refresh(text: str, model: str, max_tokens: float, layer: float, head: float, metric: str,
                pin: int | None, hide_sink: bool, pinned_tokens: list[str] | None,
                progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        if not (text or "").strip():  # a cleared box while typing: keep the figures, no error popup
            return ("Type some text to see its attention.", *[gr.skip()] * 7)
        maps = maps_for(text, model, max_tokens, progress)
        pin = pin_for_text(pin, pinned_tokens, maps)
        pin_index = pinned_index(pin, maps)
        notice = (f"**{maps.model}** · {maps.kind} · {maps.num_layers} layers x {maps.num_heads} "
                  f"heads · {maps.num_tokens} tokens")
        if maps.truncated:
            notice += (f" · ⚠️ the text has {maps.total_tokens:,} tokens: only the first "
                       f"{maps.num_tokens} are drawn (raise “Max tokens drawn”, up to {MAX_TOKENS_LIMIT}).")
        for name in (CAUSAL, ENCODER):  # the comparison's forwards, so the chained draw is a lookup
            maps_for(text, name, max_tokens)
        return (notice,
                bounded_slider(layer, maps.num_layers - 1),
                bounded_slider(head, maps.num_heads - 1),
                pin_dropdown(pin, maps),
                plots.overview_figure(maps, metric),
                plots.pinned_figure(maps, pin_index, hide_sink),
                plots.rollout_figure(maps, hide_sink), list(maps.tokens))

    @event_handler
    def show_head(text: str, model: str, max_tokens: float, layer: float, head: float) -> tuple[Any, ...]:
        """The chosen head, its layer, and the same layer and head in the causal and the encoder model
        (each clipped to what that model has), so "Causal vs bidirectional" follows both sliders."""
        if not (text or "").strip():
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        maps = maps_for(text, model, max_tokens)
        layer_index, head_index = clip(layer, maps.num_layers - 1), clip(head, maps.num_heads - 1)
        compare = [plots.head_figure(m, clip(layer, m.num_layers - 1), clip(head, m.num_heads - 1))
                   for m in (maps_for(text, name, max_tokens) for name in (CAUSAL, ENCODER))]
        return plots.head_figure(maps, layer_index, head_index), plots.layer_figure(maps, layer_index), *compare

    @event_handler
    def show_overview(text: str, model: str, max_tokens: float, metric: str) -> Any:
        if not (text or "").strip():
            return gr.skip()
        return plots.overview_figure(maps_for(text, model, max_tokens), metric)

    @event_handler
    def show_sink_views(text: str, model: str, max_tokens: float, pin: int | None,
                        hide_sink: bool) -> tuple[Any, Any]:
        if not (text or "").strip():
            return gr.skip(), gr.skip()
        maps = maps_for(text, model, max_tokens)
        return (plots.pinned_figure(maps, pinned_index(pin, maps), hide_sink),
                plots.rollout_figure(maps, hide_sink))

    with gr.Row():
        with gr.Column(scale=3):
            text = gr.Textbox(label="Text (the maps follow as you type)", value=DEFAULT_TEXT, lines=3,
                              max_lines=8, elem_id="attn-text")
            with gr.Row():
                model = gr.Dropdown(list(EMBEDDED_MODELS), value=CAUSAL, allow_custom_value=True,
                                    label="Model (or a Hub id / local folder)", elem_id="attn-model")
                max_tokens = gr.Slider(16, MAX_TOKENS_LIMIT, value=PAGE_MAX_TOKENS, step=16,
                                       label="Max tokens drawn")
            with gr.Row():
                layer = gr.Slider(0, 29, value=0, step=1, label="Layer", elem_id="attn-layer")
                head = gr.Slider(0, 8, value=0, step=1, label="Head", elem_id="attn-head-slider")
        with gr.Column(scale=2):
            with gr.Accordion("How attention works", open=True):
                gr.Markdown(read_asset("notes", "attention.md"),
                            latex_delimiters=[{"left": "$$", "right": "$$", "display": True}])
    with gr.Row():
        notice = gr.Markdown(elem_id="attn-notice")
        hide_sink = gr.Checkbox(True, label="Hide the attention sink (token 0) in the pinned-token "
                                "and rollout views, to see where the rest of the weight goes",
                                elem_id="attn-hide-sink")
    with gr.Tabs():
        with gr.Tab("One head"):
            head_plot = gr.Plot(elem_id="attn-head-plot", show_label=False)
        with gr.Tab("All heads of the layer"):
            layer_plot = gr.Plot(show_label=False)
        with gr.Tab("Layer x head overview"):
            metric = gr.Radio([(label, key) for key, label in plots.METRICS.items()],
                              value="first_token", label="Colour each head by")
            overview_plot = gr.Plot(show_label=False)
        with gr.Tab("Pin a token"):
            pin = gr.Dropdown([], value=None, label="Token to pin (defaults to the last token)",
                              elem_id="attn-pin")
            pinned_plot = gr.Plot(show_label=False)
        with gr.Tab("Rollout"):
            rollout_plot = gr.Plot(show_label=False)
        with gr.Tab("Causal vs bidirectional"):
            gr.Markdown(f"The same text, same layer and head, in **{CAUSAL}** (causal: the grey "
                        f"upper triangle is the mask) and **{ENCODER}** (bidirectional: every token "
                        "sees both ways).")
            with gr.Row():
                causal_plot = gr.Plot(show_label=False, elem_id="attn-causal-plot")
                encoder_plot = gr.Plot(show_label=False, elem_id="attn-encoder-plot")
    pinned_tokens = gr.State(None)  # the tokens the pin was chosen on: a new text resets it to its last

    base = [text, model, max_tokens]
    everything = dict(fn=refresh, inputs=[*base, layer, head, metric, pin, hide_sink, pinned_tokens],
                      outputs=[notice, layer, head, pin, overview_plot,
                               pinned_plot, rollout_plot, pinned_tokens],
                      api_visibility="undocumented", show_progress="minimal", **FORWARD_QUEUE)
    # The head figures are drawn by a chained step that reads the sliders when it runs. The chained
    # step and the sliders' own step share one queue of width 1, so they finish in the order they
    # were asked: a late chained draw (layer 0) can no longer land after the user's (layer 12).
    # Each draw is a cached lookup plus one figure, so one at a time costs little.
    head_views = dict(fn=show_head, inputs=[*base, layer, head],
                      outputs=[head_plot, layer_plot, causal_plot, encoder_plot],
                      api_visibility="undocumented", show_progress="hidden",
                      concurrency_id=ATTENTION_HEAD_DRAW_QUEUE,
                      concurrency_limit=ATTENTION_HEAD_DRAW_CONCURRENCY)
    # one listener for every trigger, so "always_last" orders them: the page load's refresh can no longer finish
    # after a model chosen in the first seconds and put the default model's maps back
    gr.on([app.load, text.change, model.change, max_tokens.release], trigger_mode="always_last",
          **everything).then(**head_views)
    for slider in (layer, head):
        slider.change(trigger_mode="always_last", **head_views)
    metric.change(show_overview, [*base, metric], overview_plot, api_visibility="undocumented")
    for control in (pin, hide_sink):
        control.change(show_sink_views, [*base, pin, hide_sink], [pinned_plot, rollout_plot],
                       trigger_mode="always_last", api_visibility="undocumented", show_progress="hidden")

    @event_handler
    def attention(text: str, model: str, layer: int, head: int) -> dict:
        """One layer and head's attention for `text`: tokens and an n x n matrix whose rows
        (queries) sum to 1. Texts longer than 256 tokens are truncated (see `truncated`)."""
        return explorer.compute(text, model, DEFAULT_MAX_TOKENS).to_dict(layer, head)

    gr.api(attention, api_name="attention", **FORWARD_QUEUE)
