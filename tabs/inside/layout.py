"""Inside the model's layout: each panel's components in a frozen dataclass, built by a function per panel,
which the translation (``tabs/inside/translation.py``) and the wiring (``tabs/inside/page.py``) refer to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from playground.core.settings import DEFAULT_CAUSAL_MODEL
from playground.models.registry import EMBEDDED_MODELS
from tabs.shared.common import teaching_note
from tabs.shared.figures import waiting

DEFAULT_TEXT = "The capital of France is Paris. The capital of Germany is"
WHOLE_LAYER = "the whole layer"
SWEEP_NOTE = ("Zeroes each head in turn and skips each layer in turn. Each knock-out in layer L re-runs only the "
              "layers from L up (the ones below are unchanged), a row per head: about as long as 150 forward passes.")


def knock_out_choices(num_heads: int) -> list[str]:
    """What the ablation can knock out in a layer: all of it, or one of its heads."""
    return [WHOLE_LAYER, *(f"head {h}" for h in range(num_heads))]


def note(name: str) -> None:
    teaching_note("inside", name)


@dataclass(frozen=True)
class ArchitecturePanel:
    diagram: gr.Plot
    card: gr.Markdown

    @property
    def outputs(self) -> list[Any]:
        return [self.diagram, self.card]


@dataclass(frozen=True)
class NextTokenPanel:
    temperature: gr.Slider
    top_k: gr.Slider
    top_p: gr.Slider
    sample_button: gr.Button
    top_button: gr.Button
    grown: gr.Markdown
    plot: gr.Plot

    @property
    def sampling(self) -> set[Any]:
        return {self.temperature, self.top_k, self.top_p}


@dataclass(frozen=True)
class HeadPanel:
    layer: gr.Slider
    head: gr.Slider
    query: gr.Dropdown
    text: gr.Markdown
    plot: gr.Plot
    vectors: gr.Plot

    @property
    def outputs(self) -> list[Any]:
        return [self.plot, self.vectors, self.text]


@dataclass(frozen=True)
class AttributionPanel:
    token: gr.Textbox
    plot: gr.Plot
    ablate_layer: gr.Slider
    ablate_what: gr.Dropdown
    ablate_button: gr.Button
    ablation_plot: gr.Plot
    sweep_button: gr.Button
    sweep_plot: gr.Plot


@dataclass(frozen=True)
class InsideView:
    """The whole tab: the text and model every panel reads, the notice above the panels, and the panels."""

    text: gr.Textbox
    model: gr.Dropdown
    notice: gr.Markdown
    architecture: ArchitecturePanel
    next_token: NextTokenPanel
    head: HeadPanel
    lens: gr.Plot
    attribution: AttributionPanel

    @property
    def refresh_outputs(self) -> list[Any]:
        """What a new text or model redraws: the notice, the ranges that follow the model, every panel."""
        return [self.notice, self.head.layer, self.head.head, self.head.query, self.next_token.plot,
                *self.head.outputs, self.lens, self.attribution.plot, self.attribution.ablate_layer,
                self.attribution.ablate_what]

    @property
    def refresh_progress(self) -> list[Any]:
        """Where a refresh shows its progress: the views, not the sliders and menus whose ranges it updates (their
        boxes are too small for "Loading smollm2-135m-instruct - 60%" and repeated the timer under each)."""
        return [self.notice, self.next_token.plot, self.head.plot, self.head.vectors, self.lens, self.attribution.plot]


def layout_inputs() -> tuple[gr.Textbox, gr.Dropdown]:
    with gr.Row():
        with gr.Column(scale=3):
            text = gr.Textbox(label="Text (the model predicts what comes next; every view follows as you type)",
                              value=DEFAULT_TEXT, lines=2, max_lines=6, elem_id="inside-text")
            model = gr.Dropdown(list(EMBEDDED_MODELS), value=DEFAULT_CAUSAL_MODEL, allow_custom_value=True,
                                label="Model (a causal one for the step-by-step views; any for the architecture)",
                                elem_id="inside-model")
        with gr.Column(scale=2):
            gr.Markdown("How **one next token** is computed, with the loaded model's own tensors: the "
                        "architecture, the distribution sampling draws from, one attention head step by step, "
                        "what each layer would predict, and which heads write the answer.")
    return text, model


def layout_architecture() -> ArchitecturePanel:
    note("architecture")
    return ArchitecturePanel(gr.Plot(show_label=False, elem_id="inside-diagram"), gr.Markdown(elem_id="inside-card"))


def layout_next_token() -> NextTokenPanel:
    note("next_token")
    with gr.Row():
        temperature = gr.Slider(0, 2, value=1.0, step=0.05, label="Temperature (0 = greedy)")
        top_k = gr.Slider(0, 100, value=0, step=1, label="Top-k (0 = off)")
        top_p = gr.Slider(0.05, 1, value=1.0, step=0.05, label="Top-p (1 = off)")
    with gr.Row():
        sample_button = gr.Button("Sample one", elem_id="inside-sample")
        top_button = gr.Button("Append the top token", elem_id="inside-append")
        grown = gr.Markdown()
    plot = gr.Plot(show_label=False, elem_id="inside-dist-plot")
    return NextTokenPanel(temperature, top_k, top_p, sample_button, top_button, grown, plot)


def layout_head() -> HeadPanel:
    note("head")
    with gr.Row():
        layer = gr.Slider(0, 29, value=0, step=1, label="Layer", elem_id="inside-layer")
        head = gr.Slider(0, 8, value=0, step=1, label="Head", elem_id="inside-head")
        query = gr.Dropdown([], value=None, label="Query token (defaults to the last)", elem_id="inside-query")
    text = gr.Markdown(elem_id="inside-head-text")
    return HeadPanel(layer, head, query, text, gr.Plot(show_label=False, elem_id="inside-head-plot"),
                     gr.Plot(show_label=False))


def layout_lens() -> gr.Plot:
    note("logit_lens")
    return gr.Plot(show_label=False, elem_id="inside-lens-plot")


def layout_attribution() -> AttributionPanel:
    note("attribution")
    token = gr.Textbox(label="Token to explain (empty = the top prediction; one token, e.g. ' Berlin')",
                       elem_id="inside-token")
    plot = gr.Plot(show_label=False, elem_id="inside-attr-plot")
    with gr.Row():
        ablate_layer = gr.Slider(0, 29, value=0, step=1, label="Knock out in layer")
        ablate_what = gr.Dropdown(knock_out_choices(9), value="head 0", label="Knock out")
        ablate_button = gr.Button("Knock it out", elem_id="inside-ablate")
    ablation_plot = gr.Plot(waiting("Press “Knock it out”: the prediction with and without that part."),
                            show_label=False, elem_id="inside-ablation-plot")
    sweep_button = gr.Button("Sweep: knock out every head and every layer in turn (slow)", elem_id="inside-sweep")
    gr.Markdown(SWEEP_NOTE)
    sweep_plot = gr.Plot(waiting("Press Sweep: what knocking out each head and each layer does, as a map."),
                         show_label=False, elem_id="inside-sweep-plot")
    return AttributionPanel(token, plot, ablate_layer, ablate_what, ablate_button, ablation_plot, sweep_button,
                            sweep_plot)


def layout() -> InsideView:
    text, model = layout_inputs()
    notice = gr.Markdown(elem_id="inside-notice")
    with gr.Tabs():
        with gr.Tab("Architecture"):
            architecture = layout_architecture()
        with gr.Tab("Next token"):
            next_token = layout_next_token()
        with gr.Tab("One head, step by step"):
            head = layout_head()
        with gr.Tab("Logit lens"):
            lens = layout_lens()
        with gr.Tab("Attribution and ablation"):
            attribution = layout_attribution()
    return InsideView(text, model, notice, architecture, next_token, head, lens, attribution)
