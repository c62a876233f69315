"""Fine-tuning tab: a full, LoRA, QLoRA, DPO, distillation, reward-model or GRPO job in its own process, its
curves live (and GRPO's rewards and groups, a reward model's accuracy and scores), every past run and their
trade-offs, then the fine-tuned model beside its base: evaluated, exported, merged or pushed.

Endpoints (``tabs/finetune/api.py``): ``/finetune_start`` (config) -> {run_id}; ``/finetune_status`` (run_id);
``/finetune_cancel`` (run_id); ``/finetune_runs`` (); ``/reward_score`` (run_id, prompt, answers) in
reward_scoring.py. The page polls the run folder, so a reload or a restart re-attaches.

Three parts (docs/architecture.md): the layout (``tabs/finetune/layout.py``: ``layout_form``, ``layout_runs``),
the translation (``tabs/finetune/translation.py``: from values keyed by component to a ``FinetuneConfig`` or a
``WatchRequest``, and from results to ``{component: value}``) and the wiring below (``wire_form``, ``wire_runs``).
"""

from __future__ import annotations

from functools import partial

import gradio as gr

from playground.workspace import Workspace
from tabs.finetune.after import build_after
from tabs.finetune.api import register_api
from tabs.finetune.layout import RunsView, SettingsForm, layout_form, layout_runs
from tabs.finetune.reward_scoring import build_reward_scoring
from tabs.finetune.tradeoffs import build_tradeoffs
from tabs.finetune.translation import (
    dataset_outputs,
    estimate_outputs,
    method_outputs,
    preset_outputs,
    refresh_outputs,
    resume_outputs,
    start_outputs,
    stop_status,
)
from tabs.shared.common import event_handler


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
