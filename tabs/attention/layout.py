"""The Attention tab's components (layout): the controls, and the figures they draw, each panel built by its
own function into a small frozen dataclass that the translation and the wiring refer to by name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from playground.attention import MAX_TOKENS_LIMIT
from playground.core.settings import DEFAULT_CAUSAL_MODEL, DEFAULT_ENCODER_MODEL
from playground.models.registry import EMBEDDED_MODELS
from tabs.attention import plots
from tabs.shared.common import read_asset

DEFAULT_TEXT = "The animal didn't cross the street because it was too tired."
PAGE_MAX_TOKENS = 128
CAUSAL, ENCODER = DEFAULT_CAUSAL_MODEL, DEFAULT_ENCODER_MODEL
"""The pair drawn in "Causal vs bidirectional": the embedded decoder and the embedded encoder."""


@dataclass(frozen=True)
class Controls:
    """What the maps are of (text, model, length) and which head is shown (layer, head)."""

    text: gr.Textbox
    model: gr.Dropdown
    max_tokens: gr.Slider
    layer: gr.Slider
    head: gr.Slider

    @property
    def maps_inputs(self) -> set[Any]:
        """The widgets that decide the maps: every handler reads them."""
        return {self.text, self.model, self.max_tokens}


@dataclass(frozen=True)
class Figures:
    """The notice, the views of the maps and the choices that only redraw a view (metric, pin, sink)."""

    notice: gr.Markdown
    hide_sink: gr.Checkbox
    head_plot: gr.Plot
    layer_plot: gr.Plot
    metric: gr.Radio
    overview_plot: gr.Plot
    pin: gr.Dropdown
    pinned_plot: gr.Plot
    rollout_plot: gr.Plot
    causal_plot: gr.Plot
    encoder_plot: gr.Plot
    pinned_tokens: gr.State
    """The tokens the pin was chosen on: a new text resets the pin to its own last token."""

    @property
    def plots(self) -> list[gr.Plot]:
        """Where a slow refresh (a model loading) shows its progress: the maps the user is looking at, not
        the layer and head sliders it also updates, whose narrow boxes clipped the message."""
        return [self.head_plot, self.layer_plot, self.overview_plot, self.pinned_plot, self.rollout_plot,
                self.causal_plot, self.encoder_plot]


@dataclass(frozen=True)
class AttentionView:
    controls: Controls
    figures: Figures


def layout_controls() -> Controls:
    """The text, model and sliders, with the notes beside them."""
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
    return Controls(text, model, max_tokens, layer, head)


def layout_figures() -> Figures:
    """The notice and the sink switch, then one sub-tab per view of the maps."""
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
            causal_plot, encoder_plot = layout_comparison()
    return Figures(notice, hide_sink, head_plot, layer_plot, metric, overview_plot, pin, pinned_plot,
                   rollout_plot, causal_plot, encoder_plot, gr.State(None))


def layout_comparison() -> tuple[gr.Plot, gr.Plot]:
    """The same layer and head in the embedded decoder (left) and encoder (right)."""
    gr.Markdown(f"The same text, same layer and head, in **{CAUSAL}** (causal: the grey "
                f"upper triangle is the mask) and **{ENCODER}** (bidirectional: every token "
                "sees both ways).")
    with gr.Row():
        causal_plot = gr.Plot(show_label=False, elem_id="attn-causal-plot")
        encoder_plot = gr.Plot(show_label=False, elem_id="attn-encoder-plot")
    return causal_plot, encoder_plot


def layout_page() -> AttentionView:
    return AttentionView(layout_controls(), layout_figures())
