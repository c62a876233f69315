"""Faster decoding, shown: prompt-lookup speculative decoding beside plain greedy decoding
(playground.generation.speculative). Layout, translation (keyed by component) and wiring.

Endpoint: ``/generate_speculative``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import partial
from typing import Any

import gradio as gr

from playground.core.errors import InvalidInputError
from playground.generation.speculative import SpeculativeRequest, speculative
from playground.workspace import Workspace
from tabs.shared.common import event_handler
from tabs.shared.queues import GENERATION_CONCURRENCY, GENERATION_QUEUE

QUEUE = dict(concurrency_id=GENERATION_QUEUE, concurrency_limit=GENERATION_CONCURRENCY)
START = ("The shopping list is: apples, pears, plums, cherries, grapes, lemons, limes, oranges.\n"
         "The same list again: apples, pears,")
"""A prompt whose answer repeats it, with the chat template on or off (the lab's checkbox starts off)."""


@dataclass(frozen=True)
class SpeculativeView:
    lab_model: gr.Dropdown
    chat: gr.Checkbox
    prompt: gr.Textbox
    max_new_tokens: gr.Slider
    run: gr.Button
    summary: gr.Markdown
    output: gr.HTML


def request_from(view: SpeculativeView, values: dict[Any, Any]) -> SpeculativeRequest:
    return SpeculativeRequest(values[view.prompt], values[view.lab_model], max_new_tokens=values[view.max_new_tokens],
                              chat=values[view.chat])


def summary_markdown(result: dict[str, Any]) -> str:
    acceptance = "no drafts" if result["acceptance"] is None else f"{result['acceptance']:.0%} of drafted tokens"
    same = ("✓ the same tokens as plain greedy decoding" if result["same_as_greedy"] else
            "⚠️ differs from plain greedy decoding (a near-tie decided differently in a batched forward)")
    return (f"**{result['new_tokens']} tokens in {result['forwards']} forward passes** (plain greedy: one per "
            f"token) · accepted {acceptance} · {result['seconds']:.2f} s against {result['plain_seconds']:.2f} s "
            f"plain: **{result['speedup']:.2f}x** · {same}")


def tokens_html(result: dict[str, Any]) -> str:
    """Accepted drafts in green, the model's own tokens (one per forward pass) in blue."""
    spans = [f'<span class="{"spec-draft" if t["drafted"] else "spec-own"}">{html.escape(t["text"])}</span>'
             for t in result["tokens"]]
    legend = ('<div class="spec-legend"><span class="spec-draft">accepted draft</span> '
              '<span class="spec-own">the model\'s own token</span></div>')
    return legend + f'<div class="spec-output">{"".join(spans)}</div>'


def run_outputs(store: Any, view: SpeculativeView, values: dict[Any, Any]) -> dict[Any, Any]:
    result = speculative(store, request_from(view, values)).to_dict()
    return {view.summary: summary_markdown(result), view.output: tokens_html(result)}


def layout(lab_model: gr.Dropdown, chat: gr.Checkbox) -> SpeculativeView:
    gr.Markdown("**Prompt-lookup speculative decoding.** Each step guesses the next tokens by finding the last "
                "few tokens earlier in the text and copying what followed; one forward pass checks every guess "
                "at once. Accepted guesses are free tokens; the output stays exactly plain greedy decoding's. "
                "It shines when the answer repeats the prompt (copying, extraction, editing).")
    prompt = gr.Textbox(START, label="Prompt", lines=3, elem_id="spec-prompt")
    max_new_tokens = gr.Slider(8, 256, value=48, step=8, label="New tokens", elem_id="spec-tokens")
    run = gr.Button("Decode both ways", variant="primary", elem_id="spec-run")
    summary = gr.Markdown(elem_id="spec-summary")
    output = gr.HTML(elem_id="spec-output")
    return SpeculativeView(lab_model, chat, prompt, max_new_tokens, run, summary, output)


def register_api(ws: Workspace) -> None:
    @event_handler
    def generate_speculative(prompt: str, model: str, method: str = "prompt lookup", draft_model: str = "",
                             max_new_tokens: int = 96) -> dict:
        """Greedy decoding with prompt-lookup drafts, beside plain greedy in the same request: `{output,
        tokens: [{text, drafted}], steps: [{drafted, accepted, token}], acceptance, forwards, new_tokens,
        seconds, plain_seconds, speedup, same_as_greedy}`."""
        if (draft_model or "").strip():
            raise InvalidInputError("A draft model is not offered here yet: no smaller model ships that shares a "
                                    "tokenizer with the embedded one. Use method 'prompt lookup'.")
        return speculative(ws.store, SpeculativeRequest(prompt, model, method, max_new_tokens)).to_dict()

    gr.api(generate_speculative, api_name="generate_speculative", **QUEUE)


def build(ws: Workspace, lab_model: gr.Dropdown, chat: gr.Checkbox) -> None:
    view = layout(lab_model, chat)
    view.run.click(event_handler(partial(run_outputs, ws.store, view)), {view.lab_model, view.chat, view.prompt,
                   view.max_new_tokens}, [view.summary, view.output], api_name="spec_page_run",
                   api_visibility="undocumented", show_progress="minimal", **QUEUE)
    register_api(ws)
