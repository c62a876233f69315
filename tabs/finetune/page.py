"""Fine-tuning tab: a full, LoRA, QLoRA, DPO, distillation, reward-model or GRPO job in its own process, its
curves live (and GRPO's rewards and groups, a reward model's accuracy and scores), every past run and their
trade-offs, then the fine-tuned model beside its base: evaluated, exported, merged or pushed.

Endpoints: ``/finetune_start`` (config) -> {run_id}; ``/finetune_status`` (run_id); ``/finetune_cancel``
(run_id); ``/finetune_runs`` (); ``/reward_score`` (run_id, prompt, answers) in reward_scoring.py. The page
polls the run folder, so a reload or a restart re-attaches.

In three parts: layout (``layout_form``, ``layout_runs``), translation (module-level functions from values
keyed by component to a ``FinetuneConfig`` or a ``WatchRequest``, and from results to ``{component: value}``)
and wiring (``wire_form``, ``wire_runs``).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr

from playground.core.errors import InvalidInputError
from playground.finetune.adapters import push_trained
from playground.finetune.config import METHODS, PRESETS, TARGET_PRESETS, FinetuneConfig
from playground.finetune.data import shipped_datasets
from playground.finetune.estimate import estimate
from playground.finetune.events import RunSummary
from playground.finetune.method_registry import TrainingMethod, training_method
from playground.finetune.progress import (
    WatchRequest,
    diff_note,
    probe_rows,
    run_rows,
    runs_fingerprint,
    status_markdown,
    watch_runs,
)
from playground.finetune.rewards import ARITHMETIC_REWARDS
from playground.finetune.runner import JobRunner
from playground.preferences.votes import VoteStore
from playground.workspace import Workspace
from tabs.finetune import plots
from tabs.finetune.after import build_after
from tabs.finetune.method_views import MethodViews, layout_method_views, method_view_outputs
from tabs.finetune.reward_scoring import build_reward_scoring
from tabs.finetune.tradeoffs import build_tradeoffs
from tabs.shared.common import event_handler, read_asset, uploaded_path

UPLOAD = "upload"
CLASS_VOTES = "class votes"
"""The Prompt lab's blind votes as a preference dataset (for DPO): exported when a run starts."""
RUN_HEADERS = ["Run", "Status", "Step", "Last loss", "Last eval loss", "Message"]
SETTINGS = frozenset(f.name for f in fields(FinetuneConfig))
"""The config's settings: a form widget named like one edits it."""
KEPT_BY_PRESETS = frozenset({"base_model", "prompt_column", "response_column", "run_name"})
"""What a preset leaves as the user set it: the model, the column names and the run's name."""


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
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in SETTINGS}

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


# Translation: values keyed by component -> a config or a request -> {component: value}.

def config_from(form: SettingsForm, values: dict[Any, Any], file: str | None = None) -> FinetuneConfig:
    """The config the form describes: whole numbers as ints, text stripped, an upload (or the class's votes,
    exported: ``file``) as the dataset."""
    settings = {}
    for name, widget in form.settings.items():
        value = values[widget]
        if isinstance(widget, gr.Number) and widget.precision == 0 and value is not None:
            value = int(value)
        elif isinstance(widget, gr.Textbox):
            value = (value or "").strip()
        settings[name] = value
    if training_method(settings["method"]).data != "prompts":
        settings["rewards"] = ()  # read by GRPO only: another run's config keeps none
    chosen = values[form.dataset]
    source = (file or uploaded_file(form, values)) if chosen in (UPLOAD, CLASS_VOTES) else chosen
    if not source:
        raise InvalidInputError("Upload a JSONL, JSON, CSV, Parquet or Arrow file first.")
    return FinetuneConfig(**{**settings, "dataset": str(source)})


def uploaded_file(form: SettingsForm, values: dict[Any, Any]) -> str | None:
    """The uploaded file, when the dataset chosen is an upload."""
    return uploaded_path(values[form.upload]) if values[form.dataset] == UPLOAD else None


def data_file(votes: VoteStore, form: SettingsForm, values: dict[Any, Any]) -> str | None:
    """The file behind the chosen dataset: an upload, or the class's A/B votes exported as (prompt, chosen,
    rejected) pairs at this moment (the run keeps its own copy); None for a shipped or Hub dataset."""
    if values[form.dataset] != CLASS_VOTES:
        return uploaded_file(form, values)
    if not votes.pairs():
        raise InvalidInputError("The class has no A/B votes yet: vote in the Prompt lab's \"Which answer is "
                                "better?\" first (ties and \"both bad\" are not pairs).")
    return str(votes.export(Path(tempfile.mkdtemp(prefix="class-votes-")) / "class-votes.jsonl"))


def estimate_outputs(ws: Workspace, form: SettingsForm, values: dict[Any, Any]) -> dict[Any, str]:
    """The run's memory and time, or what is wrong with the settings, shown in place while the user edits."""
    try:
        file = data_file(ws.votes, form, values)
        config = config_from(form, values, file)
        ws.finetune.check_allowed(config, uploaded=file is not None)  # demo caps show before Start
        text = "**Estimate:** " + estimate(config, ws.store.config(config.base_model), ws.settings.device).describe()
    except Exception as error:  # noqa: BLE001 - shown in place while the user edits
        text = f"⚠️ {error}"
    return {form.estimate: text}


def start_outputs(runner: JobRunner, votes: VoteStore, form: SettingsForm, view: RunsView,
                  values: dict[Any, Any]) -> dict[Any, Any]:
    file = data_file(votes, form, values)
    run_id = runner.start(config_from(form, values, file), dataset_file=file)
    return {view.run_choice: gr.Dropdown(choices=[r.run_id for r in runner.runs()], value=run_id),
            view.status: f"⏳ Started {run_id}."}


def stop_status(runner: JobRunner, run_id: str | None) -> str:
    if not run_id:
        raise InvalidInputError("No run selected.")
    return status_markdown(runner.cancel(run_id))


def resume_outputs(runner: JobRunner, view: RunsView, run_id: str | None) -> dict[Any, Any]:
    if not run_id:
        raise InvalidInputError("Choose the run to resume.")
    runner.start(FinetuneConfig(), resume=run_id)
    return {view.run_choice: gr.Dropdown(value=run_id), view.status: f"⏳ Resuming {run_id}."}


def rewards_text(specs: Iterable[dict[str, Any]]) -> str:
    """GRPO's rewards as the editor shows them: JSON, one reward per line."""
    lines = [json.dumps(dict(spec), ensure_ascii=False) for spec in specs]
    return "[\n" + ",\n".join(f"  {line}" for line in lines) + "\n]" if lines else "[]"


def preset_outputs(form: SettingsForm, name: str) -> dict[Any, Any]:
    """The preset's settings over the defaults, in every widget a preset sets (adapted layers by their name;
    rewards as JSON, the arithmetic example for a preset without any)."""
    chosen = {**FinetuneConfig().to_dict(), **PRESETS[name]}
    chosen["rewards"] = rewards_text(chosen["rewards"] or ARITHMETIC_REWARDS)
    chosen["target_modules"] = next((k for k, v in TARGET_PRESETS.items()
                                     if tuple(v) == tuple(chosen["target_modules"])),
                                    ",".join(chosen["target_modules"]))
    return {widget: chosen[setting] for setting, widget in form.settings.items() if widget in form.preset_targets}


def method_outputs(form: SettingsForm, name: str) -> dict[Any, Any]:
    """The adapter's settings show only for a method that trains one, GRPO's (rewards, group size, KL, sampling)
    only for a method that learns from prompts it answers itself (the registry says which)."""
    method = training_method(name)
    return {form.lora_settings: gr.Row(visible=method.lora_settings),
            form.grpo_settings: gr.Column(visible=method.data == "prompts")}


def dataset_outputs(form: SettingsForm, name: str) -> dict[Any, Any]:
    return {form.upload: gr.File(visible=name == UPLOAD)}


def shown_method(runner: JobRunner, run: RunSummary | None) -> TrainingMethod | None:
    """The shown run's training method (from its config), or None when there is no run or it is unreadable."""
    if run is None:
        return None
    try:
        return training_method(runner.config(run.run_id).get("method", ""))
    except InvalidInputError:
        return None


def method_marks(runs: list[RunSummary]) -> list[Any]:
    """What the method views show that a step count misses: GRPO's groups arrive just after their step."""
    return [((r.groups or {}).get("step"), r.reward_eval is not None) for r in runs]


def refresh_outputs(runner: JobRunner, view: RunsView, values: dict[Any, Any]) -> dict[Any, Any]:
    """Redraw the run, its curves and the history; on a timer tick, only if something changed."""
    request = WatchRequest(values[view.run_choice], tuple(values[view.compare_runs] or ()))
    log, weight = values[view.log_scale], values[view.smoothing]
    runs = runner.runs()
    mark = runs_fingerprint(runs, request.run_id, log, weight, values[view.compare_runs], method_marks(runs))
    if mark == values.get(view.shown):
        return {view.shown: mark}
    state = watch_runs(runner, request, runs)
    shown = [state.shown] if state.shown else []
    overlay = (plots.loss_figure(state.picked, log, weight) if state.picked else
               plots.message_figure("Pick runs under “Overlay runs” to draw their loss curves together."))
    return {view.run_choice: gr.Dropdown(choices=state.ids, value=state.shown.run_id if state.shown else None),
            view.status: status_markdown(state.shown), view.loss_plot: plots.loss_figure(shown, log, weight),
            view.schedule_plot: plots.schedule_figure(state.shown), view.probes: probe_rows(state.shown),
            view.history: run_rows(state.runs), view.compare_runs: gr.Dropdown(choices=state.ids),
            view.overlay: overlay, view.diff_text: diff_note(len(state.picked), state.diff_rows),
            view.diff: gr.Dataframe(value=state.diff_rows, visible=bool(state.diff_rows),
                                    headers=["Setting", *state.configs] if state.configs else ["Setting", "Runs…"]),
            **method_view_outputs(view.methods, state.shown, shown_method(runner, state.shown)),
            view.shown: mark}


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
                gr.Markdown(read_asset("notes", "finetune.md"))
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


# Wiring.

def wire_form(ws: Workspace, app: gr.Blocks, form: SettingsForm, view: RunsView) -> None:
    runner, hidden = ws.finetune, dict(api_visibility="undocumented")
    form.preset.change(partial(preset_outputs, form), form.preset, form.preset_targets, **hidden)
    form.dataset.change(partial(dataset_outputs, form), form.dataset, form.upload, **hidden)
    # full and distillation train whole weights: the adapter's settings would be read by nothing; GRPO's by GRPO only
    form.method.change(partial(method_outputs, form), form.method, [form.lora_settings, form.grpo_settings],
                       **hidden)
    show_estimate = partial(estimate_outputs, ws, form)
    for component in (*form.settings.values(), form.upload):  # in a stable order
        component.change(show_estimate, form.inputs, form.estimate, trigger_mode="always_last",
                         show_progress="hidden", **hidden)
    app.load(show_estimate, form.inputs, form.estimate, **hidden)
    form.start_button.click(event_handler(partial(start_outputs, runner, ws.votes, form, view)), form.inputs,
                            [view.run_choice, view.status], api_name="finetune_page_start", **hidden)
    form.stop_button.click(event_handler(partial(stop_status, runner)), view.run_choice, view.status,
                           api_name="finetune_page_stop", **hidden)
    form.resume_button.click(event_handler(partial(resume_outputs, runner, view)), view.run_choice,
                             [view.run_choice, view.status], api_name="finetune_page_resume", **hidden)


def wire_runs(ws: Workspace, app: gr.Blocks, view: RunsView) -> None:
    refresh, hidden = partial(refresh_outputs, ws.finetune, view), dict(api_visibility="undocumented")
    timer = gr.Timer(2.0)
    timer.tick(refresh, {*view.controls, view.shown}, view.outputs, show_progress="hidden",
               api_name="finetune_page_poll", **hidden)
    for control in view.controls:
        control.change(refresh, set(view.controls), view.outputs, show_progress="hidden", **hidden)
    app.load(refresh, set(view.controls), view.outputs, **hidden)


def build(ws: Workspace, app: gr.Blocks) -> None:
    form = layout_form(ws)
    view = layout_runs()
    build_tradeoffs(ws, view.compare_runs, view.run_choice)
    build_after(ws, view.run_choice)
    build_reward_scoring(ws, view.run_choice)
    wire_form(ws, app, form, view)
    wire_runs(ws, app, view)
    register_api(ws)


def register_api(ws: Workspace) -> None:
    runner = ws.finetune

    @event_handler
    def finetune_start(config: dict, dataset_file: gr.FileData | None = None) -> dict:
        """Start a full, LoRA, QLoRA, DPO, distillation, reward-model or GRPO job (``method``) from a config dict (see
        playground/finetune/config.py for the keys; missing keys take their defaults), optionally on an
        uploaded JSONL, JSON, CSV, Parquet or Arrow file (``handle_file``).
        Refused with a message while another job runs."""
        uploaded = uploaded_path(dataset_file)
        return {"run_id": runner.start(FinetuneConfig.from_dict(dict(config or {})), dataset_file=uploaded)}

    @event_handler
    def finetune_push(run_id: str, repo_id: str, token: str = "") -> dict:
        """Push what the run trained (its LoRA adapter, or the whole model of a full or distillation run) to
        a (private) Hub repository. The token (or the server's HF_TOKEN) is used for this call only: never
        stored, logged or returned."""
        return {"url": push_trained(runner.trained_folder(run_id), repo_id.strip(), token)}

    @event_handler
    def finetune_resume(run_id: str) -> dict:
        """Continue a run (interrupted, failed or stopped) from its last checkpoint; returns its status."""
        runner.start(FinetuneConfig(), resume=run_id)
        return runner.status(run_id).to_dict()

    @event_handler
    def finetune_status(run_id: str) -> dict:
        """status (queued, running, finished, failed, cancelled, interrupted), step, max_steps, losses [[step, loss]],
        eval_losses, learning_rates, grad_norms, probes, checkpoints, notes (data notes, the end-of-run
        evaluation's scores), adapter, message, eta_seconds; measures {name: [[step, value]]}, reward_means and
        groups (GRPO), reward_eval (a reward model's held-out accuracy, interval and scores)."""
        return runner.status(run_id).to_dict()

    @event_handler
    def finetune_cancel(run_id: str) -> dict:
        """Ask the run to stop at its next step (the adapter is saved); returns its status."""
        return runner.cancel(run_id).to_dict()

    @event_handler
    def finetune_runs() -> list:
        """Every run, newest first, with its status and curves."""
        return [summary.to_dict() for summary in runner.runs()]

    gr.api(finetune_start, api_name="finetune_start")
    gr.api(finetune_status, api_name="finetune_status")
    gr.api(finetune_cancel, api_name="finetune_cancel")
    gr.api(finetune_resume, api_name="finetune_resume")
    gr.api(finetune_push, api_name="finetune_push")
    gr.api(finetune_runs, api_name="finetune_runs")

