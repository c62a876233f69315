"""Structured output, shown: a request held to a JSON schema, a regex or a choice list beside the same
request left free (playground.prompting.structured). Layout, translation (keyed by component) and wiring.

Endpoint: ``/generate_structured``.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr
import plotly.graph_objects as go

from playground.core.iterutil import last
from playground.generation.sampling import SamplingSettings
from playground.prompting.structured import (
    EXAMPLE_PROMPT,
    EXAMPLE_SCHEMA,
    MAX_FREE_SAMPLES,
    StructuredRequest,
    StructuredState,
    constraint_of,
    run_structured,
)
from playground.workspace import Workspace
from tabs.shared.common import event_handler, read_asset
from tabs.shared.figures import waiting
from tabs.shared.queues import GENERATION_CONCURRENCY, GENERATION_QUEUE

QUEUE = dict(concurrency_id=GENERATION_QUEUE, concurrency_limit=GENERATION_CONCURRENCY)
KINDS = {"JSON schema": "json_schema", "Regex": "regex", "Choices (one per line)": "choice"}
EXAMPLES = {"json_schema": EXAMPLE_SCHEMA, "regex": r"[0-9]{4}-[0-9]{2}-[0-9]{2}",
            "choice": "positive\nnegative\nneutral"}
STEP_COLUMNS = ["step", "token", "allowed", "removed top choices (probability)"]


@dataclass(frozen=True)
class StructuredView:
    lab_model: gr.Dropdown
    endpoints: gr.State
    kind: gr.Radio
    spec: gr.Code
    prompt: gr.Textbox
    max_new_tokens: gr.Slider
    temperature: gr.Slider
    free_samples: gr.Slider
    run: gr.Button
    stop: gr.Button
    summary: gr.Markdown
    constrained: gr.HTML
    free: gr.HTML
    plot: gr.Plot
    steps: gr.Dataframe


def request_from(view: StructuredView, values: dict[Any, Any]) -> StructuredRequest:
    """Always through the model's chat template, as /generate_structured: the lab's checkbox follows Write a
    prompt's technique, and fed raw, the page's request came back as JSON about "Lloyd_Alderbold"."""
    settings = SamplingSettings(max_new_tokens=values[view.max_new_tokens], temperature=values[view.temperature])
    return StructuredRequest(values[view.lab_model], values[view.prompt],
                             constraint_of(KINDS.get(values[view.kind], ""), values[view.spec]), settings,
                             free_samples=int(values[view.free_samples]))


def flag(ok: bool) -> str:
    return "✓" if ok else "✗"


def summary_markdown(result: dict[str, Any], done: bool) -> str:
    running = "" if done else " (running…)"
    lines = [f"**Constrained**{running}: parses {flag(result['parses'])} · fits {flag(result['valid'])} · "
             f"{result['tokens_out']} tokens · grammar {result['grammar_seconds'] * 1000:.1f} ms of "
             f"{result['seconds']:.2f} s"]
    if result["free"]:
        rate = result["free_parse_rate"]
        lines.append(f"**Free**: {sum(f['parses'] for f in result['free'])} of {len(result['free'])} parse "
                     f"({rate:.0%}), {sum(f['valid'] for f in result['free'])} fit the constraint")
    lines += [f"- {html.escape(notice)}" for notice in result["notices"]]
    if result.get("errors"):
        lines.append(f"Why not: {html.escape('; '.join(result['errors'][:3]))}")
    return "\n\n".join(lines)


def output_html(text: str, ok: bool) -> str:
    return f'<pre class="structured-output {"ok" if ok else "broken"}">{html.escape(text) or "&nbsp;"}</pre>'


def free_html(result: dict[str, Any]) -> str:
    return "".join(f'<div class="structured-free">draw {index + 1} (seed {free["settings"]["seed"]}): parses '
                   f'{flag(free["parses"])}{output_html(free["output"], free["valid"])}</div>'
                   for index, free in enumerate(result["free"])) or "<i>no free draw asked for</i>"


def step_rows(result: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for index, (token, allowed, removed) in enumerate(zip(result["tokens"], result["allowed_counts"],
                                                           result["removed"], strict=False), start=1):
        taken = ", ".join(f"{alt['text']!r} ({alt['prob']:.1%})" for alt in removed) or "none"
        rows.append([index, repr(token["text"]), allowed, taken])
    return rows


def allowed_plot(result: dict[str, Any]) -> go.Figure:
    """How many tokens the grammar allowed at each step (log scale: from one to the whole vocabulary)."""
    counts = result["allowed_counts"]
    figure = go.Figure(go.Scatter(x=list(range(1, len(counts) + 1)), y=counts, mode="lines+markers",
                                  hovertext=[t["text"] for t in result["tokens"]]))
    figure.update_layout(height=260, margin=dict(l=40, r=10, t=30, b=30), title="Tokens the grammar allowed",
                         xaxis_title="step", yaxis_title="allowed", yaxis_type="log")
    return figure


def outputs_of(view: StructuredView, state: StructuredState) -> dict[Any, Any]:
    result = state.result()
    updates = {view.summary: summary_markdown(result, state.done),
               view.constrained: output_html(result["output"], result["valid"]), view.free: free_html(result),
               view.steps: step_rows(result)}
    if state.done:
        updates[view.plot] = allowed_plot(result)
    return updates


def run_outputs(ws: Workspace, view: StructuredView, values: dict[Any, Any]) -> Iterator[dict[Any, Any]]:
    """The page's "Generate": both sides streamed, redrawn at every step; the plot once it is done."""
    engine = ws.generation.with_endpoints(values[view.endpoints])
    for state in run_structured(engine, request_from(view, values)):
        yield outputs_of(view, state)


def layout(lab_model: gr.Dropdown, endpoints: gr.State) -> StructuredView:
    gr.Markdown("**Structured output.** A grammar (here llguidance) masks, at every step, the tokens that would "
                "break a JSON schema, a regex or a list of choices; the model chooses among the rest. The same "
                "request runs free beside it, in the same batch, so you see how often the model gets the format "
                "right on its own, and what the grammar took away from it. Both are replies to your prompt through "
                "the model's chat template.")
    with gr.Row():
        with gr.Column():
            kind = gr.Radio(list(KINDS), value="JSON schema", label="Constraint", elem_id="so-kind")
            spec = gr.Code(EXAMPLE_SCHEMA, language="json", label="Schema, regex or choices", elem_id="so-spec")
        with gr.Column():
            prompt = gr.Textbox(EXAMPLE_PROMPT, label="Prompt", lines=3, elem_id="so-prompt")
            max_new_tokens = gr.Slider(8, 512, value=96, step=8, label="New tokens", elem_id="so-tokens")
            temperature = gr.Slider(0, 1.5, value=0, step=0.1, label="Temperature (0 = greedy)", elem_id="so-temp")
            free_samples = gr.Slider(0, MAX_FREE_SAMPLES, value=1, step=1, elem_id="so-free",
                                     label="Free draws to compare (each its own seed; sample to see a parse rate)")
            with gr.Row():
                run = gr.Button("Generate both", variant="primary", elem_id="so-run")
                stop = gr.Button("Stop", elem_id="so-stop")
    summary = gr.Markdown(elem_id="so-summary")
    with gr.Row():
        with gr.Column():
            gr.Markdown("Constrained")
            constrained = gr.HTML(elem_id="so-constrained")
        with gr.Column():
            gr.Markdown("Free")
            free = gr.HTML(elem_id="so-free-output")
    plot = gr.Plot(waiting("Press “Generate both”: how many tokens the grammar allowed at each step."),
                   show_label=False, elem_id="so-plot")
    steps = gr.Dataframe(headers=STEP_COLUMNS, label="Each step: what the grammar allowed and removed",
                         interactive=False, wrap=True, elem_id="so-steps")
    with gr.Accordion("What a grammar does to the distribution", open=False):
        gr.Markdown(read_asset("notes", "structured.md"))
    kind.change(lambda chosen: EXAMPLES[KINDS[chosen]], kind, spec, api_visibility="undocumented")
    return StructuredView(lab_model, endpoints, kind, spec, prompt, max_new_tokens, temperature, free_samples,
                          run, stop, summary, constrained, free, plot, steps)


def register_api(ws: Workspace) -> None:
    @event_handler
    def generate_structured(prompt: str, model: str, schema_or_regex: str, max_new_tokens: int = 128,
                            kind: str = "", temperature: float = 0.0, free_samples: int = 1) -> dict:
        """Generate held to a JSON schema, a regex or a choice list (`kind` json_schema, regex or choice; ""
        guesses: a JSON object is a schema, a JSON list the choices, anything else a regex), beside
        `free_samples` free draws in the same batch: the /generate_tokens result plus `{valid, parses, errors,
        allowed_counts, removed, grammar_seconds, constraint, free: [{output, parses, valid, ...}],
        free_parse_rate, free_valid_rate}`. An endpoint model gets the schema as `response_format`."""
        settings = SamplingSettings(max_new_tokens=max_new_tokens, temperature=temperature)
        request = StructuredRequest(model, prompt, constraint_of(kind, schema_or_regex), settings,
                                    free_samples=int(free_samples))
        final = last(run_structured(ws.generation, request))
        return final.result() if final is not None else {}

    gr.api(generate_structured, api_name="generate_structured", **QUEUE)


def build(ws: Workspace, lab_model: gr.Dropdown, endpoints: gr.State) -> None:
    view = layout(lab_model, endpoints)

    @event_handler
    def run_in_page(values: dict[Any, Any]) -> Iterator[dict[Any, Any]]:
        yield from run_outputs(ws, view, values)

    inputs = {view.lab_model, view.endpoints, view.kind, view.spec, view.prompt, view.max_new_tokens,
              view.temperature, view.free_samples}
    event = view.run.click(run_in_page, inputs, [view.summary, view.constrained, view.free, view.plot, view.steps],
                           api_name="structured_page_run", api_visibility="undocumented", show_progress="minimal",
                           **QUEUE)
    view.stop.click(None, cancels=[event], api_visibility="undocumented")
    register_api(ws)
