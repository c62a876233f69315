"""Fine-tuning tab: a full, LoRA, QLoRA, DPO or distillation job in its own process, its curves live,
every past run and their trade-offs, then the fine-tuned model beside its base: evaluated, exported,
merged or pushed.

Endpoints: ``/finetune_start`` (config) -> {run_id}; ``/finetune_status`` (run_id); ``/finetune_cancel``
(run_id); ``/finetune_runs`` (). The page polls the run folder, so a reload or a restart re-attaches.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from playground.finetune.adapters import push_trained
from playground.finetune.config import ADAPTER_METHODS, METHODS, PRESETS, TARGET_PRESETS, FinetuneConfig
from playground.finetune.data import shipped_datasets
from playground.finetune.estimate import estimate
from playground.workspace import Workspace
from tabs.finetune import plots
from tabs.finetune.after import build_after
from tabs.finetune.tradeoffs import build_tradeoffs
from tabs.shared.common import event_handler, read_asset, uploaded_path

UPLOAD = "upload"
FORM_FIELDS = ("method", "max_steps", "learning_rate", "batch_size", "max_seq_length", "lora_r", "lora_alpha",
               "lora_dropout", "target_modules", "eval_every", "save_every", "eval_size", "config_name", "split",
               "messages_column", "chosen_column", "rejected_column", "dpo_beta", "teacher", "student",
               "distill_alpha", "distill_temperature")
WHOLE_FIELDS = ("max_steps", "batch_size", "max_seq_length", "lora_r", "lora_alpha", "eval_every", "save_every",
                "eval_size")
TEXT_FIELDS = ("config_name", "split", "messages_column", "chosen_column", "rejected_column", "teacher", "student")
RUN_HEADERS = ["Run", "Status", "Step", "Last loss", "Last eval loss", "Message"]
STATUS_ICONS = {"running": "⏳", "finished": "✅", "failed": "❌", "cancelled": "⏹️", "interrupted": "⚠️"}


def runs_fingerprint(runs: list[Any], *controls: Any) -> str:
    """What the page shows, in brief: a poll that finds it unchanged sends nothing to the browser."""
    return repr([(r.run_id, r.status, r.step, len(r.losses), len(r.eval_losses), r.message) for r in runs]
                + [controls])


NO_RUN = ("No run yet in this visit: choose settings and press **Start** (earlier runs stay under "
          "**Run shown** and in the run history).")


def status_markdown(summary: Any) -> str:
    if summary is None:
        return NO_RUN
    eta = f" · about {summary.eta_seconds / 60:.1f} min left" if summary.eta_seconds else ""
    pace = f" · {summary.seconds_per_step:.1f} s/step" if summary.seconds_per_step else ""
    icon = STATUS_ICONS.get(summary.status, "⏳")
    message = f"<br>{summary.message}" if summary.message else ""
    notes = "".join(f"<br>ℹ️ {note}" for note in summary.notes)
    doing = ""
    if summary.evaluating and summary.status == "running":
        doing = (" · 🔎 probing the base model before step 1" if summary.step == 0 else
                 " · 🔎 scoring the base and the trained model before the run finishes"
                 if summary.max_steps and summary.step >= summary.max_steps else
                 " · 🔎 evaluating (eval loss and probe answers; steps resume after it)")
    return (f"{icon} **{summary.run_id}**: {summary.status} · step {summary.step} of {summary.max_steps}"
            f"{doing}{pace}{eta}{message}{notes}")


def shown_run(run_id: str | None, runs: list[Any]) -> str | None:
    """The run the page shows: the user's choice, else the newest one still running, else none.

    A fresh visit must not open on a leftover run ("cancelled · step 4 of 40") the user never started.
    """
    if run_id in [r.run_id for r in runs]:
        return run_id
    return next((r.run_id for r in runs if r.status in ("queued", "running")), None)


def run_rows(runs: list[Any]) -> list[list[Any]]:
    return [[r.run_id, r.status, f"{r.step}/{r.max_steps}", round(r.losses[-1][1], 4) if r.losses else None,
             round(r.eval_losses[-1][1], 4) if r.eval_losses else None, r.message] for r in runs]


def probe_rows(summary: Any) -> list[list[Any]]:
    if summary is None:
        return []
    return [[probe["step"] or "0 (base)", sample["prompt"], sample["output"]]
            for probe in reversed(summary.probes) for sample in probe["samples"]]


def config_diff(configs: dict[str, dict[str, Any]]) -> list[list[Any]]:
    """Only the settings that differ between the chosen runs."""
    if len(configs) < 2:
        return []
    keys = sorted(set().union(*configs.values()))
    return [[key, *[str(config.get(key)) for config in configs.values()]]
            for key in keys if len({str(config.get(key)) for config in configs.values()}) > 1]


def diff_note(picked: int, rows: list[list[Any]]) -> str:
    """What the comparison says in words, where a table would be empty."""
    if picked < 2:
        return "*Pick two or more runs under **Overlay runs** to list the settings that differ.*"
    return "" if rows else "**No differences:** the chosen runs used the same settings."


def build(ws: Workspace, app: gr.Blocks) -> None:
    runner = ws.finetune
    device = ws.settings.device  # the app's one decision, as the worker is told
    defaults = FinetuneConfig()
    with gr.Row():
        with gr.Column(scale=3):
            with gr.Row():
                preset = gr.Dropdown(list(PRESETS), value="quick demo on CPU", label="Preset", elem_id="ft-preset")
                method = gr.Radio(list(METHODS), value=defaults.method, elem_id="ft-method", label="Method",
                                  info="full: every weight · qlora: 4-bit base · dpo: preference pairs · "
                                       "distill: a half-depth student")
                base_model = gr.Dropdown([ws.settings.default_model], value=ws.settings.default_model,
                                         allow_custom_value=True, label="Base model")
            with gr.Row():
                dataset = gr.Dropdown(shipped_datasets() + [UPLOAD], value=defaults.dataset, label="Dataset "
                                      "(or a Hub dataset id, with a network)", allow_custom_value=True,
                                      elem_id="ft-dataset")
                upload = gr.File(label="JSONL, JSON, CSV, Parquet or Arrow", visible=False,
                                 file_types=[".jsonl", ".json", ".csv", ".parquet", ".arrow"])
                prompt_column = gr.Textbox(defaults.prompt_column, label="Prompt column")
                response_column = gr.Textbox(defaults.response_column, label="Response column")
            with gr.Row():
                max_steps = gr.Number(defaults.max_steps, precision=0, label="Steps", elem_id="ft-steps")
                learning_rate = gr.Number(defaults.learning_rate, label="Learning rate")
                batch_size = gr.Number(defaults.batch_size, precision=0, label="Batch size")
                max_seq_length = gr.Number(defaults.max_seq_length, precision=0, label="Max sequence length")
            with gr.Row(visible=defaults.method in ADAPTER_METHODS, elem_id="ft-lora-settings") as lora_settings:
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
            with gr.Accordion("Data mapping and method settings (Hub config and split, chat turns, DPO, "
                              "distillation)", open=False):
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
            estimate_box = gr.Markdown(elem_id="ft-estimate")
            with gr.Row():
                start_button = gr.Button("Start", variant="primary", elem_id="ft-start")
                stop_button = gr.Button("Stop (saves what it trained)", elem_id="ft-stop")
                resume_button = gr.Button("Resume from last checkpoint", elem_id="ft-resume")
        with gr.Column(scale=2):
            with gr.Accordion("What each method changes, and when to pick it", open=True):
                gr.Markdown(read_asset("notes", "finetune.md"))
    status = gr.Markdown(elem_id="ft-status")
    with gr.Row():
        run_choice = gr.Dropdown([], label="Run shown", elem_id="ft-run", scale=3)
        log_scale = gr.Checkbox(False, label="Log-scale loss", scale=1)
        smoothing = gr.Slider(0, 0.95, value=0.6, step=0.05, label="Smoothing", scale=2)
    with gr.Row():
        loss_plot = gr.Plot(label="Loss", elem_id="ft-loss")
        schedule_plot = gr.Plot(label="Learning rate and gradient norm", elem_id="ft-schedule")
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
    build_tradeoffs(ws, compare_runs, run_choice)
    build_after(ws, run_choice)
    timer = gr.Timer(2.0)

    form = [method, max_steps, learning_rate, batch_size, max_seq_length, lora_r, lora_alpha, lora_dropout,
            target_modules, eval_every, save_every, eval_size, config_name, split, messages_column, chosen_column,
            rejected_column, dpo_beta, teacher, student, distill_alpha, distill_temperature]

    def config_from(base: str, data: str, upload_file: str | None, prompt_col: str, response_col: str, name: str,
                    *values: Any) -> FinetuneConfig:
        settings = dict(zip(FORM_FIELDS, values, strict=True))
        for key in WHOLE_FIELDS:
            settings[key] = int(settings[key]) if settings[key] is not None else settings[key]
        for key in TEXT_FIELDS:
            settings[key] = (settings[key] or "").strip()
        source = upload_file if data == UPLOAD else data
        if not source:
            raise gr.Error("Upload a JSONL, JSON, CSV, Parquet or Arrow file first.")
        return FinetuneConfig(base_model=base, dataset=str(source), prompt_column=prompt_col.strip(),
                              response_column=response_col.strip(), run_name=name.strip(), **settings)

    inputs = [base_model, dataset, upload, prompt_column, response_column, run_name, *form]

    def show_estimate(*values: Any) -> str:
        try:
            config = config_from(*values)
            runner.check_allowed(config, uploaded=values[1] == UPLOAD)  # demo caps show before Start
            return "**Estimate:** " + estimate(config, ws.store.config(config.base_model), device).describe()
        except Exception as error:  # noqa: BLE001 - shown in place while the user edits
            return f"⚠️ {error}"

    @event_handler
    def start(*values: Any) -> tuple[Any, str]:
        uploaded = values[2] if values[1] == UPLOAD else None
        run_id = runner.start(config_from(*values), dataset_file=uploaded)
        return gr.Dropdown(choices=[r.run_id for r in runner.runs()], value=run_id), f"⏳ Started {run_id}."

    @event_handler
    def stop(run_id: str | None) -> str:
        if not run_id:
            raise gr.Error("No run selected.")
        return status_markdown(runner.cancel(run_id))

    @event_handler
    def resume(run_id: str | None) -> tuple[Any, str]:
        if not run_id:
            raise gr.Error("Choose the run to resume.")
        runner.start(FinetuneConfig(), resume=run_id)
        return gr.Dropdown(value=run_id), f"⏳ Resuming {run_id}."

    def refresh(run_id: str | None, log: bool, weight: float, chosen: list[str] | None,
                seen: str | None = None) -> tuple[Any, ...]:
        """Redraw the run, its curves and the history; on a timer tick, only if something changed."""
        runs = runner.runs()
        mark = runs_fingerprint(runs, run_id, log, weight, chosen)
        if mark == seen:
            return (*[gr.skip()] * len(outputs), mark)
        ids = [r.run_id for r in runs]
        current = shown_run(run_id, runs)
        summary = next((r for r in runs if r.run_id == current), None)
        picked = [r for r in runs if r.run_id in (chosen or [])]
        configs = {r.run_id: runner.config(r.run_id) for r in picked}
        diff_rows = config_diff(configs)
        return (gr.Dropdown(choices=ids, value=current), status_markdown(summary),
                plots.loss_figure([summary] if summary else [], log, weight), plots.schedule_figure(summary),
                probe_rows(summary), run_rows(runs), gr.Dropdown(choices=ids),
                plots.loss_figure(picked, log, weight) if picked else plots.message_figure(
                    "Pick runs under “Overlay runs” to draw their loss curves together."),
                diff_note(len(picked), diff_rows),
                gr.Dataframe(value=diff_rows, headers=["Setting", *configs] if configs else ["Setting", "Runs…"],
                             visible=bool(diff_rows)),
                mark)

    def apply_preset(name: str) -> list[Any]:
        chosen = {**FinetuneConfig().to_dict(), **PRESETS[name]}
        target = next((k for k, v in TARGET_PRESETS.items() if tuple(v) == tuple(chosen["target_modules"])),
                      ",".join(chosen["target_modules"]))
        return [chosen[key] if key != "target_modules" else target for key in FORM_FIELDS] + [chosen["dataset"]]

    outputs = [run_choice, status, loss_plot, schedule_plot, probes, history, compare_runs, overlay, diff_text,
               diff]
    shown = gr.State(None)  # this page's last fingerprint: ticks that change nothing send nothing
    refresh_inputs = [run_choice, log_scale, smoothing, compare_runs]
    undocumented = dict(api_visibility="undocumented")
    preset.change(apply_preset, preset, [*form, dataset], **undocumented)
    dataset.change(lambda d: gr.File(visible=d == UPLOAD), dataset, upload, **undocumented)
    # full and distillation train whole weights: the adapter's settings would be read by nothing
    method.change(lambda m: gr.Row(visible=m in ADAPTER_METHODS), method, lora_settings, **undocumented)
    for component in inputs:
        component.change(show_estimate, inputs, estimate_box, trigger_mode="always_last", show_progress="hidden",
                         **undocumented)
    start_button.click(start, inputs, [run_choice, status], api_name="finetune_page_start", **undocumented)
    stop_button.click(stop, run_choice, status, api_name="finetune_page_stop", **undocumented)
    resume_button.click(resume, run_choice, [run_choice, status], api_name="finetune_page_resume", **undocumented)
    timer.tick(refresh, [*refresh_inputs, shown], [*outputs, shown], show_progress="hidden",
               api_name="finetune_page_poll", **undocumented)
    for control in (run_choice, log_scale, smoothing, compare_runs):
        control.change(refresh, refresh_inputs, [*outputs, shown], show_progress="hidden", **undocumented)
    app.load(refresh, refresh_inputs, [*outputs, shown], **undocumented)
    app.load(show_estimate, inputs, estimate_box, **undocumented)
    register_api(ws)


def register_api(ws: Workspace) -> None:
    runner = ws.finetune

    @event_handler
    def finetune_start(config: dict, dataset_file: gr.FileData | None = None) -> dict:
        """Start a full, LoRA, QLoRA, DPO or distillation job (``method``) from a config dict (see
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
        evaluation's scores), adapter, message, eta_seconds."""
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

