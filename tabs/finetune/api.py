"""Fine-tuning endpoints: plain data for ``gradio_client``, notebooks and tests. ``/finetune_start`` (config,
dataset_file) -> {run_id}; ``/finetune_status``, ``/finetune_cancel``, ``/finetune_resume`` (run_id);
``/finetune_push`` (run_id, repo_id, token); ``/finetune_runs`` (). They call the same ``JobRunner`` as the page.
"""

from __future__ import annotations

import gradio as gr

from playground.finetune.adapters import push_trained
from playground.finetune.config import FinetuneConfig
from playground.workspace import Workspace
from tabs.shared.common import event_handler, uploaded_path


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

