"""The prompt-building fields (task, technique, instruction, input, examples, system, template).

Shared by the "Write a prompt" and "Side by side" views; converts them to a rendered prompt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gradio as gr

from playground.prompting import techniques as prompts
from playground.prompting.lab import CUSTOM_TASK, task_or_custom
from playground.prompting.techniques import Example, RenderedPrompt, Task

EXAMPLE_HEADERS = ["input", "output", "reasoning"]
START = prompts.technique("few-shot")
FIRST_TASK = next(iter(prompts.tasks()))


def example_rows(task: Task) -> list[list[str]]:
    return [[e.input, e.output, e.reasoning] for e in task.examples] or [["", "", ""]]


def examples_from_rows(rows: Any) -> list[Example]:
    """Dataframe rows to examples; blank rows (the editor's spare line) are skipped."""
    if rows is None:
        return []
    values = rows.values.tolist() if hasattr(rows, "values") else rows
    examples = []
    for row in values:
        cells = [str(cell or "").strip() for cell in (list(row) + ["", "", ""])[:3]]
        if cells[0] or cells[1]:
            examples.append(Example(*cells))
    return examples


def render_fields(task_name: str, technique_name: str, instruction: str, input_text: str,
                  examples: Any, system: str, template: str) -> RenderedPrompt:
    """The prompt the fields describe: the edited template and system text, filled."""
    task = task_or_custom(task_name)
    values = {**task.variables(input_text or ""), "instruction": instruction or ""}
    return prompts.render(prompts.technique(technique_name), values, examples_from_rows(examples),
                          template=template, system=system)


@dataclass(frozen=True)
class PromptFields:
    task: gr.Dropdown
    technique: gr.Dropdown
    description: gr.Markdown
    instruction: gr.Textbox
    input: gr.Textbox
    examples: gr.Dataframe
    system: gr.Textbox
    template: gr.Textbox

    @property
    def inputs(self) -> list[gr.components.Component]:
        return [self.task, self.technique, self.instruction, self.input, self.examples, self.system,
                self.template]

    def rendered_from(self, values: Mapping[Any, Any]) -> RenderedPrompt:
        """The prompt these fields describe, read from an event's values keyed by component."""
        return render_fields(values[self.task], values[self.technique], values[self.instruction],
                             values[self.input], values[self.examples], values[self.system], values[self.template])


def stop_text(task_name: str, technique_name: str) -> str:
    """The technique's stop strings for the task, written as the stop box shows them."""
    task = task_or_custom(task_name)
    stops = [prompts.fill(stop, task.variables("")) for stop in prompts.technique(technique_name).stop]
    return "\n".join(stop.replace("\n", "\\n").replace("\t", "\\t") for stop in stops)


def build_prompt_fields(chat: gr.Checkbox, stop: gr.Textbox, penalty: gr.Slider) -> PromptFields:
    first_task, start = prompts.task(FIRST_TASK), START
    task_choices = [(t.title, t.name) for t in prompts.tasks().values()] + [("Custom", CUSTOM_TASK)]
    technique_choices = [(t.title, t.name) for t in prompts.techniques().values()]
    with gr.Row():
        task = gr.Dropdown(task_choices, value=first_task.name, label="Task", elem_id="pl-task")
        technique = gr.Dropdown(technique_choices, value=start.name, label="Technique",
                                elem_id="pl-technique")
    description = gr.Markdown(f"*{start.description}*")
    instruction = gr.Textbox(first_task.instruction, label="Instruction  {{instruction}}", lines=1)
    input_text = gr.Textbox(first_task.sample, label="Input  {{input}}", lines=3, elem_id="pl-input")
    with gr.Accordion("Few-shot examples  {{examples}}  (edit, add or delete rows)", open=False):
        examples = gr.Dataframe(example_rows(first_task), headers=EXAMPLE_HEADERS, type="array",
                                interactive=True, column_count=3, wrap=True, elem_id="pl-examples")
    with gr.Accordion("Template and system prompt (editable; variables are written {{name}})", open=False):
        system = gr.Textbox(start.system, label="System prompt (empty = the model's default)", lines=2)
        template = gr.Textbox(start.template, label="Template", lines=6, elem_id="pl-template")
    fields = PromptFields(task, technique, description, instruction, input_text, examples, system, template)
    wire_presets(fields, chat, stop, penalty)
    return fields


def wire_presets(fields: PromptFields, chat: gr.Checkbox, stop: gr.Textbox, penalty: gr.Slider) -> None:
    """Choosing a task fills its instruction, sample, examples and repetition penalty; a technique, its
    texts, its stop strings and whether it reads best with the chat template. All stay editable."""

    def on_task(name: str, technique_name: str) -> tuple[str, str, list[list[str]], str, float]:
        task = task_or_custom(name)
        return (task.instruction, task.sample, example_rows(task), stop_text(name, technique_name),
                task.repetition_penalty)

    def on_technique(name: str, task_name: str) -> tuple[str, str, str, bool, str]:
        chosen = prompts.technique(name)
        return (chosen.template, chosen.system, f"*{chosen.description}*", chosen.chat,
                stop_text(task_name, name))

    fields.task.change(on_task, [fields.task, fields.technique],
                       [fields.instruction, fields.input, fields.examples, stop, penalty],
                       api_visibility="undocumented")
    fields.technique.change(on_technique, [fields.technique, fields.task],
                            [fields.template, fields.system, fields.description, chat, stop],
                            api_visibility="undocumented")
