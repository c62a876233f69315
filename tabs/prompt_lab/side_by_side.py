"""Side by side: 2 to 4 prompts (or one prompt on several models) streamed into columns."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

from playground.generation.engine import GenerationEngine
from playground.generation.sampling import SamplingSettings
from playground.generation.side_by_side import MAX_VARIANTS, Comparison, Variant, compare
from playground.prompting import techniques as prompts
from playground.prompting.lab import task_or_custom
from playground.workspace import Workspace
from tabs.prompt_lab.fields import FIRST_TASK, PromptFields, example_rows, render_fields
from tabs.shared import generation_view
from tabs.shared.common import event_handler, wire_export
from tabs.shared.queues import GENERATION_CONCURRENCY, GENERATION_QUEUE
from tabs.shared.sampling_controls import SamplingControls

SUMMARY_HEADERS = ["Variant", "Model", "Tokens in", "Tokens out", "First token (ms)", "Tokens/s",
                   "Seconds", "Finish"]
STARTERS = ("zero-shot", "few-shot", "chain-of-thought", "role")


def summary_rows(state: Comparison) -> list[list[Any]]:
    rows = []
    for index, run in enumerate(state.runs):
        data = run.to_dict()
        first, speed = data.get("first_token_seconds"), data.get("tokens_per_second")
        rows.append([index + 1, run.variant.model, data["tokens_in"], data["tokens_out"],
                     round(first * 1000) if first else None, round(speed, 1) if speed else None,
                     round(data["seconds"], 2), run.error or data.get("finish_reason") or "running"])
    return rows


def build(ws: Workspace, model: gr.Dropdown, chat: gr.Checkbox, sampling: SamplingControls,
          fields: PromptFields, session_endpoints: gr.State) -> None:
    gr.Markdown("Run 2 to 4 prompts together, or the same prompt on different models. Columns on one "
                "model are decoded together, one forward pass per token for all of them, so they fill at "
                "the same pace; each column's timings are its own answer's. "
                "**Fill** writes the chosen technique's prompt for the task and input of "
                "*Write a prompt* into that box.")
    count = gr.Radio([2, 3, 4], value=2, label="Variants", elem_id="cmp-count")
    technique_choices = [(t.title, t.name) for t in prompts.techniques().values()]
    prompts_boxes, models, columns = [], [], []
    with gr.Row():
        for index in range(MAX_VARIANTS):
            with gr.Column(visible=index < 2, min_width=220) as column:
                box = gr.Textbox(starter_prompt(STARTERS[index]), label=f"Prompt {index + 1}", lines=8,
                                 max_lines=8, elem_id=f"cmp-prompt-{index}")  # equal heights keep the rows level
                variant_model = gr.Textbox(label="Model (blank = the lab's; endpoint:model-id too)", max_lines=1,
                                           elem_id=f"cmp-model-{index}")
                with gr.Row(elem_classes="cmp-fill-row"):
                    starter = gr.Dropdown(technique_choices, value=STARTERS[index], label="Technique",
                                          min_width=120, scale=3, elem_id=f"cmp-technique-{index}")
                    fill = gr.Button("Fill", scale=1, min_width=60, elem_id=f"cmp-fill-{index}")
                fill.click(filler(starter, fields),
                           {starter, fields.task, fields.instruction, fields.input, fields.examples}, box,
                           api_visibility="undocumented")
            prompts_boxes.append(box)
            models.append(variant_model)
            columns.append(column)
    with gr.Row():
        run_button = gr.Button("Run all", variant="primary", elem_id="cmp-run")
        stop_button = gr.Button("Stop", elem_id="cmp-stop")
    status = gr.Markdown(elem_id="cmp-status")
    output = gr.HTML(elem_id="cmp-output")
    summary = gr.Dataframe(headers=SUMMARY_HEADERS, interactive=False, elem_id="cmp-summary")
    last = gr.State(None)
    with gr.Row():
        export_button = gr.Button("Export comparison (JSON)", size="sm", elem_id="cmp-export")
        exported = gr.File(label="Comparison", visible=False, elem_id="cmp-file")

    @event_handler
    def run_all(values: dict[Any, Any]) -> Iterator[tuple[str, str, list[list[Any]], dict[str, Any] | None]]:
        shown = list(zip(prompts_boxes, models, strict=True))[: int(values[count])]
        variants = [Variant(values[box] or "", (values[name] or "").strip() or values[model]) for box, name in shown]
        engine = ws.generation.with_endpoints(values[session_endpoints])
        yield from compare_outputs(engine, variants, sampling.settings_from(values), values[chat])

    count.change(lambda shown: [gr.Column(visible=i < int(shown)) for i in range(MAX_VARIANTS)],
                 count, columns, api_visibility="undocumented")
    event = run_button.click(run_all, {session_endpoints, model, chat, count, *prompts_boxes, *models,
                                       *sampling.inputs},
                             [status, output, summary, last], api_visibility="undocumented",
                             concurrency_id=GENERATION_QUEUE, concurrency_limit=GENERATION_CONCURRENCY,
                             show_progress="minimal", api_name="prompt_lab_page_compare")
    stop_button.click(None, cancels=[event], api_visibility="undocumented")
    wire_export(export_button, last, exported, "comparison")


def compare_outputs(engine: GenerationEngine, variants: list[Variant], settings: SamplingSettings, chat: bool
                    ) -> Iterator[tuple[str, str, list[list[Any]], dict[str, Any] | None]]:
    """The columns as they stream (status, columns, summary), then the comparison to export."""
    state = None
    for state in compare(engine, variants, settings, chat=chat):
        waiting = (f"⏳ Waiting for the model: {state.queue_position} request(s) ahead of you."
                   if state.queue_position else "")
        yield waiting, generation_view.render_columns(state.runs), summary_rows(state), None
    if state is not None:
        yield "", generation_view.render_columns(state.runs), summary_rows(state), state.to_dict()


def filler(starter: gr.Dropdown, fields: PromptFields) -> Callable[[dict[Any, Any]], str]:
    """A Fill button's handler: its own technique dropdown, the shared prompt fields."""
    return lambda values: fill_from_fields(values[starter], fields, values)


def fill_from_fields(technique_name: str, fields: PromptFields, values: dict[Any, Any]) -> str:
    """Fill: the technique's prompt for the task, instruction, input and examples of *Write a prompt*."""
    return fill_from_technique(technique_name, values[fields.task], values[fields.instruction],
                               values[fields.input], values[fields.examples])


def starter_prompt(technique_name: str, task_name: str = FIRST_TASK) -> str:
    """What a box starts with: its technique's prompt for the lab's first task and its sample input, so
    "Run all" compares techniques at once instead of running empty boxes."""
    task = task_or_custom(task_name)
    return fill_from_technique(technique_name, task_name, task.instruction, task.sample, example_rows(task))


@event_handler
def fill_from_technique(technique_name: str, task_name: str, instruction: str, input_text: str,
                        examples: Any) -> str:
    """The technique's own template and system text for the lab's task and input."""
    technique = prompts.technique(technique_name)
    rendered = render_fields(task_name, technique_name, instruction, input_text, examples,
                             technique.system, technique.template)
    return (f"{rendered.system}\n\n{rendered.prompt}" if rendered.system else rendered.prompt)
