"""Evaluate: each technique on a labelled set, accuracy with a 95% interval, cost; a chart."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import gradio as gr
import plotly.graph_objects as go

from playground.generation.engine import GenerationEngine
from playground.prompting import techniques as prompts
from playground.prompting.answers import wilson_interval
from playground.prompting.evaluation import UPLOAD, EvalRequest, EvalRun, EvalUpdate, run_evaluation
from playground.workspace import Workspace
from tabs.shared.common import event_handler, wire_export
from tabs.shared.figures import waiting
from tabs.shared.queues import GENERATION_CONCURRENCY, GENERATION_QUEUE
from tabs.shared.sampling_controls import SamplingControls

SCORE_HEADERS = ["Technique", "Scored", "Correct", "Accuracy", "95% interval", "Tokens in", "Tokens out",
                 "Decode s"]
"""The last column adds up each answer's own decode time: a cost per technique. The answers are decoded
together (in one batch on a local model), so these overlap; the status line gives the run's wall time."""
ITEM_HEADERS = ["Technique", "Input", "Expected", "Answer read", "Correct", "Output"]
DEFAULT_ITEMS = 8


def interval_note(items: int = DEFAULT_ITEMS) -> str:
    """How wide the 95% interval is at half right, for the number of items the slider starts at."""
    low, high = wilson_interval(items // 2, items)
    points = (high - low) / 2 * 100
    return f"The interval is the Wilson score interval: with {items} items, ±{points:.0f} points is normal."


RULES = ("An answer is read after the last “Answer:”-style marker (or “the answer is”): labels by "
         "word, numbers as the first number after a marker (else the last one), free text as the "
         "first words of the first line; the JSON technique counts only parseable JSON with the key. "
         f"{interval_note()} The repetition penalty is the set's own (off: a penalty corrupts answers that "
         "repeat the text, see the notes); the chat template is the lab's checkbox at the top.")


def score_rows(run: EvalRun) -> list[list[Any]]:
    rows = []
    for score in run.scores:
        data = score.to_dict(with_items=False)
        accuracy = data["accuracy"]
        rows.append([score.title, f"{data['scored']}/{data['total']}", data["correct"],
                     None if accuracy is None else f"{accuracy:.0%}",
                     f"{data['ci_low']:.0%}–{data['ci_high']:.0%}", data["tokens_in"], data["tokens_out"],
                     data["seconds"]])
    return rows


def item_rows(run: EvalRun) -> list[list[Any]]:
    return [[score.technique, item.input, item.expected, item.answer, "✔" if item.correct else "✘",
             " ‖ ".join(item.outputs)[:400]] for score in run.scores for item in score.items]


def accuracy_figure(run: EvalRun) -> go.Figure:
    scored = [score for score in run.scores if score.items]
    accuracy = [score.accuracy or 0.0 for score in scored]
    lows, highs = zip(*(score.interval for score in scored), strict=True) if scored else ((), ())
    figure = go.Figure(go.Bar(
        x=[score.title for score in scored], y=accuracy, marker_color="#6366f1",
        error_y=dict(type="data", symmetric=False, array=[h - a for h, a in zip(highs, accuracy, strict=True)],
                     arrayminus=[a - low for low, a in zip(lows, accuracy, strict=True)]),
        customdata=[[score.tokens_out, round(score.seconds, 1), len(score.items)] for score in scored],
        hovertemplate="%{x}<br>accuracy %{y:.0%} over %{customdata[2]} items<br>%{customdata[0]} tokens "
                      "out, %{customdata[1]} s<extra></extra>"))
    figure.update_layout(title=f"Accuracy on {run.task} (bars: 95% interval)", height=320,
                         yaxis=dict(range=[0, 1], tickformat=".0%"), margin=dict(l=40, r=10, t=40, b=60))
    return figure


@dataclass(frozen=True)
class EvalChoices:
    """What to evaluate: the set (or an upload), how many items, which techniques."""

    task: gr.Dropdown
    limit: gr.Slider
    upload_row: gr.Row
    upload: gr.File
    instruction: gr.Textbox
    techniques: gr.CheckboxGroup

    @property
    def inputs(self) -> set[Any]:
        return {self.task, self.limit, self.upload, self.instruction, self.techniques}


@dataclass(frozen=True)
class EvalResults:
    """Where a run shows: its status, the scores as a table and a chart, every answer, the export."""

    status: gr.Markdown
    table: gr.Dataframe
    plot: gr.Plot
    items: gr.Dataframe
    last: gr.State
    export_button: gr.Button
    exported: gr.File

    @property
    def outputs(self) -> list[Any]:
        return [self.status, self.table, self.plot, self.items, self.last]


@dataclass(frozen=True)
class EvaluateView:
    """The Evaluate view (layout); ``model``, ``chat``, ``endpoints`` and ``sampling`` are the lab's own."""

    model: gr.Dropdown
    chat: gr.Checkbox
    endpoints: gr.State
    sampling: SamplingControls
    choices: EvalChoices
    run_button: gr.Button
    stop_button: gr.Button
    results: EvalResults

    @property
    def inputs(self) -> set[Any]:
        return {self.endpoints, self.model, self.chat, *self.choices.inputs, *self.sampling.inputs}


def eval_request(view: EvaluateView, values: Mapping[Any, Any]) -> EvalRequest:
    """The evaluation the widgets describe (validated by the library, as the API's is)."""
    choices = view.choices
    return EvalRequest(values[view.model], values[choices.task], list(values[choices.techniques] or []),
                       values[choices.limit], view.sampling.settings_from(values), values[view.chat],
                       values[choices.upload], values[choices.instruction])


def status_line(update: EvalUpdate, uploaded: bool) -> str:
    """How far the run is, on what, and how long it took; an uploaded set also shows its guessed answer kind."""
    done, total = update.run.progress
    kind = f", answer kind: {update.task.answer}" if uploaded else ""
    return (("✅ " if update.run.done else "⏳ ") +
            f"Scored {done} of {total} answers ({update.task.title}, {update.items} items{kind}) in "
            f"{update.seconds:.1f} s. The answers run together: a technique's "
            "Decode s adds up its answers' own decode times, which overlap.")


def evaluate_outputs(engine: GenerationEngine, view: EvaluateView, values: Mapping[Any, Any]
                     ) -> Iterator[dict[Any, Any]]:
    """The page's "Evaluate": the library runs the request; each update fills the status, table, chart and
    answers; the finished run is kept for the export."""
    request = eval_request(view, values)
    results = view.results
    for update in run_evaluation(engine.with_endpoints(values[view.endpoints]), request):
        run = update.run
        yield {results.status: status_line(update, request.uploaded), results.table: score_rows(run),
               results.plot: accuracy_figure(run), results.items: item_rows(run),
               results.last: run.to_dict() if run.done else None}


def layout_choices() -> EvalChoices:
    task_choices = [(f"{t.title}: {t.description}", t.name) for t in prompts.tasks().values()]
    technique_choices = [(t.title, t.name) for t in prompts.techniques().values()]
    with gr.Row():
        task = gr.Dropdown(task_choices + [("Upload my own set (JSONL or CSV)", UPLOAD)],
                           value=task_choices[0][1], label="Labelled set", elem_id="ev-task")
        limit = gr.Slider(1, 40, value=DEFAULT_ITEMS, step=1, label="Items to score (from the start of the set)",
                          elem_id="ev-limit")
    with gr.Row(visible=False) as upload_row:
        upload = gr.File(label="input + expected columns (also: question/answer). The first 3 rows "
                               "become the few-shot examples.", file_types=[".jsonl", ".csv", ".json"],
                         elem_id="ev-upload")
        instruction = gr.Textbox(label="Instruction for your set", value="Answer the question.")
    techniques = gr.CheckboxGroup(technique_choices, value=["zero-shot", "few-shot"], label="Techniques",
                                  elem_id="ev-techniques")
    gr.Markdown(f"<span class='muted'>{RULES} Self-consistency costs 5 generations per item; "
                "chain-of-thought up to 128 tokens each.</span>")
    return EvalChoices(task, limit, upload_row, upload, instruction, techniques)


def layout_results() -> EvalResults:
    status = gr.Markdown(elem_id="ev-status")
    with gr.Row():
        table = gr.Dataframe(headers=SCORE_HEADERS, interactive=False, elem_id="ev-table", scale=3)
        plot = gr.Plot(waiting("Press Evaluate: each technique's accuracy, with its 95% interval."), label="Accuracy",
                       scale=2, elem_id="ev-plot")
    with gr.Accordion("Every answer", open=False):
        items = gr.Dataframe(headers=ITEM_HEADERS, interactive=False, wrap=True, elem_id="ev-items")
    last = gr.State(None)
    with gr.Row():
        export_button = gr.Button("Export results (JSON)", size="sm")
        exported = gr.File(label="Results", visible=False, elem_id="ev-file")
    return EvalResults(status, table, plot, items, last, export_button, exported)


def layout_evaluate(model: gr.Dropdown, chat: gr.Checkbox, endpoints: gr.State,
                    sampling: SamplingControls) -> EvaluateView:
    choices = layout_choices()
    with gr.Row():
        run_button = gr.Button("Evaluate", variant="primary", elem_id="ev-run")
        stop_button = gr.Button("Stop", elem_id="ev-stop")
    return EvaluateView(model, chat, endpoints, sampling, choices, run_button, stop_button, layout_results())


@event_handler
def evaluate_in_page(engine: GenerationEngine, view: EvaluateView, values: dict[Any, Any]
                     ) -> Iterator[dict[Any, Any]]:
    yield from evaluate_outputs(engine, view, values)


def upload_row_update(name: str) -> gr.Row:
    """The upload's row shows only while "Upload my own set" is the chosen set."""
    return gr.Row(visible=name == UPLOAD)


def wire_evaluate(ws: Workspace, view: EvaluateView) -> None:
    choices, results = view.choices, view.results
    choices.task.change(upload_row_update, choices.task, choices.upload_row, api_visibility="undocumented")
    event = view.run_button.click(partial(evaluate_in_page, ws.generation, view), view.inputs, results.outputs,
                                  api_visibility="undocumented", concurrency_id=GENERATION_QUEUE,
                                  concurrency_limit=GENERATION_CONCURRENCY, show_progress="minimal",
                                  api_name="prompt_lab_page_evaluate")
    view.stop_button.click(None, cancels=[event], api_visibility="undocumented")
    wire_export(results.export_button, results.last, results.exported, "evaluation")


def build(ws: Workspace, model: gr.Dropdown, chat: gr.Checkbox, sampling: SamplingControls,
          session_endpoints: gr.State) -> None:
    """``chat`` is the lab's one chat-template checkbox: a second one here disagreed with it."""
    wire_evaluate(ws, layout_evaluate(model, chat, session_endpoints, sampling))
