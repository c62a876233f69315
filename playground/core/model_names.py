"""How a model name says where the model runs: here (a name, folder or Hub id) or on an endpoint.

An endpoint model is ``endpoint:model-id``, split at the first colon, so the id itself may hold
colons or slashes (Ollama's ``llama3:8b``, vLLM's ``/models/llama``). Hub ids never hold a colon,
so the two cannot be confused; both the model registry and the generation engine read names here.
"""

from __future__ import annotations

import re

ENDPOINT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")
"""An endpoint's own name: short, and usable in an environment variable's name (``VLLM_API_KEY``)."""


def split_endpoint_model(name: str) -> tuple[str, str] | None:
    """``("vllm", "meta/llama")`` for ``"vllm:meta/llama"``; None for a name that has no endpoint part."""
    prefix, colon, model_id = (name or "").strip().partition(":")
    if not colon or not ENDPOINT_NAME.fullmatch(prefix):
        return None
    return prefix, model_id.strip()


def needs_weights_message(name: str, what: str = "This tab") -> str:
    """What a tab that reads a model's weights says when it is given an endpoint model."""
    endpoint, model_id = split_endpoint_model(name) or ("?", name)
    return (f"'{name}' is the model '{model_id}' on the endpoint '{endpoint}' (an OpenAI-compatible server). "
            f"{what} needs the model's weights in this process, which a server does not share: choose a "
            "local model (an embedded name, a Hub id or a folder). Endpoint models work in the Prompt lab, "
            "side by side, evaluation and RAG.")
