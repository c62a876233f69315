"""Whether the Hugging Face Hub answers, asked before anything is fetched from it.

huggingface_hub retries a failed request five times with back-off (1+2+4+8+8 s), so on a machine with
no network every Hub id took 23 s per file to fail: 46 s for a tokenizer, and a model with a cached copy
waited as long before the library fell back to it. One TCP connection to the Hub's host, asked first,
tells the same in milliseconds; the caller then reads the local cache only, or says why it cannot.

Nothing is remembered between calls: a laptop that joins a network is online for its next load, and a
successful load is cached by the model store anyway, so the probe runs once per new model.
"""

from __future__ import annotations

import os
import socket
import threading
from urllib.parse import urlsplit

DEFAULT_ENDPOINT = "https://huggingface.co"
PROBE_SECONDS = 3.0
"""How long the Hub's host may take to accept a connection (name lookup included) before it counts as
unreachable; a host that answers at all answers in well under a second."""
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


def hub_endpoint() -> str:
    """The Hub's base URL as huggingface_hub reads it (``HF_ENDPOINT`` for a mirror or a private Hub)."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def hub_unreachable(endpoint: str | None = None, timeout: float = PROBE_SECONDS) -> str | None:
    """Why the Hub cannot be reached from here (``"<host>: <reason>"``), or None when it can, or when this
    cannot tell.

    Behind a proxy a direct connection proves nothing, so the decision is left to huggingface_hub.
    """
    if any(os.environ.get(name) for name in PROXY_VARIABLES):
        return None
    parts = urlsplit(endpoint or hub_endpoint())
    host = parts.hostname
    if not host:
        return None
    port = parts.port or (80 if parts.scheme == "http" else 443)
    outcome: list[BaseException | None] = []

    def connect() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                outcome.append(None)
        except OSError as error:
            outcome.append(error)

    # The name lookup ignores the socket's timeout, so the whole probe runs in a thread that is waited
    # for at most ``timeout``; a lookup left hanging finishes on its own, holding nothing.
    probe = threading.Thread(target=connect, name="hub-probe", daemon=True)
    probe.start()
    probe.join(timeout)
    if not outcome:
        return f"{host} did not answer within {timeout:g} s"
    error = outcome[0]
    if error is None:
        return None
    detail = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return f"{host}: {detail}"
