"""The sampling settings every generating tab shows, and their conversion to the library's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gradio as gr

from playground.generation.sampling import DEFAULT_REPETITION_PENALTY, MAX_NEW_TOKENS_LIMIT, SamplingSettings


@dataclass(frozen=True)
class SamplingControls:
    max_new_tokens: gr.Slider
    temperature: gr.Slider
    top_k: gr.Slider
    top_p: gr.Slider
    repetition_penalty: gr.Slider
    seed: gr.Number
    stop: gr.Textbox
    penalize_prompt: gr.Checkbox

    @property
    def inputs(self) -> list[gr.components.Component]:
        return [self.max_new_tokens, self.temperature, self.top_k, self.top_p, self.repetition_penalty,
                self.seed, self.stop, self.penalize_prompt]

    def settings_from(self, values: Mapping[Any, Any], alternatives: int = 5) -> SamplingSettings:
        """The settings these controls show, read from an event's values keyed by component."""
        return to_settings(values[self.max_new_tokens], values[self.temperature], values[self.top_k],
                           values[self.top_p], values[self.repetition_penalty], values[self.seed],
                           values[self.stop], values[self.penalize_prompt], alternatives)


def build_sampling_controls(max_new_tokens: int = 96, prefix: str = "gen", stop: str = "",
                            repetition_penalty: float = DEFAULT_REPETITION_PENALTY) -> SamplingControls:
    """Sliders inside the caller's layout; ``prefix`` keeps element ids unique per tab."""
    with gr.Row():
        new_tokens = gr.Slider(1, min(1024, MAX_NEW_TOKENS_LIMIT), value=max_new_tokens, step=1,
                               label="Max new tokens", elem_id=f"{prefix}-max-new")
        temperature = gr.Slider(0, 2, value=0, step=0.05, label="Temperature (0 = greedy)",
                                elem_id=f"{prefix}-temperature")
        seed = gr.Number(0, precision=0, minimum=0, label="Seed (sampling is reproducible)",
                         elem_id=f"{prefix}-seed")
    with gr.Row():
        top_k = gr.Slider(0, 200, value=0, step=1, label="Top-k (0 = off)")
        top_p = gr.Slider(0.05, 1, value=1, step=0.01, label="Top-p (1 = off)")
        penalty = gr.Slider(0.5, 2, value=repetition_penalty, step=0.05, elem_id=f"{prefix}-penalty",
                            label="Repetition penalty (1 = off; the lab's tasks set it, see the notes)")
    with gr.Row():
        stops = gr.Textbox(stop, label="Stop strings, one per line (\\n for a newline)", lines=1,
                           max_lines=4, placeholder="e.g. \\n\\n or ###", elem_id=f"{prefix}-stop", scale=2)
        penalize_prompt = gr.Checkbox(False, label="Penalty also counts the prompt's tokens", scale=1,
                                      info="transformers' generate() does; it punishes answers a "
                                           "few-shot prompt shows (hover a token to see it happen).")
    return SamplingControls(new_tokens, temperature, top_k, top_p, penalty, seed, stops, penalize_prompt)


def parse_stops(text: str | None) -> tuple[str, ...]:
    r"""One stop string per line; ``\n`` and ``\t`` written out become the characters."""
    lines = (text or "").splitlines()
    return tuple(line.replace("\\n", "\n").replace("\\t", "\t") for line in lines if line)


def to_settings(max_new_tokens: float, temperature: float, top_k: float, top_p: float,
                repetition_penalty: float, seed: float | None, stop: str | None,
                penalize_prompt: bool = False, alternatives: int = 5) -> SamplingSettings:
    """Widget values to validated settings. Numbers pass as they are: the settings accept 128.0 as
    128 and refuse 32.5 by the library's one rule, rather than ``int()`` quietly making it 32."""
    return SamplingSettings(max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                            repetition_penalty=repetition_penalty, seed=0 if seed is None else seed,
                            stop=parse_stops(stop), alternatives=alternatives,
                            penalize_prompt=bool(penalize_prompt))
