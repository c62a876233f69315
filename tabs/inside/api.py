"""Inside the model's endpoints: plain arguments -> the page's own requests
(:mod:`playground.internals.actions`) -> plain data, for ``gradio_client``, notebooks and tests."""

from __future__ import annotations

import gradio as gr

from playground.internals import actions
from playground.internals.actions import AblationRequest, HeadRequest, NextTokenRequest, TextRequest, TokenRequest
from playground.workspace import Workspace
from tabs.shared.common import event_handler
from tabs.shared.queues import INSIDE_CONCURRENCY, INSIDE_QUEUE

QUEUE = dict(concurrency_id=INSIDE_QUEUE, concurrency_limit=INSIDE_CONCURRENCY)


def register_api(ws: Workspace) -> None:
    """``/model_card``, ``/next_token``, ``/attention_math``, ``/logit_lens``, ``/head_attribution``, ``/ablate``."""
    inside = ws.inside

    @event_handler
    def model_card(model: str) -> dict:
        """Architecture and parameter counts (per component, bytes too) of any model: causal, encoder or
        encoder-decoder."""
        return inside.model_card(model)

    @event_handler
    def next_token(text: str, model: str, temperature: float, top_k: int, top_p: float) -> dict:
        """The 20 most likely next tokens, before and after temperature, top-k and top-p, with the cut-off."""
        return actions.next_token(inside, NextTokenRequest(text, model, temperature, top_k, top_p))

    @event_handler
    def attention_math(text: str, model: str, layer: int, head: int, query: int) -> dict:
        """One head for one query token (-1: the last): q, keys, values, scores, mask, weights, output."""
        return actions.attention_math(inside, HeadRequest(text, model, layer, head, None if query == -1 else query))

    @event_handler
    def logit_lens(text: str, model: str) -> dict:
        """What every layer would predict at the last 24 positions, and the probability of the final answer."""
        return actions.logit_lens(inside, TextRequest(text, model))

    @event_handler
    def head_attribution(text: str, model: str, token: str) -> dict:
        """Each head's direct contribution to ``token``'s logit (empty: the top prediction), plus the rest."""
        return actions.head_attribution(inside, TokenRequest(text, model, token or None))

    @event_handler
    def ablate(text: str, model: str, layer: int | None, head: int | None) -> dict:
        """The next-token distribution with one head zeroed, a whole layer skipped (head None) or nothing."""
        return actions.ablate(inside, AblationRequest(text, model, layer, head))

    for fn in (model_card, next_token, attention_math, logit_lens, head_attribution, ablate):
        gr.api(fn, api_name=fn.__name__, **QUEUE)
