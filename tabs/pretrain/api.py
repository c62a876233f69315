"""Named endpoints of the Pre-training tab, each a thin call into :class:`playground.pretrain.lab.PretrainLab`.

``/pretrain_start`` (config) -> {run_id}; ``/pretrain_objectives`` (text, objective) -> one view per objective;
``/pretrain_size`` (family, layers, width, heads, context, vocab) -> parameters and FLOPs per token;
``/scaling_sweep_start`` (sizes, budgets, config) -> {run_id, points, total_steps}; ``/scaling_fit`` (run_ids,
budget) -> the fitted law. A run's progress, Stop and Resume are the fine-tuning runs' own endpoints
(``/finetune_status``, ``/finetune_cancel``, ``/finetune_resume``): both kinds share one runs folder.
"""

from __future__ import annotations

import gradio as gr

from playground.workspace import Workspace
from tabs.shared.common import event_handler


def register_api(ws: Workspace) -> None:
    lab = ws.pretrain

    @event_handler
    def pretrain_start(config: dict) -> dict:
        """Start a pre-training run from a config dict (family, objective, layers, width, heads, context,
        tokenizer 'bpe' + vocab_size or a model name, corpus 'shakespeare' or 'text' + text, steps, batch_size,
        learning_rate, seed, eval_every...; see playground/pretrain/config.py). Refused while another job runs."""
        return {"run_id": lab.start(dict(config or {}))}

    @event_handler
    def pretrain_objectives(text: str = "", objective: str = "all", seed: int = 0) -> list:
        """What clm, mlm and span corruption (or the one named) turn the text into: tokens, inputs, targets and
        counts; an empty text shows a held-out passage of the shipped corpus."""
        return lab.objectives(text or "", objective or "all", seed)

    @event_handler
    def pretrain_size(family: str = "decoder", layers: int = 2, width: int = 64, heads: int = 2, context: int = 64,
                      vocab: int = 2048) -> dict:
        """Parameters (total, embedding, non_embedding) and training FLOPs per token (6 N) of a shape."""
        return lab.size_info(family, layers, width, heads, context, vocab)

    @event_handler
    def scaling_sweep_start(sizes: list | None = None, budgets: list | None = None, config: dict | None = None) -> dict:
        """Start a sweep: every size ({layers, width, heads}) at every budget (training FLOPs) in one worker, one
        point after another; defaults: 4 sizes x 3 budgets. Returns {run_id, points, total_steps}."""
        settings = {**dict(config or {}), **({"sizes": sizes} if sizes else {}),
                    **({"budgets": budgets} if budgets else {})}
        plan = lab.plan(settings)
        return {"run_id": lab.start_sweep(settings), **plan}

    @event_handler
    def scaling_fit(run_ids: list, budget: float = 0.0) -> dict:
        """Fit L(N, D) = E + A/N^alpha + B/D^beta to finished runs (a sweep's id, or single runs): E, A, B, alpha,
        beta, points, chinchilla, frontier, recommended (for budget FLOPs; 0: 10x the largest run), scale_gap."""
        return lab.fit(list(run_ids or []), budget or None)

    gr.api(pretrain_start, api_name="pretrain_start")
    gr.api(pretrain_objectives, api_name="pretrain_objectives")
    gr.api(pretrain_size, api_name="pretrain_size")
    gr.api(scaling_sweep_start, api_name="scaling_sweep_start")
    gr.api(scaling_fit, api_name="scaling_fit")
