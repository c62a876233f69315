"""The Fine-tuning page's layout: the settings form (``SettingsForm``: model, data, training, GRPO and method
settings, with the Start, Stop and Resume buttons) and the runs view (``RunsView``: the run shown, its curves and
probe answers, the history and the comparison of picked runs), each in a frozen dataclass built by a function
per panel. ``tabs/finetune/translation.py`` reads and fills them; ``tabs/finetune/page.py`` wires them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

import gradio as gr

from playground.finetune.config import METHODS, PRESETS, TARGET_PRESETS, FinetuneConfig
from playground.finetune.data import shipped_datasets
from playground.finetune.method_registry import training_method
from playground.finetune.rewards import ARITHMETIC_REWARDS
from playground.workspace import Workspace
from tabs.finetune.method_views import MethodViews, layout_method_views
from tabs.shared.common import read_asset, widgets_for

UPLOAD = "upload"
CLASS_VOTES = "class votes"
"""The Prompt lab's blind votes as a preference dataset (for DPO): exported when a run starts."""
RUN_HEADERS = ["Run", "Status", "Step", "Last loss", "Last eval loss", "Message"]
SETTINGS = frozenset(f.name for f in fields(FinetuneConfig))
"""The config's settings: a form widget named like one edits it."""
KEPT_BY_PRESETS = frozenset({"base_model", "prompt_column", "response_column", "run_name"})
"""What a preset leaves as the user set it: the model, the column names and the run's name."""
NOTES_HEIGHT = 900
"""The method notes scroll past this many pixels: about the settings form beside them."""


@dataclass(frozen=True)
class SettingsForm:
    """The run's settings (each widget named like the ``FinetuneConfig`` setting it edits) and its buttons."""

    preset: gr.Dropdown
    method: gr.Radio
    base_model: gr.Dropdown
    dataset: gr.Dropdown
    upload: gr.File
    prompt_column: gr.Textbox
    response_column: gr.Textbox
    max_steps: gr.Number
    learning_rate: gr.Number
    batch_size: gr.Number
    max_seq_length: gr.Number
    lora_settings: gr.Row
    grpo_settings: gr.Column
    rewards: gr.Code
    group_size: gr.Number
    kl_beta: gr.Number
    completion_tokens: gr.Number
    temperature: gr.Number
    lora_r: gr.Number
    lora_alpha: gr.Number
    lora_dropout: gr.Number
    target_modules: gr.Dropdown
    eval_every: gr.Number
    save_every: gr.Number
    run_name: gr.Textbox
    config_name: gr.Textbox
    split: gr.Textbox
    messages_column: gr.Textbox
    eval_size: gr.Number
    chosen_column: gr.Textbox
    rejected_column: gr.Textbox
    dpo_beta: gr.Number
    teacher: gr.Textbox
    student: gr.Textbox
    distill_alpha: gr.Number
    distill_temperature: gr.Number
    estimate: gr.Markdown
    start_button: gr.Button
    stop_button: gr.Button
    resume_button: gr.Button

    @property
    def settings(self) -> dict[str, Any]:
        """The widgets by the setting each edits."""
        return widgets_for(self, SETTINGS)

    @property
    def inputs(self) -> set[Any]:
        return {*self.settings.values(), self.upload}

    @property
    def preset_targets(self) -> set[Any]:
        """The widgets a preset fills: every setting but those it keeps."""
        return {widget for name, widget in self.settings.items() if name not in KEPT_BY_PRESETS}


@dataclass(frozen=True)
class RunsView:
    """The run shown (status, curves, probe answers), the run history and the comparison of picked runs."""

    status: gr.Markdown
    run_choice: gr.Dropdown
    log_scale: gr.Checkbox
    smoothing: gr.Slider
    loss_plot: gr.Plot
    schedule_plot: gr.Plot
    probes: gr.Dataframe
    history: gr.Dataframe
    compare_runs: gr.Dropdown
    overlay: gr.Plot
    diff_text: gr.Markdown
    diff: gr.Dataframe
    shown: gr.State
    """This page's last fingerprint: ticks that change nothing send nothing."""
    methods: MethodViews
    """What the shown run's method adds (GRPO's rewards and groups, a reward model's scores)."""

    @property
    def controls(self) -> tuple[Any, ...]:
        """What the user changes to redraw (a tuple: listeners attach in a stable order)."""
        return self.run_choice, self.log_scale, self.smoothing, self.compare_runs

    @property
    def outputs(self) -> set[Any]:
        return {self.run_choice, self.status, self.loss_plot, self.schedule_plot, self.probes, self.history,
                self.compare_runs, self.overlay, self.diff_text, self.diff, self.shown, *self.methods.outputs}


def rewards_text(specs: Iterable[dict[str, Any]]) -> str:
    """GRPO's rewards as the editor shows them (its first value and a preset's): JSON, one reward per line."""
    lines = [json.dumps(dict(spec), ensure_ascii=False) for spec in specs]
    return "[\n" + ",\n".join(f"  {line}" for line in lines) + "\n]" if lines else "[]"


# Layout: one function per panel.

def layout_model_and_data(ws: Workspace, defaults: FinetuneConfig) -> dict[str, Any]:
    with gr.Row():
        preset = gr.Dropdown(list(PRESETS), value="quick demo on CPU", label="Preset", elem_id="ft-preset")
        method = gr.Radio(list(METHODS), value=defaults.method, elem_id="ft-method", label="Method",
                          info="full: every weight · qlora: 4-bit base · dpo: preference pairs · "
                               "distill: a half-depth student · reward: a scorer of answers (reward_full: every "
                               "weight) · grpo: learns from rewards on its own answers")
        base_model = gr.Dropdown([ws.settings.default_model], value=ws.settings.default_model,
                                 allow_custom_value=True, label="Base model")
    with gr.Row():
        dataset = gr.Dropdown(shipped_datasets() + [CLASS_VOTES, UPLOAD], value=defaults.dataset, label="Dataset "
                              "(or a Hub dataset id, with a network)", allow_custom_value=True, elem_id="ft-dataset")
        upload = gr.File(label="JSONL, JSON, CSV, Parquet or Arrow", visible=False,
                         file_types=[".jsonl", ".json", ".csv", ".parquet", ".arrow"])
        prompt_column = gr.Textbox(defaults.prompt_column, label="Prompt column")
        response_column = gr.Textbox(defaults.response_column, label="Response column")
    return dict(preset=preset, method=method, base_model=base_model, dataset=dataset, upload=upload,
                prompt_column=prompt_column, response_column=response_column)


def layout_training(defaults: FinetuneConfig) -> dict[str, Any]:
    with gr.Row():
        max_steps = gr.Number(defaults.max_steps, precision=0, label="Steps", elem_id="ft-steps")
        learning_rate = gr.Number(defaults.learning_rate, label="Learning rate")
        batch_size = gr.Number(defaults.batch_size, precision=0, label="Batch size")
        max_seq_length = gr.Number(defaults.max_seq_length, precision=0, label="Max sequence length")
    with gr.Row(visible=training_method(defaults.method).lora_settings,
                elem_id="ft-lora-settings") as lora_settings:
        lora_r = gr.Number(defaults.lora_r, precision=0, label="LoRA rank r")
        lora_alpha = gr.Number(defaults.lora_alpha, precision=0, label="LoRA alpha")
        lora_dropout = gr.Number(defaults.lora_dropout, label="LoRA dropout")
        target_modules = gr.Dropdown(list(TARGET_PRESETS), value="attention", label="Adapted layers",
                                     allow_custom_value=True)
    with gr.Row():
        eval_every = gr.Number(defaults.eval_every, precision=0, label="Evaluate every (steps)",
                               elem_id="ft-eval-every")
        save_every = gr.Number(defaults.save_every, precision=0, label="Checkpoint every (steps)")
        run_name = gr.Textbox("", label="Run name (optional)", elem_id="ft-run-name")
    return dict(max_steps=max_steps, learning_rate=learning_rate, batch_size=batch_size,
                max_seq_length=max_seq_length, lora_settings=lora_settings, lora_r=lora_r, lora_alpha=lora_alpha,
                lora_dropout=lora_dropout, target_modules=target_modules, eval_every=eval_every,
                save_every=save_every, run_name=run_name)


REWARDS_HELP = """**Rewards** (JSON, one per line; no code runs, only these kinds): `regex` {`pattern`, `full`}:
1 when the answer contains the pattern (`full`: is it whole), mind JSON's `\\\\d` for `\\d` · `exact_match`: 1 when
the answer after its last "Answer:" equals the row's answer (response column) · `length` {`min_chars`,
`max_chars`}: 1 inside the bounds, less outside · `reward_model` {`run`}: a finished reward run's score.
Each has a `weight`; the reward is their weighted sum. Batch size counts prompts: a step samples
batch size × group size answers."""


def layout_grpo(defaults: FinetuneConfig) -> dict[str, Any]:
    """GRPO's settings, shown only for a method that learns from prompts it answers itself."""
    shown = training_method(defaults.method).data == "prompts"
    with gr.Column(visible=shown, elem_id="ft-grpo-settings") as grpo_settings:
        with gr.Row():
            group_size = gr.Number(defaults.group_size, precision=0, label="GRPO: group size (answers per prompt)",
                                   elem_id="ft-group-size")
            kl_beta = gr.Number(defaults.kl_beta, label="GRPO: KL beta (0: no reference)", elem_id="ft-kl-beta")
            completion_tokens = gr.Number(defaults.completion_tokens, precision=0, label="GRPO: answer tokens")
            temperature = gr.Number(defaults.temperature, label="GRPO: sampling temperature")
        with gr.Row():
            rewards = gr.Code(rewards_text(ARITHMETIC_REWARDS), language="json", lines=4, max_lines=12, scale=3,
                              label="GRPO: rewards", elem_id="ft-rewards")
            gr.Markdown(REWARDS_HELP, elem_id="ft-rewards-help")
    return dict(grpo_settings=grpo_settings, rewards=rewards, group_size=group_size, kl_beta=kl_beta,
                completion_tokens=completion_tokens, temperature=temperature)


def layout_method_settings(defaults: FinetuneConfig) -> dict[str, Any]:
    with gr.Accordion("Data mapping and method settings (Hub config and split, chat turns, DPO, distillation)",
                      open=False):
        with gr.Row():
            config_name = gr.Textbox(defaults.config_name, label="Hub config (subset)")
            split = gr.Textbox(defaults.split, label="Split (e.g. train[:500])")
            messages_column = gr.Textbox(defaults.messages_column, label="Chat-turns column (SFT; "
                                         "replaces prompt/response)")
            eval_size = gr.Number(defaults.eval_size, precision=0, label="Held-out rows")
        with gr.Row():
            chosen_column = gr.Textbox(defaults.chosen_column, label="DPO: chosen column")
            rejected_column = gr.Textbox(defaults.rejected_column, label="DPO: rejected column")
            dpo_beta = gr.Number(defaults.dpo_beta, label="DPO beta")
        with gr.Row():
            teacher = gr.Textbox(defaults.teacher, label="Distill: teacher (empty: the base; or a run id)")
            student = gr.Textbox(defaults.student, label="Distill: student ('half' or a model id)")
            distill_alpha = gr.Number(defaults.distill_alpha, label="Distill: KL weight alpha")
            distill_temperature = gr.Number(defaults.distill_temperature, label="Distill: temperature")
    return dict(config_name=config_name, split=split, messages_column=messages_column, eval_size=eval_size,
                chosen_column=chosen_column, rejected_column=rejected_column, dpo_beta=dpo_beta, teacher=teacher,
                student=student, distill_alpha=distill_alpha, distill_temperature=distill_temperature)


def layout_form(ws: Workspace) -> SettingsForm:
    defaults = FinetuneConfig()
    with gr.Row():
        with gr.Column(scale=3):
            widgets = {**layout_model_and_data(ws, defaults), **layout_training(defaults), **layout_grpo(defaults),
                       **layout_method_settings(defaults)}
            estimate_box = gr.Markdown(elem_id="ft-estimate")
            with gr.Row():
                start_button = gr.Button("Start", variant="primary", elem_id="ft-start")
                stop_button = gr.Button("Stop (saves what it trained)", elem_id="ft-stop")
                resume_button = gr.Button("Resume from last checkpoint", elem_id="ft-resume")
        with gr.Column(scale=2):
            with gr.Accordion("What each method changes, and when to pick it", open=True):
                # Scrolls within the form's height: in full, the notes (2,300 px) pushed Start's status and
                # curves two screens down.
                gr.Markdown(read_asset("notes", "finetune.md"), max_height=NOTES_HEIGHT, elem_id="ft-notes")
    return SettingsForm(**widgets, estimate=estimate_box, start_button=start_button, stop_button=stop_button,
                        resume_button=resume_button)


def layout_runs() -> RunsView:
    status = gr.Markdown(elem_id="ft-status")
    with gr.Row():
        run_choice = gr.Dropdown([], label="Run shown", elem_id="ft-run", scale=3)
        log_scale = gr.Checkbox(False, label="Log-scale loss", scale=1)
        smoothing = gr.Slider(0, 0.95, value=0.6, step=0.05, label="Smoothing", scale=2)
    with gr.Row():
        loss_plot = gr.Plot(label="Loss", elem_id="ft-loss")
        schedule_plot = gr.Plot(label="Learning rate and gradient norm", elem_id="ft-schedule")
    methods = layout_method_views()
    probes = gr.Dataframe(headers=["Step", "Probe prompt", "Model's answer"], interactive=False, wrap=True,
                          elem_id="ft-probes", column_widths=["6%", "30%", "64%"], max_height=420,
                          label="Probe prompts at each evaluation (newest first; step 0 is the base model, "
                                "before training)")
    with gr.Accordion("Run history and comparison", open=False):
        history = gr.Dataframe(headers=RUN_HEADERS, interactive=False, wrap=True, elem_id="ft-history")
        compare_runs = gr.Dropdown([], multiselect=True, label="Overlay runs", elem_id="ft-compare")
        overlay = gr.Plot(elem_id="ft-overlay")
        diff_text = gr.Markdown(elem_id="ft-diff-note")
        diff = gr.Dataframe(headers=["Setting", "Runs…"], interactive=False, label="Settings that differ",
                            visible=False, elem_id="ft-diff")
    return RunsView(status, run_choice, log_scale, smoothing, loss_plot, schedule_plot, probes, history,
                    compare_runs, overlay, diff_text, diff, gr.State(None), methods)
