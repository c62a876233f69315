"""One readable line for each way an OpenAI-compatible server can fail a request.

The openai client raises a class per HTTP status; a learner needs to know which side to fix: the URL,
the key, the model id, their patience (429) or the server (5xx). The key never appears in a message.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from playground.core.errors import first_line

if TYPE_CHECKING:
    from playground.generation.endpoints import Endpoint


def log_failure(log: logging.Logger, error: BaseException, endpoint: "Endpoint", doing: str) -> None:
    """Put an endpoint failure in the server log once, where it was caught: the server's own refusals and
    unreachable hosts as one warning line (the user reads the same reason), anything else, a bug on this
    side (a TypeError from the client, say), with its traceback, so an operator sees it."""
    import openai

    if isinstance(error, openai.APIError):
        log.warning("endpoint %s (%s) failed while %s: %s", endpoint.name, endpoint.base_url, doing,
                    first_line(error, 300, with_type=True))
    else:
        log.error("endpoint %s (%s) failed while %s", endpoint.name, endpoint.base_url, doing, exc_info=error)


def explain(error: BaseException, endpoint: "Endpoint", model_id: str | None, doing: str = "generating") -> str:
    """What went wrong with ``endpoint`` while ``doing``, and what to do about it."""
    import openai

    where = f"The endpoint '{endpoint.name}' ({endpoint.base_url})"
    model = f" for the model '{model_id}'" if model_id else ""
    if isinstance(error, openai.APITimeoutError):
        return (f"{where} did not answer within {endpoint.timeout_seconds:g} s while {doing}{model}: it may be "
                "overloaded or still loading the model (PLAYGROUND_ENDPOINT_TIMEOUT sets the limit).")
    if isinstance(error, openai.APIConnectionError):
        cause = first_line(error.__cause__ or error, 200)
        return (f"{where} could not be reached while {doing} ({cause}). Is the server running, and is the URL "
                "right? It usually ends in /v1.")
    if isinstance(error, openai.APIStatusError):
        return _status_message(error, where, model, doing)
    return f"{where} failed while {doing}{model}: {first_line(error, 300, with_type=True)}"


def _status_message(error: Any, where: str, model: str, doing: str) -> str:
    status = error.status_code
    detail = server_detail(error)
    if status in (401, 403):
        return (f"{where} refused the API key ({status}{detail}). Set {error_key_hint(where)} or enter the key "
                "again for this session.")
    if status == 404:
        return (f"{where} has no such model or route (404{detail}){model}. Check the model id (the endpoint's "
                "listing shows the ids it serves) and that the URL ends in /v1.")
    if status == 429:
        retry = error.response.headers.get("retry-after") if error.response is not None else None
        wait = f" It asks to wait {retry} s before trying again." if retry else " Try again in a minute."
        return f"{where} is rate limiting these requests (429{detail}).{wait}"
    if status >= 500:
        return f"{where} failed on its side while {doing}{model} ({status}{detail}). The app is fine; try again."
    return f"{where} refused the request while {doing}{model} ({status}{detail})."


def error_key_hint(where: str) -> str:
    name = where.split("'")[1] if "'" in where else "ENDPOINT"
    return f"{name.upper().replace('-', '_')}_API_KEY (or OPENAI_API_KEY)"


def server_detail(error: Any) -> str:
    """The server's own one-line reason, from an OpenAI-style or FastAPI-style error body."""
    body = getattr(error, "body", None)
    text = ""
    if isinstance(body, dict):
        inner = body.get("error", body)
        text = str(inner.get("message") or inner.get("detail") or "") if isinstance(inner, dict) else str(inner)
    elif isinstance(body, str):
        text = body
    text = first_line(text, 200) if text.strip() else ""
    return f": {text}" if text else ""
