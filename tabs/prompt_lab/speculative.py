"""Faster decoding, shown: speculative decoding (prompt lookup or a smaller draft model) beside plain greedy
decoding (playground.generation.speculative). Layout, translation (keyed by component) and wiring.

Endpoint: ``/generate_speculative``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import gradio as gr

from playground.generation.speculative import METHODS, SpeculativeRequest, speculative
from playground.workspace import Workspace
from tabs.shared.common import event_handler
from tabs.shared.queues import GENERATION_CONCURRENCY, GENERATION_QUEUE
from tabs.shared.token_view import token_tile

QUEUE = dict(concurrency_id=GENERATION_QUEUE, concurrency_limit=GENERATION_CONCURRENCY)
START = ("The shopping list is: apples, pears, plums, cherries, grapes, lemons, limes, oranges.\n"
         "The same list again: apples, pears,")
"""A prompt whose answer repeats it, with the chat template on or off (the lab's checkbox starts off)."""


@dataclass(frozen=True)
class SpeculativeView:
    lab_model: gr.Dropdown
    chat: gr.Checkbox
    prompt: gr.Textbox
    method: gr.Radio
    draft_model: gr.Textbox
    max_new_tokens: gr.Slider
    run: gr.Button
    summary: gr.Markdown
    output: gr.HTML


def request_from(view: SpeculativeView, values: dict[Any, Any]) -> SpeculativeRequest:
    return SpeculativeRequest(values[view.prompt], values[view.lab_model], values[view.method],
                              max_new_tokens=values[view.max_new_tokens], chat=values[view.chat],
                              draft_model=values[view.draft_model] if values[view.method] == "draft model" else "")


def summary_markdown(result: dict[str, Any]) -> str:
    acceptance = "no drafts" if result["acceptance"] is None else f"{result['acceptance']:.0%} of drafted tokens"
    same = ("✓ the same tokens as plain greedy decoding" if result["same_as_greedy"] else
            "⚠️ differs from plain greedy decoding (a near-tie decided differently in a batched forward)")
    drafts = (f" (and {result['draft_forwards']} of the draft model)" if result.get("method") == "draft model"
              else "")
    return (f"**{result['new_tokens']} tokens in {result['forwards']} forward passes**{drafts} (plain greedy: one "
            f"per token) · accepted {acceptance} · {result['seconds']:.2f} s against {result['plain_seconds']:.2f} "
            f"s plain: **{result['speedup']:.2f}x** · {same}")


def tokens_html(result: dict[str, Any]) -> str:
    """Accepted drafts in green, the model's own tokens (one per forward pass) in blue."""
    spans = []
    for token in result["tokens"]:
        shown, breaks = token_tile(token["text"])
        spans.append(f'<span class="{"spec-draft" if token["drafted"] else "spec-own"}">{shown}</span>{breaks}')
    legend = ('<div class="spec-legend"><span class="spec-draft">accepted draft</span> '
              '<span class="spec-own">the model\'s own token</span></div>')
    return legend + f'<div class="spec-output">{"".join(spans)}</div>'


def run_outputs(store: Any, view: SpeculativeView, values: dict[Any, Any]) -> dict[Any, Any]:
    result = speculative(store, request_from(view, values)).to_dict()
    return {view.summary: summary_markdown(result), view.output: tokens_html(result)}


NOTE = ("**Speculative decoding.** A decode step reads every weight to write one token; checking several guessed "
        "tokens in one forward pass costs about the same. Each step guesses the next tokens, one forward pass "
        "checks every guess at once, the agreeing guesses are kept with the model's own next token, and the rest "
        "are dropped: accepted guesses are free tokens, and the output stays exactly plain greedy decoding's. "
        "**Prompt lookup** guesses for free by finding the last few tokens earlier in the text and copying what "
        "followed: it shines when the answer repeats the prompt (copying, extraction, editing). **Draft model** "
        "(assisted decoding) lets a smaller model with the same tokenizer write the guesses, growing its guess "
        "by two after a fully accepted one and shrinking it by one after a rejection: it pays where the small "
        "model predicts the big one well and costs much less per forward.")
DRAFT_INFO = ("A smaller causal model with the lab model's tokenizer: local folder or Hub id. None smaller than "
              "the embedded 135M ships, so on this machine give a folder; on a Space (it has a network) pick a "
              "bigger SmolLM2 as the lab model (e.g. HuggingFaceTB/SmolLM2-360M-Instruct) and "
              "smollm2-135m-instruct here.")


def layout(lab_model: gr.Dropdown, chat: gr.Checkbox) -> SpeculativeView:
    gr.Markdown(NOTE)
    prompt = gr.Textbox(START, label="Prompt", lines=3, elem_id="spec-prompt")
    with gr.Row():
        method = gr.Radio(list(METHODS), value=METHODS[0], label="Where the guesses come from", scale=1,
                          elem_id="spec-method")
        draft_model = gr.Textbox("", label="Draft model", placeholder="smollm2-135m-instruct, a folder or a Hub id",
                                 info=DRAFT_INFO, scale=2, interactive=False, elem_id="spec-draft")
    max_new_tokens = gr.Slider(8, 256, value=48, step=8, label="New tokens", elem_id="spec-tokens")
    run = gr.Button("Decode both ways", variant="primary", elem_id="spec-run")
    summary = gr.Markdown(elem_id="spec-summary")
    output = gr.HTML(elem_id="spec-output")
    return SpeculativeView(lab_model, chat, prompt, method, draft_model, max_new_tokens, run, summary, output)


def draft_box(method: str) -> gr.Textbox:
    """The draft model box is only read by the draft model method; it stays visible so the page says so."""
    return gr.Textbox(interactive=method == "draft model")


def register_api(ws: Workspace) -> None:
    @event_handler
    def generate_speculative(prompt: str, model: str, method: str = "prompt lookup", draft_model: str = "",
                             max_new_tokens: int = 96) -> dict:
        """Greedy decoding with drafts, beside plain greedy in the same request. `method`: "prompt lookup"
        (copied from the text; `draft_model` empty) or "draft model" (assisted decoding: `draft_model` is a
        smaller causal model, local folder or Hub id, with the same tokenizer as `model`, else refused naming
        what differs; its guess grows by 2 after a full acceptance and shrinks by 1 after a rejection). Returns
        `{output, tokens: [{text, drafted}], steps: [{drafted, accepted, token}], acceptance, forwards,
        new_tokens, seconds, plain_seconds, speedup, same_as_greedy, method, draft_forwards}`."""
        return speculative(ws.store, SpeculativeRequest(prompt, model, method, max_new_tokens,
                                                        draft_model=draft_model or "")).to_dict()

    gr.api(generate_speculative, api_name="generate_speculative", **QUEUE)


def build(ws: Workspace, lab_model: gr.Dropdown, chat: gr.Checkbox) -> None:
    view = layout(lab_model, chat)
    view.method.change(draft_box, view.method, view.draft_model, api_visibility="undocumented", show_progress="hidden")
    view.run.click(event_handler(partial(run_outputs, ws.store, view)), {view.lab_model, view.chat, view.prompt,
                   view.method, view.draft_model, view.max_new_tokens}, [view.summary, view.output],
                   api_name="spec_page_run",
                   api_visibility="undocumented", show_progress="minimal", **QUEUE)
    register_api(ws)
