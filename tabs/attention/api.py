"""The Attention endpoint: plain data for ``gradio_client``, notebooks and tests."""

from __future__ import annotations

import gradio as gr

from playground.attention import DEFAULT_MAX_TOKENS, AttentionRequest
from playground.workspace import Workspace
from tabs.shared.common import event_handler
from tabs.shared.queues import ATTENTION_FORWARD_CONCURRENCY, ATTENTION_FORWARD_QUEUE

FORWARD_QUEUE = dict(concurrency_id=ATTENTION_FORWARD_QUEUE, concurrency_limit=ATTENTION_FORWARD_CONCURRENCY)
"""Forward passes with every attention map: two at once. On 2 cores more only adds contention (the
load benchmark's tokenize p95 halved during the opening burst with fewer at once), and a repeat is cached."""


def register_api(ws: Workspace) -> None:
    """``/attention``: the page's request (playground.attention), one layer and head as plain data."""
    explorer = ws.attention

    @event_handler
    def attention(text: str, model: str, layer: int, head: int) -> dict:
        """One layer and head's attention for `text`: tokens and an n x n matrix whose rows
        (queries) sum to 1. Texts longer than 256 tokens are truncated (see `truncated`)."""
        return explorer.maps(AttentionRequest(text, model, DEFAULT_MAX_TOKENS)).to_dict(layer, head)

    gr.api(attention, api_name="attention", **FORWARD_QUEUE)
