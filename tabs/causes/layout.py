"""What causes the answer: each panel's components in a frozen dataclass, built by a function per panel,
which the translation (``tabs/causes/translation.py``) and the wiring (``tabs/causes/page.py``) refer to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from playground.core.settings import DEFAULT_CAUSAL_MODEL
from playground.internals import patching, salience, steering
from playground.models.registry import EMBEDDED_MODELS
from tabs.shared.common import teaching_note
from tabs.shared.figures import waiting

SALIENCE_TEXT = "The capital of France is Paris. The capital of Germany is"
TUNED_TEXT = "What is the capital of France?"
STEER_PROMPT = "Write one sentence about your weekend."


def note(name: str) -> None:
    teaching_note("causes", name)


@dataclass(frozen=True)
class PatchPanel:
    clean: gr.Textbox
    corrupted: gr.Textbox
    answer: gr.Textbox
    wrong: gr.Textbox
    what: gr.Radio
    estimate: gr.Checkbox
    button: gr.Button
    summary: gr.Markdown
    exact_plot: gr.Plot
    estimate_plot: gr.Plot

    @property
    def inputs(self) -> set[Any]:
        return {self.clean, self.corrupted, self.answer, self.wrong, self.what, self.estimate}


@dataclass(frozen=True)
class SaliencePanel:
    text: gr.Textbox
    token: gr.Textbox
    steps: gr.Slider
    button: gr.Button
    summary: gr.Markdown
    plot: gr.Plot


@dataclass(frozen=True)
class SteerPanel:
    prompt: gr.Textbox
    pair_set: gr.Dropdown
    own_pairs: gr.Textbox
    layer: gr.Slider
    coefficient: gr.Slider
    max_new_tokens: gr.Slider
    button: gr.Button
    summary: gr.Markdown
    steered: gr.Textbox
    unsteered: gr.Textbox

    @property
    def inputs(self) -> set[Any]:
        return {self.prompt, self.pair_set, self.own_pairs, self.layer, self.coefficient, self.max_new_tokens}


@dataclass(frozen=True)
class TunedPanel:
    run: gr.Dropdown
    refresh: gr.Button
    text: gr.Textbox
    token: gr.Textbox
    chat: gr.Checkbox
    button: gr.Button
    summary: gr.Markdown
    distribution_plot: gr.Plot
    lens_plot: gr.Plot
    heads_plot: gr.Plot

    @property
    def outputs(self) -> list[Any]:
        return [self.summary, self.distribution_plot, self.lens_plot, self.heads_plot]


@dataclass(frozen=True)
class CausesView:
    model: gr.Dropdown
    patch: PatchPanel
    salience: SaliencePanel
    steer: SteerPanel
    tuned: TunedPanel


def layout_patch() -> PatchPanel:
    clean, corrupted, answer, wrong = patching.EXAMPLE
    with gr.Row():
        clean_box = gr.Textbox(clean, label="Clean prompt", elem_id="causes-clean")
        corrupted_box = gr.Textbox(corrupted, label="Corrupted prompt (same number of tokens)",
                                   elem_id="causes-corrupted")
    with gr.Row():
        answer_box = gr.Textbox(answer, label="Answer token (mind the leading space)", elem_id="causes-answer")
        wrong_box = gr.Textbox(wrong, label="Wrong answer token", elem_id="causes-wrong")
        what = gr.Radio(list(patching.WHATS), value="residual", label="Patch", elem_id="causes-what")
        estimate = gr.Checkbox(True, label="Also attribution patching (gradient estimate)")
    button = gr.Button("Patch every layer", variant="primary", elem_id="causes-patch")
    summary = gr.Markdown(elem_id="causes-patch-summary")
    with gr.Row():
        exact_plot = gr.Plot(waiting("Press “Patch every layer”: the sweep fills in here, a layer at a time."),
                             elem_id="causes-patch-plot", show_label=False)
        estimate_plot = gr.Plot(waiting("Ticked, attribution patching's estimate (one backward pass) appears here."),
                                elem_id="causes-estimate-plot", show_label=False)
    note("patching")
    return PatchPanel(clean_box, corrupted_box, answer_box, wrong_box, what, estimate, button, summary,
                      exact_plot, estimate_plot)


def layout_salience() -> SaliencePanel:
    with gr.Row():
        text = gr.Textbox(SALIENCE_TEXT, label="Text", scale=3, elem_id="causes-salience-text")
        token = gr.Textbox("", label="Token to explain (empty: the top prediction)", scale=1)
        steps = gr.Slider(1, salience.MAX_STEPS, value=salience.DEFAULT_STEPS, step=1,
                          label="Integrated gradients: steps", scale=1)
    button = gr.Button("Explain the token", variant="primary", elem_id="causes-salience")
    summary = gr.Markdown(elem_id="causes-salience-summary")
    plot = gr.Plot(waiting("Press “Explain the token”: the three methods' scores over the text appear here."),
                   elem_id="causes-salience-plot", show_label=False)
    note("salience")
    return SaliencePanel(text, token, steps, button, summary, plot)


def layout_steer() -> SteerPanel:
    with gr.Row():
        prompt = gr.Textbox(STEER_PROMPT, label="Prompt", scale=3, elem_id="causes-steer-prompt")
        pair_set = gr.Dropdown(list(steering.SHIPPED_PAIRS), value="positive vs negative", label="Direction",
                               scale=1)
    own_pairs = gr.Textbox("", lines=2, label="Or your own pairs, one per line: positive text | negative text "
                           "(used instead of the direction above when filled)")
    with gr.Row():
        layer = gr.Slider(0, 29, value=10, step=1, label="Layer (added after this block)", elem_id="causes-layer")
        coefficient = gr.Slider(-20, 20, value=4, step=0.5, label="Coefficient (x the direction)")
        max_new_tokens = gr.Slider(1, steering.MAX_NEW_TOKENS, value=40, step=1, label="New tokens")
    button = gr.Button("Generate both", variant="primary", elem_id="causes-steer")
    summary = gr.Markdown(elem_id="causes-steer-summary")
    with gr.Row():
        steered = gr.Textbox(label="Steered", lines=5, elem_id="causes-steered")
        unsteered = gr.Textbox(label="Not steered", lines=5, elem_id="causes-unsteered")
    note("steering")
    return SteerPanel(prompt, pair_set, own_pairs, layer, coefficient, max_new_tokens, button, summary, steered,
                      unsteered)


def layout_tuned() -> TunedPanel:
    with gr.Row():
        run = gr.Dropdown([], label="Fine-tuning run (trained in the Fine-tuning tab)", allow_custom_value=True,
                          scale=3, elem_id="causes-run")
        refresh = gr.Button("↻ Runs", scale=0, min_width=80)
    with gr.Row():
        text = gr.Textbox(TUNED_TEXT, label="Text (both models read it)", scale=3, elem_id="causes-tuned-text")
        token = gr.Textbox("", label="Token for head attribution (empty: the base's top prediction)", scale=1)
    chat = gr.Checkbox(True, label="Read the text as a user's message (the chat template), as the presets train",
                       info="Both models then predict the first token of their answer. Off: the raw text, whose "
                            "next token is often the end of the user's turn.", elem_id="causes-tuned-chat")
    button = gr.Button("Compare base and fine-tuned", variant="primary", elem_id="causes-compare")
    summary = gr.Markdown(elem_id="causes-tuned-summary")
    with gr.Row():
        distribution_plot = gr.Plot(waiting("Pick a finished run and press Compare: both next-token distributions."),
                                    elem_id="causes-tuned-dist", show_label=False)
        lens_plot = gr.Plot(waiting("The logit lens of both models, layer by layer."), elem_id="causes-tuned-lens",
                            show_label=False)
    heads_plot = gr.Plot(waiting("Each head's direct contribution in both models, and what training changed."),
                         elem_id="causes-tuned-heads", show_label=False)
    note("base_vs_tuned")
    return TunedPanel(run, refresh, text, token, chat, button, summary, distribution_plot, lens_plot, heads_plot)


def layout() -> CausesView:
    with gr.Row():
        model = gr.Dropdown(list(EMBEDDED_MODELS), value=DEFAULT_CAUSAL_MODEL, allow_custom_value=True,
                            label="Model (causal)", scale=1, elem_id="causes-model")
        gr.Markdown("**Why** did the model answer that? Copy activations from one prompt into another "
                    "(patching), ask which input words the answer depends on (salience), or push a concept "
                    "while it writes (steering); all on the loaded model's own tensors.", container=False)
    with gr.Tab("Activation patching"):
        patch = layout_patch()
    with gr.Tab("Input salience"):
        panel = layout_salience()
    with gr.Tab("Steering"):
        steer = layout_steer()
    with gr.Tab("Base vs fine-tuned"):
        tuned = layout_tuned()
    return CausesView(model, patch, panel, steer, tuned)
