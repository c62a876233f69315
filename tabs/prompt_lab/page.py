"""Prompt lab tab: techniques as templates, streamed generation with token probabilities,
prompts side by side, and evaluation on labelled sets.

Endpoints (see ``tabs/prompt_lab/api.py``): ``/generate``, ``/generate_tokens``, ``/compare_prompts``,
``/prompt_techniques``, ``/render_prompt``, ``/evaluate_prompts``; ``/generate_speculative``
(``tabs/prompt_lab/speculative.py``); ``/run_agent``, ``/evaluate_agent`` (``tabs/prompt_lab/agent.py``);
``/generate_structured`` (``tabs/prompt_lab/structured.py``).
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr

from playground.core.progress import ProgressFn
from playground.generation.engine import GenerationEngine
from playground.generation.request import Generation, PreparedPrompt
from playground.generation.snippets import endpoint_code, generation_code
from playground.prompting import techniques as prompts
from playground.prompting.answers import Vote
from playground.prompting.lab import PromptRequest, run_prompt, task_or_custom
from playground.prompting.self_consistency import PathsState
from playground.workspace import Workspace
from tabs.prompt_lab import agent as prompt_agent
from tabs.prompt_lab import api as prompt_api
from tabs.prompt_lab import endpoints as prompt_endpoints
from tabs.prompt_lab import evaluate as prompt_eval
from tabs.prompt_lab import side_by_side as prompt_compare
from tabs.prompt_lab import speculative as prompt_speculative
from tabs.prompt_lab import structured as prompt_structured
from tabs.prompt_lab import vote as prompt_vote
from tabs.prompt_lab.fields import (
    FIRST_TASK,
    START,
    PromptFields,
    build_prompt_fields,
    stop_text,
)
from tabs.shared import generation_view
from tabs.shared.common import event_handler, progress_callback, read_asset
from tabs.shared.queues import GENERATION_CONCURRENCY, GENERATION_QUEUE
from tabs.shared.sampling_controls import (
    SamplingControls,
    build_sampling_controls,
)

UPDATE_SECONDS = 0.08
"""Redraw at most this often while streaming: every token would resend the whole HTML."""

def throttled(stream: Iterator[Generation | PathsState]) -> Iterator[Generation | PathsState]:
    """Pass on the stream's states (a generation, or self-consistency's paths), skipping redraws closer
    than ``UPDATE_SECONDS``; the last state and every change of place in line always pass."""
    last = 0.0
    for state in stream:
        generations = state.generations if isinstance(state, PathsState) else [state]
        now = time.monotonic()
        if (all(g.done for g in generations) or any(g.queue_position for g in generations)
                or now - last >= UPDATE_SECONDS):
            last = now
            yield state


def render_paths(state: PathsState) -> str:
    """Self-consistency on the page: the paths side by side while they decode, then the vote above them."""
    if state.vote is None:
        return "".join(path_block(index, settings.seed, g) for index, (settings, g)
                       in enumerate(zip(state.settings, state.generations, strict=True)))
    paths = "".join(f"<details><summary>Path {index + 1}: answer <b>{html.escape(str(answer))}</b>"
                    f"</summary>{generation_view.render_tokens(g)}</details>"
                    for index, (answer, g) in enumerate(zip(state.vote.answers, state.generations, strict=True)))
    return vote_summary(state.vote, state.temperature) + paths


def render_state(state: Generation | PathsState) -> str:
    return render_paths(state) if isinstance(state, PathsState) else generation_view.render_generation(state)


def path_block(index: int, seed: int, generation: Generation) -> str:
    """One path while the paths decode side by side."""
    return f"<b>Path {index + 1}</b> (seed {seed})" + generation_view.render_generation(generation)


def vote_summary(result: Vote, temperature: float) -> str:
    """The vote as the page shows it above the paths."""
    counts = ", ".join(f"{html.escape(str(answer))}: {count}" for answer, count in result.counts.items())
    return (f'<div class="gen-votes">🗳️ Majority answer: <b>{html.escape(str(result.answer))}</b> '
            f"(votes: {counts}; temperature {temperature})</div>")


def preview_label(use_chat: bool) -> str:
    """The preview's title says what the model reads: the template's wrapping only when it is on."""
    return ("The prompt as the model reads it (chat template included)" if use_chat else
            "The prompt as the model reads it (plain text: the chat template is off)")


def prepared_summary(prepared: PreparedPrompt) -> str:
    """The preview's line above the prompt: what is sent, and how big it is."""
    notes = "".join(f" · ⚠️ {n}" for n in prepared.notices)
    if prepared.messages is not None:
        return (f"**Sent to the endpoint as chat messages** (it applies its own chat template) · "
                f"{len(prepared.text):,} characters{notes}")
    if not prepared.ids:  # an endpoint model without the chat template: the server tokenizes
        return (f"**Sent to the endpoint as plain text** (its server tokenizes it) · "
                f"{len(prepared.text):,} characters{notes}")
    return f"**{len(prepared.ids):,} tokens in** · {len(prepared.text):,} characters{notes}"


@dataclass(frozen=True)
class WriteView:
    """The "Write a prompt" view's components (layout), which its translation and wiring refer to."""

    model: gr.Dropdown
    chat: gr.Checkbox
    endpoints: gr.State
    sampling: SamplingControls
    fields: PromptFields
    preview_count: gr.Markdown
    preview: gr.Textbox
    run_button: gr.Button
    stop_button: gr.Button
    output: gr.HTML
    code: gr.Code

    @property
    def prompt_inputs(self) -> set[Any]:
        return {self.endpoints, self.model, self.chat, *self.fields.inputs}


def preview_outputs(engine: GenerationEngine, view: WriteView, values: dict[Any, Any]) -> dict[Any, str]:
    """Live preview; problems (a missing variable) show in place instead of popping up."""
    try:
        rendered = view.fields.rendered_from(values)
        prepared = engine.with_endpoints(values[view.endpoints]).prepare(
            values[view.model], rendered.prompt, 1, system=rendered.system or None, chat=values[view.chat])
    except Exception as error:  # noqa: BLE001 - shown in the page, next to the prompt
        return {view.preview_count: f"⚠️ {error}", view.preview: ""}
    return {view.preview_count: prepared_summary(prepared), view.preview: prepared.text}


def generate_outputs(engine: GenerationEngine, view: WriteView, values: dict[Any, Any],
                     progress: ProgressFn | None = None) -> Iterator[dict[Any, str]]:
    """The page's "Generate": the request the widgets describe, run by the library, rendered as it streams."""
    engine = engine.with_endpoints(values[view.endpoints])
    model_name, use_chat = values[view.model], values[view.chat]
    settings, rendered = view.sampling.settings_from(values), view.fields.rendered_from(values)
    located = engine.locate(model_name)
    snippet = (endpoint_code(*located, rendered.prompt, settings, rendered.system, use_chat) if located
               else generation_code(model_name, rendered.prompt, settings, rendered.system, use_chat))
    request = PromptRequest(model_name, rendered, settings, prompts.technique(values[view.fields.technique]),
                            task_or_custom(values[view.fields.task]), use_chat)
    for state in throttled(run_prompt(engine, request, progress)):
        yield {view.output: render_state(state), view.code: snippet}


def layout_write(model: gr.Dropdown, chat: gr.Checkbox, endpoints: gr.State,
                 sampling: SamplingControls) -> WriteView:
    fields = build_prompt_fields(chat, sampling.stop, sampling.repetition_penalty)
    preview_count = gr.Markdown(elem_id="pl-count")
    preview = gr.Textbox(label=preview_label(START.chat), lines=6, max_lines=14, interactive=False,
                         elem_id="pl-preview")
    with gr.Row():
        run_button = gr.Button("Generate", variant="primary", elem_id="pl-generate")
        stop_button = gr.Button("Stop", elem_id="pl-stop")
    output = gr.HTML(elem_id="pl-output")
    with gr.Accordion("Show code: the transformers script that reproduces this", open=False):
        code = gr.Code(language="python", elem_id="pl-code")
    return WriteView(model, chat, endpoints, sampling, fields, preview_count, preview, run_button, stop_button,
                     output, code)


def wire_write(ws: Workspace, app: gr.Blocks, view: WriteView) -> None:
    preview = dict(fn=lambda values: preview_outputs(ws.generation, view, values), inputs=view.prompt_inputs,
                   outputs=[view.preview_count, view.preview], api_visibility="undocumented")
    for component in (view.model, view.chat, *view.fields.inputs):
        component.change(**preview, trigger_mode="always_last", show_progress="hidden")
    app.load(**preview)
    view.chat.change(lambda use_chat: gr.Textbox(label=preview_label(use_chat)), view.chat, view.preview,
                     api_visibility="undocumented", show_progress="hidden")

    @event_handler
    def generate_in_page(values: dict[Any, Any], progress: gr.Progress = gr.Progress()
                         ) -> Iterator[dict[Any, str]]:
        yield from generate_outputs(ws.generation, view, values, progress_callback(progress))

    event = view.run_button.click(generate_in_page, {*view.prompt_inputs, *view.sampling.inputs},
                                  [view.output, view.code], api_visibility="undocumented",
                                  api_name="prompt_lab_page_generate", concurrency_id=GENERATION_QUEUE,
                                  concurrency_limit=GENERATION_CONCURRENCY, show_progress="minimal")
    view.stop_button.click(None, cancels=[event], api_visibility="undocumented")


def build(ws: Workspace, app: gr.Blocks) -> None:
    with gr.Row():
        model = gr.Dropdown([ws.settings.default_model], value=ws.settings.default_model,
                            allow_custom_value=True, scale=2, elem_id="pl-model",
                            label="Model (embedded, Hub id, local folder or endpoint:model-id; causal only)")
        chat = gr.Checkbox(START.chat, label="Use the model's chat template", scale=1, elem_id="pl-chat",
                           info="Off: the model continues your text as it is (best for templates "
                                "ending in “Answer:”). On: your prompt is a user turn it answers. Votes, "
                                "tools and structured output are always user turns.")
    session_endpoints = prompt_endpoints.build(ws, app, model)
    with gr.Accordion("Sampling settings", open=False):
        sampling = build_sampling_controls(stop=stop_text(FIRST_TASK, START.name),
                                           repetition_penalty=task_or_custom(FIRST_TASK).repetition_penalty)
    with gr.Tabs():
        with gr.Tab("Write a prompt", id="pl-write"):
            view = layout_write(model, chat, session_endpoints, sampling)
        with gr.Tab("Side by side", id="pl-compare"):
            prompt_compare.build(ws, model, chat, sampling, view.fields, session_endpoints)
        with gr.Tab("Evaluate", id="pl-evaluate"):
            prompt_eval.build(ws, model, chat, sampling, session_endpoints)
        with gr.Tab("Which answer is better?", id="pl-vote"):
            prompt_vote.build(ws, app, model)
        with gr.Tab("Faster decoding", id="pl-speculative"):
            prompt_speculative.build(ws, model, chat)
        with gr.Tab("Tools and ReAct", id="pl-agent"):
            prompt_agent.build(ws, model, session_endpoints)
        with gr.Tab("Structured output", id="pl-structured"):
            prompt_structured.build(ws, model, session_endpoints)
        with gr.Tab("How prompting works", id="pl-notes"):
            gr.Markdown(read_asset("notes", "prompting.md"))
    wire_write(ws, app, view)
    prompt_api.register_api(ws)
