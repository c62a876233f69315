"""The trade-off table and chart across runs (method, trainable share, memory, pace, size, losses), and
evaluation after training (base beside trained on a labelled set, held-out perplexity or preference).

Endpoints: ``/finetune_compare`` (run_ids) -> rows; ``/finetune_evaluate`` (run_id, task, eval_file) -> scores.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from playground.finetune.compare import COLUMNS, compare
from playground.finetune.evaluation import DEFAULT_LIMIT, evaluate_run
from playground.prompting import techniques as prompts
from playground.workspace import Workspace
from tabs.finetune.plots import PALETTE
from tabs.shared.common import event_handler, uploaded_path
from tabs.shared.figures import message_figure

HEADERS = ["Run", "Method", "Status", "Trainable", "Trainable %", "Peak memory MB", "Memory of", "Weights MB",
           "s/step", "tokens/s", "Saved MB", "Final loss", "Final eval loss", "DPO margin", "KL to teacher",
           "Base acc.", "Tuned acc."]
FILE = "my eval file"


def table_rows(rows: list[dict[str, Any]]) -> list[list[Any]]:
    """The rows as shown: parameter counts with thousands separators, the rest as measured."""
    return [[f"{row[column]:,}" if column == "trainable_params" and row.get(column) is not None else row.get(column)
             for column in COLUMNS] for row in rows]


def bar_label(row: dict[str, Any]) -> str:
    """``lora<br>02:55``: the method, and when the run started (its id's time), short enough for an axis."""
    clock = row["run_id"][9:15]
    return f"{row['method']}<br>{clock[:2]}:{clock[2:4]}" if clock.isdigit() else row["method"]


def tradeoff_figure(rows: list[dict[str, Any]]) -> go.Figure:
    """One bar per run in four panels: what trains, what it holds, how fast, what it saves."""
    if not rows:
        return message_figure("Pick runs under “Overlay runs” and press Compare.")
    panels = (("trainable_pct", "trainable %"), ("peak_memory_mb", "peak memory (MB)"),
              ("seconds_per_step", "seconds per step"), ("saved_mb", "saved size (MB)"))
    figure = make_subplots(rows=1, cols=4, subplot_titles=[title for _, title in panels])
    labels = [bar_label(row) for row in rows]
    colours = [PALETTE[index % len(PALETTE)] for index in range(len(rows))]
    for column, (key, _) in enumerate(panels, start=1):
        figure.add_trace(go.Bar(x=labels, y=[row.get(key) for row in rows], marker_color=colours, showlegend=False),
                         row=1, col=column)
    figure.update_layout(height=320, margin=dict(l=40, r=10, t=40, b=60))
    return figure


def evaluation_rows(result: dict[str, Any]) -> list[list[Any]]:
    """Base and trained, one line per measure."""
    rows = []
    labelled = result.get("labelled") or {}
    for label in ("base", "tuned"):
        score = labelled.get(label)
        if score:
            rows.append([f"{labelled['task']} accuracy ({labelled['technique']}), {label}",
                         f"{score['accuracy']:.0%} ({score['correct']}/{score['scored']}; 95% "
                         f"{score['ci_low']:.0%}–{score['ci_high']:.0%})"])
    if "perplexity" in result:
        ppl = result["perplexity"]
        rows.append([f"perplexity on {ppl['rows']} held-out rows (base → trained)",
                     f"{ppl['base']:.2f} → {ppl['tuned']:.2f}"])
    if "preference" in result:
        pref = result["preference"]
        rows.append([f"reward margin on {pref['pairs']} held-out pairs", f"{pref['reward_margin']:+.3f}"])
        rows.append(["chosen beats rejected", f"{pref['chosen_wins']:.0%}"])
    if "kl_to_teacher" in result:
        rows.append(["student's KL to the teacher (held-out, per token)", f"{result['kl_to_teacher']:.4f}"])
    return rows


def build_tradeoffs(ws: Workspace, compare_runs: gr.Dropdown, run_choice: gr.Dropdown) -> None:
    with gr.Accordion("Trade-offs across runs: full vs LoRA vs QLoRA vs DPO vs distillation", open=False):
        compare_button = gr.Button("Compare the runs picked under “Overlay runs”", elem_id="ft-compare-button")
        table = gr.Dataframe(headers=HEADERS, interactive=False, wrap=True, elem_id="ft-tradeoffs")
        chart = gr.Plot(elem_id="ft-tradeoff-chart")
    with gr.Accordion("Evaluate after training: base beside trained", open=False):
        with gr.Row():
            task = gr.Dropdown([*prompts.tasks(), FILE], value="sentiment", label="Labelled set (the Prompt lab's)",
                               elem_id="ft-eval-task")
            eval_file = gr.File(label="Eval file (input, expected)", file_types=[".jsonl", ".csv"], visible=False)
            limit = gr.Number(DEFAULT_LIMIT, precision=0, label="Items per model", elem_id="ft-eval-limit")
            evaluate_button = gr.Button("Evaluate the run shown", elem_id="ft-evaluate")
        scores = gr.Dataframe(headers=["Measure", "Value"], interactive=False, wrap=True, elem_id="ft-eval-scores")

    @event_handler
    def show(chosen: list[str] | None) -> tuple[list[list[Any]], go.Figure]:
        if not chosen:
            raise gr.Error("Pick runs under “Overlay runs” first.")
        rows = compare(ws.finetune, list(chosen))
        return table_rows(rows), tradeoff_figure(rows)

    @event_handler
    def run_evaluation(run_id: str | None, name: str, upload: Any, count: float) -> list[list[Any]]:
        if not run_id:
            raise gr.Error("Choose a run first (Run shown).")
        path = uploaded_path(upload) if name == FILE else None
        if name == FILE and not path:
            raise gr.Error("Upload an eval file with input and expected columns first.")
        result = evaluate_run(ws.finetune, ws.generation, ws.adapters, run_id, task="" if path else name,
                              file=path, limit=int(count or DEFAULT_LIMIT))
        return evaluation_rows(result)

    hidden = dict(api_visibility="undocumented")
    task.change(lambda name: gr.File(visible=name == FILE), task, eval_file, **hidden)
    compare_button.click(show, compare_runs, [table, chart], **hidden)
    evaluate_button.click(run_evaluation, [run_choice, task, eval_file, limit], scores, **hidden)
    register_api(ws)


def register_api(ws: Workspace) -> None:
    @event_handler
    def finetune_compare(run_ids: list) -> list:
        """One row per run: method, trainable_params and trainable_pct, peak_memory_mb (GPU allocated, or the
        worker's RSS on CPU), weights_mb, seconds_per_step, tokens_per_second, saved_mb (adapter or model),
        final_loss, final_eval_loss, reward_margin (DPO), kl (distillation), base/tuned accuracy once evaluated."""
        return compare(ws.finetune, list(run_ids or []))

    @event_handler
    def finetune_evaluate(run_id: str, task: str = "sentiment", eval_file: gr.FileData | None = None,
                          limit: int = DEFAULT_LIMIT) -> dict:
        """The base and the trained model on a Prompt lab labelled set (``task``) or an uploaded file
        (input, expected), scored like the Prompt lab (accuracy, 95% interval), plus perplexity on the run's
        held-out rows, or for DPO the reward margin and how often chosen beats rejected."""
        path = uploaded_path(eval_file)
        return evaluate_run(ws.finetune, ws.generation, ws.adapters, run_id, task="" if path else task, file=path,
                            limit=int(limit))

    gr.api(finetune_compare, api_name="finetune_compare")
    gr.api(finetune_evaluate, api_name="finetune_evaluate")
