"""Tab translation is keyed by component, so it is tested by calling it with a dict, without launching Gradio."""

from __future__ import annotations

import gradio as gr

from playground.generation.sampling import SamplingSettings
from playground.prompting import techniques as prompts
from tabs.prompt_lab.fields import PromptFields
from tabs.shared.sampling_controls import SamplingControls


def test_prompt_fields_and_sampling_controls_read_values_keyed_by_component():
    fields = PromptFields(gr.Dropdown(), gr.Dropdown(), gr.Markdown(), gr.Textbox(), gr.Textbox(), gr.Dataframe(),
                          gr.Textbox(), gr.Textbox())
    controls = SamplingControls(gr.Slider(), gr.Slider(), gr.Slider(), gr.Slider(), gr.Slider(), gr.Number(),
                                gr.Textbox(), gr.Checkbox())
    technique = prompts.technique("zero-shot")
    values = {fields.task: "custom", fields.technique: "zero-shot", fields.instruction: "Be brief.",
              fields.input: "Why is the sky blue?", fields.examples: [], fields.system: "",
              fields.template: technique.template,
              controls.max_new_tokens: 12.0, controls.temperature: 0.5, controls.top_k: 0, controls.top_p: 0.9,
              controls.repetition_penalty: 1.0, controls.seed: 7, controls.stop: "\\n\\n###",
              controls.penalize_prompt: True}
    rendered = fields.rendered_from(dict(reversed(values.items())))  # the order of the values does not matter
    assert "Why is the sky blue?" in rendered.prompt and "Be brief." in rendered.prompt
    assert controls.settings_from(values) == SamplingSettings(
        max_new_tokens=12, temperature=0.5, top_p=0.9, repetition_penalty=1.0, seed=7, stop=("\n\n###",),
        penalize_prompt=True)
