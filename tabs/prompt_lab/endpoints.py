"""The Prompt lab's endpoints panel: the server's OpenAI-compatible endpoints, their models, and one a
session adds for itself (its key in a password box: held in this session's memory only, never shown,
logged or stored). Also ``/endpoints`` for the API.
"""

from __future__ import annotations

import html
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import gradio as gr

from playground.core.errors import PlaygroundError
from playground.generation.endpoints import Endpoint, Endpoints, list_models
from playground.workspace import Workspace
from tabs.shared.common import event_handler

NOTE = ("Models on an OpenAI-compatible server (vLLM, TGI, llama.cpp's server, Ollama, `transformers serve`) "
        "are named `endpoint:model-id` wherever a model is asked for here, in side by side, evaluation and "
        "RAG. The server applies its own chat template and sampling; settings it cannot take (top-k, this "
        "app's repetition penalty) are named under the answer. Attention, quantization and fine-tuning need "
        "the weights in this process, so they take local models only.")


def listings(endpoints: Endpoints) -> list[dict[str, Any]]:
    """Every endpoint with its models, asked in parallel (each listing waits a few seconds at most)."""
    chosen = list(endpoints)
    if not chosen:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(chosen))) as pool:
        return list(pool.map(list_models, chosen))


def listing_markdown(found: list[dict[str, Any]]) -> str:
    if not found:
        return ("No endpoints yet. The server's come from `PLAYGROUND_ENDPOINTS=name=http://host:port/v1` "
                "(README: *Model endpoints*); add one for this session below.")
    lines = []
    for entry in found:
        head = (f"- **{html.escape(entry['name'])}** · `{html.escape(entry['base_url'])}` · key: {entry['key']}"
                f" · {entry['scope']}")
        if entry["error"]:
            lines.append(f"{head}  \n  ⚠️ {html.escape(entry['error'])}")
        else:
            names = ", ".join(f"`{html.escape(name)}`" for name in entry["names"][:12]) or "none listed"
            more = f" and {len(entry['names']) - 12} more" if len(entry["names"]) > 12 else ""
            lines.append(f"{head}  \n  models: {names}{more}")
    return "\n".join(lines)


def model_choices(default: str, found: list[dict[str, Any]]) -> list[str]:
    names = [default]
    for entry in found:
        names += [name for name in entry["names"] if name not in names]
    return names


def build(ws: Workspace, app: gr.Blocks, model: gr.Dropdown) -> gr.State:
    """The panel; returns the session's own endpoints (a ``gr.State``), for every handler that generates."""
    session = gr.State(Endpoints())
    with gr.Accordion("Endpoints: models on an OpenAI-compatible server", open=False, elem_id="pl-endpoints"):
        gr.Markdown(NOTE)
        listing = gr.Markdown(elem_id="pl-endpoint-list")
        with gr.Row():
            name = gr.Textbox(label="Name", value="mine", max_lines=1, scale=1, elem_id="pl-endpoint-name")
            url = gr.Textbox(label="Base URL", placeholder="http://localhost:8000/v1", max_lines=1, scale=3,
                             elem_id="pl-endpoint-url")
            key = gr.Textbox(label="API key (optional; kept for this session only)", type="password",
                             max_lines=1, scale=2, elem_id="pl-endpoint-key")
        with gr.Row():
            add = gr.Button("Add for this session", size="sm", variant="primary", elem_id="pl-endpoint-add")
            refresh = gr.Button("Refresh the list", size="sm", elem_id="pl-endpoint-refresh")

    def show(mine: Endpoints, current: str) -> tuple[str, Any]:
        found = listings(ws.generation.endpoints.merged(mine))
        return listing_markdown(found), gr.update(choices=model_choices(ws.settings.default_model, found),
                                                  value=current)

    def add_for_session(mine: Endpoints, label: str, base_url: str, api_key: str,
                        current: str) -> tuple[Endpoints, str, str, Any]:
        try:
            endpoint = Endpoint((label or "").strip(), base_url, (api_key or "").strip(), session_only=True)
        except PlaygroundError as error:
            raise gr.Error(str(error)) from None
        mine = mine.with_endpoint(endpoint)
        text, choices = show(mine, current)
        return mine, "", text, choices  # the key box is emptied: the key stays in this session's memory only

    app.load(show, [session, model], [listing, model], api_visibility="undocumented", show_progress="hidden")
    refresh.click(show, [session, model], [listing, model], api_visibility="undocumented")
    add.click(add_for_session, [session, name, url, key, model], [session, key, listing, model],
              api_visibility="undocumented")

    @event_handler
    def endpoints() -> list:
        """The server's OpenAI-compatible endpoints: name, base_url, whether a key is set, and the models
        its /v1/models lists (names to pass as `model`), or the reason that call failed."""
        return listings(ws.generation.endpoints)

    gr.api(endpoints, api_name="endpoints")
    return session
