"""The app's main endpoints against an app started on the GPU (its own process, a free port)."""

from __future__ import annotations

from typing import Any

from bench.load_app import local_env, start_app, stop_app
from playground.core.errors import first_line


def endpoint_calls(model: str) -> dict[str, tuple[tuple[Any, ...], str]]:
    """Endpoint -> (arguments, api name), with the argument lists the API tests use."""
    return {
        "/tokenize": (("The cat sat on the mat.", model), "/tokenize"),
        "/attention": (("The cat sat on the mat.", model, 2, 3), "/attention"),
        "/generate_tokens": (("Say hello.", model, 8, 0.0, 1.0, 0), "/generate_tokens"),
        "/compare_prompts": ((["Name a colour.", "Name an animal."], model, 8), "/compare_prompts"),
        "/rag_query": (("How long does the ferry crossing to Quenmoor take?", 3), "/rag_query"),
    }


def call_endpoints(model: str, timeout: float = 180) -> dict[str, str]:
    """Each endpoint -> "pass" or its first error line; the app runs on CUDA with ``model`` as default."""
    from gradio_client import Client

    env = {**local_env(), "PLAYGROUND_DEVICE": "cuda", "PLAYGROUND_MODEL": model}
    process, url, _, log = start_app(timeout, env=env)
    results: dict[str, str] = {}
    try:
        client = Client(url, verbose=False)
        for name, (args, api_name) in endpoint_calls(model).items():
            try:
                client.predict(*args, api_name=api_name)
                results[name] = "pass"
            except Exception as error:  # noqa: BLE001 - every endpoint is tried
                results[name] = f"fail: {first_line(error)}"
    finally:
        stop_app(process)
    return results
