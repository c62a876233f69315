"""The Fine-tuning page's translation: module-level functions from the page's values keyed by component to a
``FinetuneConfig`` or a ``WatchRequest`` for the library (``playground.finetune``), and from its results to
``{component: value}`` for the form and the runs view of ``tabs/finetune/layout.py``. Tested with a dict,
without launching Gradio (tests/unit/test_finetune_translation.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from playground.core.errors import InvalidInputError
from playground.finetune.config import PRESETS, TARGET_PRESETS, FinetuneConfig
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
from tabs.finetune.layout import CLASS_VOTES, UPLOAD, RunsView, SettingsForm, rewards_text
from tabs.finetune.method_views import method_view_outputs
from tabs.shared.common import uploaded_path
from tabs.shared.figures import message_figure


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
    return {view.run_choice: gr.Dropdown(choices=[r.run_id for r in runner.runs_where(pretraining=False)],
                                         value=run_id),
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
    runs = runner.runs_where(pretraining=False)
    mark = runs_fingerprint(runs, request.run_id, log, weight, values[view.compare_runs], method_marks(runs))
    if mark == values.get(view.shown):
        return {view.shown: mark}
    state = watch_runs(runner, request, runs)
    shown = [state.shown] if state.shown else []
    overlay = (plots.loss_figure(state.picked, log, weight) if state.picked else
               message_figure("Pick runs under “Overlay runs” to draw their loss curves together."))
    return {view.run_choice: gr.Dropdown(choices=state.ids, value=state.shown.run_id if state.shown else None),
            view.status: status_markdown(state.shown), view.loss_plot: plots.loss_figure(shown, log, weight),
            view.schedule_plot: plots.schedule_figure(state.shown), view.probes: probe_rows(state.shown),
            view.history: run_rows(state.runs), view.compare_runs: gr.Dropdown(choices=state.ids),
            view.overlay: overlay, view.diff_text: diff_note(len(state.picked), state.diff_rows),
            view.diff: gr.Dataframe(value=state.diff_rows, visible=bool(state.diff_rows),
                                    headers=["Setting", *state.configs] if state.configs else ["Setting", "Runs…"]),
            **method_view_outputs(view.methods, state.shown, shown_method(runner, state.shown)),
            view.shown: mark}
