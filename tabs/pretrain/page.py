"""Pre-training tab: pick a model's size (its parameters and FLOPs per token shown as the sliders move), see what
each objective does to a sample, train it from scratch in its own process with the loss and samples live, then
run a scaling sweep and fit a law to it, beside Chinchilla's.

Endpoints are in api.py. Runs share the fine-tuning runs folder (one job at a time, the same Stop and Resume);
the page polls the run folder, so a reload or a restart re-attaches.

In three parts: layout (``layout_*``), translation (module-level functions from values keyed by component to a
config dict, and from results to ``{component: value}``) and wiring (``wire_*``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from functools import partial
from typing import Any

import gradio as gr

from playground.core.errors import InvalidInputError
from playground.finetune.progress import probe_rows, shown_run, status_markdown
from playground.pretrain.config import BPE, DEFAULT_TOKENIZER_MODEL, PretrainConfig
from playground.pretrain.lab import PretrainLab
from playground.pretrain.objectives import OBJECTIVES
from playground.pretrain.results import SCALE_GAP
from playground.pretrain.sweep import DEFAULT_BUDGETS, DEFAULT_SIZES
from playground.workspace import Workspace
from tabs.pretrain import plots
from tabs.pretrain.api import register_api
from tabs.shared.common import event_handler, read_asset, widgets_for

SETTINGS = frozenset(f.name for f in fields(PretrainConfig))
HIDDEN = dict(api_visibility="undocumented")
MODEL_VOCAB = 49_152 + 101
"""The embedded SmolLM2 tokenizer's entries with the mask and 100 sentinels added: what the count shows for it."""


@dataclass(frozen=True)
class ModelForm:
    """The run's settings (each widget named like the ``PretrainConfig`` setting it edits) and its buttons."""

    family: gr.Radio
    layers: gr.Slider
    width: gr.Slider
    heads: gr.Slider
    context: gr.Slider
    tokenizer: gr.Radio
    vocab_size: gr.Slider
    corpus: gr.Radio
    text: gr.Textbox
    steps: gr.Number
    batch_size: gr.Number
    learning_rate: gr.Number
    eval_every: gr.Number
    seed: gr.Number
    run_name: gr.Textbox
    size_info: gr.Markdown
    start_button: gr.Button
    stop_button: gr.Button
    resume_button: gr.Button

    @property
    def settings(self) -> dict[str, Any]:
        """The widgets by the setting each edits."""
        return widgets_for(self, SETTINGS)

    @property
    def shape(self) -> tuple[Any, ...]:
        """What the parameter count depends on."""
        return (self.family, self.layers, self.width, self.heads, self.context, self.tokenizer, self.vocab_size)


@dataclass(frozen=True)
class ObjectivesView:
    text: gr.Textbox
    objective: gr.Radio
    seed: gr.Number
    button: gr.Button
    shown: gr.Markdown


@dataclass(frozen=True)
class RunView:
    run_choice: gr.Dropdown
    status: gr.Markdown
    loss_plot: gr.Plot
    samples: gr.Dataframe
    shown: gr.State

    @property
    def outputs(self) -> set[Any]:
        return {self.run_choice, self.status, self.loss_plot, self.samples, self.shown}


@dataclass(frozen=True)
class ScalingView:
    sizes: gr.Code
    budgets: gr.Textbox
    plan: gr.Markdown
    start_button: gr.Button
    fit_runs: gr.Dropdown
    budget: gr.Number
    fit_button: gr.Button
    plot: gr.Plot
    summary: gr.Markdown


# Translation: values keyed by component in, {component: value} out.

def config_from(form: ModelForm, values: dict[Any, Any]) -> dict[str, Any]:
    """The run's settings as the config dict /pretrain_start takes (the text only where the corpus is the user's)."""
    config = {name: values[widget] for name, widget in form.settings.items()}
    config["objective"] = OBJECTIVES.get(config["family"], "")
    if config["corpus"] != "text":
        config["text"] = ""
    if config["tokenizer"] != BPE:
        config["vocab_size"] = PretrainConfig.vocab_size
    return config


def size_markdown(form: ModelForm, values: dict[Any, Any]) -> dict[Any, str]:
    """Parameters and FLOPs per token for the shape the sliders show, or what is wrong with it."""
    family, layers, width, heads, context, tokenizer, vocab = (values[widget] for widget in form.shape)
    vocab = vocab if tokenizer == BPE else MODEL_VOCAB
    try:
        counted = PretrainLab.size_info(family, layers, width, heads, context, vocab)
    except InvalidInputError as error:
        return {form.size_info: f"⚠️ {error}"}
    share = counted["embedding"] / counted["total"]
    return {form.size_info: f"**{counted['total']:,} parameters** ({counted['non_embedding']:,} outside the "
                            f"embeddings, {share:.0%} in them) · **{counted['flops_per_token']:,} training FLOPs per "
                            f"token** (6 N) · objective **{OBJECTIVES.get(family, '?')}**"}


def objectives_markdown(views: list[dict[str, Any]]) -> str:
    """Each objective's rule, input and target, as the model sees them."""
    parts = []
    for view in views:
        counts = ", ".join(f"{key} {value}" for key, value in view["counts"].items())
        parts.append(f"### {view['objective']}\n{view['rule']}\n\n**Input**\n```\n{view['input_text']}\n```\n"
                     f"**Target**\n```\n{view['target_text']}\n```\n*{counts}*")
    return "\n\n".join(parts)


def objectives_outputs(lab: PretrainLab, view: ObjectivesView, values: dict[Any, Any]) -> dict[Any, str]:
    shown = lab.objectives(values[view.text] or "", values[view.objective], values[view.seed])
    return {view.shown: objectives_markdown(shown)}


def start_outputs(lab: PretrainLab, form: ModelForm, view: RunView, values: dict[Any, Any]) -> dict[Any, Any]:
    run_id = lab.start(config_from(form, values))
    return {view.run_choice: gr.Dropdown(choices=[r.run_id for r in lab.runs()], value=run_id),
            view.status: f"⏳ Started {run_id}."}


def stop_status(lab: PretrainLab, run_id: str | None) -> str:
    if not run_id:
        raise InvalidInputError("No run selected.")
    return status_markdown(lab.runner.cancel(run_id))


def resume_outputs(lab: PretrainLab, view: RunView, run_id: str | None) -> dict[Any, Any]:
    if not run_id:
        raise InvalidInputError("Choose the run to resume.")
    lab.runner.resume(run_id)
    return {view.run_choice: gr.Dropdown(value=run_id), view.status: f"⏳ Resuming {run_id}."}


def refresh_outputs(lab: PretrainLab, view: RunView, values: dict[Any, Any], force: bool = False) -> dict[Any, Any]:
    """Redraw the shown run (the choice, else the newest) and its curves; on a timer tick, only if it changed."""
    run_id, shown = values[view.run_choice], None if force else values[view.shown]
    runs = lab.runs()
    ids = [r.run_id for r in runs]
    chosen = shown_run(run_id, runs)  # a fresh visit opens a running run, never a leftover one
    current = next((r for r in runs if r.run_id == chosen), None)
    mark = repr((ids, current and (current.run_id, current.status, current.step, len(current.eval_losses),
                                   current.message, len(current.notes))))
    if mark == shown:
        return {view.shown: mark}
    return {view.run_choice: gr.Dropdown(choices=ids, value=current.run_id if current else None),
            view.status: status_markdown(current), view.loss_plot: plots.loss_figure(current),
            view.samples: probe_rows(current), view.shown: mark}


def sweep_settings(scaling: ScalingView, values: dict[Any, Any]) -> dict[str, Any]:
    """The sweep's sizes (JSON) and budgets (comma-separated FLOPs, e.g. 1e10, 3e10)."""
    try:
        sizes = json.loads(values[scaling.sizes] or "[]")
    except ValueError as error:
        raise InvalidInputError(f"Sizes must be a JSON list of {{layers, width, heads}} objects: {error}.") from error
    try:
        budgets = [float(part) for part in (values[scaling.budgets] or "").replace(";", ",").split(",") if part.strip()]
    except ValueError as error:
        raise InvalidInputError(f"Budgets must be numbers of FLOPs separated by commas (1e10, 3e10): "
                                f"{error}.") from error
    return {"sizes": sizes, "budgets": budgets}


def plan_outputs(lab: PretrainLab, scaling: ScalingView, values: dict[Any, Any]) -> dict[Any, str]:
    try:
        plan = lab.plan(sweep_settings(scaling, values))
    except InvalidInputError as error:
        return {scaling.plan: f"⚠️ {error}"}
    return {scaling.plan: f"{len(plan['points'])} runs, **{plan['total_steps']:,} steps** of "
                          f"{plan['tokens_per_step']} tokens in all, from {min(p['steps'] for p in plan['points'])} "
                          f"to {max(p['steps'] for p in plan['points'])} steps per run."}


def sweep_outputs(lab: PretrainLab, scaling: ScalingView, view: RunView, values: dict[Any, Any]) -> dict[Any, Any]:
    run_id = lab.start_sweep(sweep_settings(scaling, values))
    ids = [r.run_id for r in lab.runs()]
    return {view.run_choice: gr.Dropdown(choices=ids, value=run_id), scaling.fit_runs: gr.Dropdown(choices=ids,
            value=[run_id]), view.status: f"⏳ Started sweep {run_id}."}


def fit_markdown(fit: dict[str, Any]) -> str:
    """The fitted constants beside Chinchilla's, the recommended size for the budget, and the scale gap."""
    rows = "\n".join(f"| {name} | {fit[name]:.4g} | {fit['chinchilla'][name]:.4g} |"
                     for name in ("E", "A", "B", "alpha", "beta"))
    best = fit["recommended"]
    return (f"| constant | fitted here | Chinchilla |\n|---|---|---|\n{rows}\n\n"
            f"**For {best['budget_flops']:.2e} FLOPs** the fit recommends **N ≈ {best['params']:,.0f} parameters** "
            f"trained on **D ≈ {best['tokens']:,.0f} tokens** ({best['tokens_per_param']:.1f} tokens per parameter, "
            f"predicted loss {best['predicted_loss']:.3f}); Chinchilla's law says N ≈ {best['chinchilla_params']:,.0f}"
            f", D ≈ {best['chinchilla_tokens']:,.0f} ({best['chinchilla_tokens_per_param']:.1f} per parameter).\n\n"
            + "".join(f"⚠️ {warning}\n\n" for warning in fit["warnings"]) +
            f"⚠️ **The scale gap.** {fit['scale_gap']}")


def fit_outputs(lab: PretrainLab, scaling: ScalingView, values: dict[Any, Any]) -> dict[Any, Any]:
    run_ids = list(values[scaling.fit_runs] or [])
    points = lab.points(run_ids)
    try:
        fit = lab.fit(run_ids, values[scaling.budget] or None)
    except InvalidInputError as error:
        return {scaling.plot: plots.scaling_figure(points, None), scaling.summary: f"⚠️ {error}\n\n{SCALE_GAP}"}
    return {scaling.plot: plots.scaling_figure(points, fit), scaling.summary: fit_markdown(fit)}


# Layout: one function per panel.

def layout_model(ws: Workspace) -> ModelForm:
    defaults = PretrainConfig()
    with gr.Row():
        family = gr.Radio(["decoder", "encoder", "encoder-decoder"], value=defaults.family, label="Family",
                          info="GPT (next token) · BERT (masked tokens) · T5 (corrupted spans)", elem_id="pt-family")
        layers = gr.Slider(1, 12, value=defaults.layers, step=1, label="Layers", elem_id="pt-layers")
        width = gr.Slider(16, 512, value=defaults.width, step=16, label="Width", elem_id="pt-width")
        heads = gr.Slider(1, 16, value=defaults.heads, step=1, label="Heads", elem_id="pt-heads")
        context = gr.Slider(16, 512, value=defaults.context, step=16, label="Context (tokens)", elem_id="pt-context")
    with gr.Row():
        tokenizer = gr.Radio([BPE, DEFAULT_TOKENIZER_MODEL], value=BPE, label="Tokenizer",
                             info="bpe: learned on the corpus · or the embedded model's own (49k entries)")
        vocab_size = gr.Slider(512, 8192, value=defaults.vocab_size, step=256, label="BPE vocabulary size",
                               elem_id="pt-vocab")
        corpus = gr.Radio(["shakespeare", "text"], value="shakespeare", label="Corpus",
                          info="Shakespeare's plays (shipped, 5% held out) or your own text")
    text = gr.Textbox(label="Your text", lines=4, visible=False, elem_id="pt-text",
                      placeholder="Paste a few hundred KB of text; its last 5% is held out to measure the loss.")
    size_info = gr.Markdown(elem_id="pt-size")
    with gr.Row():
        steps = gr.Number(defaults.steps, label="Steps", precision=0, elem_id="pt-steps")
        batch_size = gr.Number(defaults.batch_size, label="Batch size", precision=0, elem_id="pt-batch")
        learning_rate = gr.Number(defaults.learning_rate, label="Learning rate")
        eval_every = gr.Number(defaults.eval_every, label="Evaluate every", precision=0, elem_id="pt-eval-every")
        seed = gr.Number(defaults.seed, label="Seed", precision=0)
        run_name = gr.Textbox("", label="Run name (optional)", elem_id="pt-run-name")
    with gr.Row():
        start = gr.Button("Start", variant="primary", elem_id="pt-start")
        stop = gr.Button("Stop", elem_id="pt-stop")
        resume = gr.Button("Resume", elem_id="pt-resume")
    return ModelForm(family, layers, width, heads, context, tokenizer, vocab_size, corpus, text, steps, batch_size,
                     learning_rate, eval_every, seed, run_name, size_info, start, stop, resume)


def layout_objectives() -> ObjectivesView:
    with gr.Accordion("What each objective trains on", open=True):
        with gr.Row():
            text = gr.Textbox(label="Sample text (empty: a held-out passage)", lines=2, scale=4, elem_id="pt-obj-text")
            objective = gr.Radio(["all", "clm", "mlm", "span"], value="all", label="Objective", scale=2)
            seed = gr.Number(0, label="Seed", precision=0, scale=1)
        button = gr.Button("Show", elem_id="pt-obj-show")
        shown = gr.Markdown(elem_id="pt-objectives")
    return ObjectivesView(text, objective, seed, button, shown)


def layout_run() -> RunView:
    status = gr.Markdown(elem_id="pt-status")
    run_choice = gr.Dropdown([], label="Run shown", elem_id="pt-run")
    loss_plot = gr.Plot(label="Loss", elem_id="pt-loss")
    samples = gr.Dataframe(headers=["Step", "Input", "Model's output"], interactive=False, wrap=True,
                           elem_id="pt-samples", max_height=360,
                           label="Samples at each evaluation (newest first; step 0 is the random model)")
    return RunView(run_choice, status, loss_plot, samples, gr.State(None))


def layout_scaling() -> ScalingView:
    with gr.Accordion("Scaling laws: a sweep of sizes and budgets", open=False):
        with gr.Row():
            sizes = gr.Code(json.dumps(list(DEFAULT_SIZES)), language="json", label="Sizes", lines=3)
            budgets = gr.Textbox(", ".join(f"{b:.0e}" for b in DEFAULT_BUDGETS), label="Budgets (training FLOPs)")
        plan = gr.Markdown(elem_id="pt-plan")
        start = gr.Button("Start sweep", elem_id="pt-sweep")
        with gr.Row():
            fit_runs = gr.Dropdown([], multiselect=True, label="Runs to fit (a sweep, or 5+ single runs)", scale=3,
                                   elem_id="pt-fit-runs")
            budget = gr.Number(0, label="Budget to plan for (FLOPs; 0: 10x the largest run)", scale=2)
            fit_button = gr.Button("Fit", scale=1, elem_id="pt-fit")
        plot = gr.Plot(elem_id="pt-scaling")
        summary = gr.Markdown(SCALE_GAP, elem_id="pt-fit-summary")
    return ScalingView(sizes, budgets, plan, start, fit_runs, budget, fit_button, plot, summary)


# Wiring.

def wire_model(lab: PretrainLab, app: gr.Blocks, form: ModelForm, view: RunView) -> None:
    size = event_handler(partial(size_markdown, form))
    for control in form.shape:
        control.change(size, set(form.shape), form.size_info, show_progress="hidden", **HIDDEN)
    app.load(size, set(form.shape), form.size_info, **HIDDEN)
    form.corpus.change(lambda corpus: gr.Textbox(visible=corpus == "text"), form.corpus, form.text, **HIDDEN)
    form.start_button.click(event_handler(partial(start_outputs, lab, form, view)), set(form.settings.values()),
                            [view.run_choice, view.status], **HIDDEN)
    form.stop_button.click(event_handler(partial(stop_status, lab)), view.run_choice, view.status, **HIDDEN)
    form.resume_button.click(event_handler(partial(resume_outputs, lab, view)), view.run_choice,
                             [view.run_choice, view.status], **HIDDEN)


def wire_run(lab: PretrainLab, app: gr.Blocks, view: RunView) -> None:
    refresh = event_handler(partial(refresh_outputs, lab, view))
    redraw = event_handler(partial(refresh_outputs, lab, view, force=True))
    inputs = {view.run_choice, view.shown}
    gr.Timer(2.0).tick(refresh, inputs, view.outputs, show_progress="hidden", **HIDDEN)
    view.run_choice.change(redraw, inputs, view.outputs, show_progress="hidden", **HIDDEN)
    app.load(redraw, inputs, view.outputs, **HIDDEN)


def wire_scaling(lab: PretrainLab, app: gr.Blocks, scaling: ScalingView, view: RunView) -> None:
    plan = event_handler(partial(plan_outputs, lab, scaling))
    for control in (scaling.sizes, scaling.budgets):
        control.change(plan, {scaling.sizes, scaling.budgets}, scaling.plan, show_progress="hidden", **HIDDEN)
    app.load(plan, {scaling.sizes, scaling.budgets}, scaling.plan, **HIDDEN)
    scaling.start_button.click(event_handler(partial(sweep_outputs, lab, scaling, view)),
                               {scaling.sizes, scaling.budgets}, [view.run_choice, scaling.fit_runs, view.status],
                               **HIDDEN)
    scaling.fit_button.click(event_handler(partial(fit_outputs, lab, scaling)),
                             {scaling.fit_runs, scaling.budget}, [scaling.plot, scaling.summary], **HIDDEN)
    app.load(lambda: gr.Dropdown(choices=[r.run_id for r in lab.runs()]), None, scaling.fit_runs, **HIDDEN)


def build(ws: Workspace, app: gr.Blocks) -> None:
    lab = ws.pretrain
    with gr.Accordion("How it works", open=False):
        gr.Markdown(read_asset("notes", "pretraining.md"))
    objectives = layout_objectives()
    form = layout_model(ws)
    view = layout_run()
    scaling = layout_scaling()
    show_objectives = event_handler(partial(objectives_outputs, lab, objectives))
    # filled on load too: the accordion opens on the page, and an empty one under "Show" taught nothing
    gr.on([app.load, objectives.button.click], show_objectives,
          {objectives.text, objectives.objective, objectives.seed}, objectives.shown, **HIDDEN)
    wire_model(lab, app, form, view)
    wire_run(lab, app, view)
    wire_scaling(lab, app, scaling, view)
    register_api(ws)
