"""OpenAI-compatible servers the playground can generate on: which exist, their keys, their models.

Configured by the operator (``PLAYGROUND_ENDPOINTS="vllm=http://gpu-box:8000/v1,ollama=..."``, each
key from ``<NAME>_API_KEY`` or ``OPENAI_API_KEY``) or added by one browser session for itself. A key is
held in memory only: never part of a repr, a log line, a listing or an error message.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from playground.core.errors import InvalidInputError, UnknownModelError, first_line
from playground.core.model_names import ENDPOINT_NAME, split_endpoint_model
from playground.core.queues import ENDPOINT_CONNECT_SECONDS, ENDPOINT_TIMEOUT_SECONDS
from playground.generation.remote_errors import log_failure

log = logging.getLogger(__name__)

NO_KEY = "no-key"
"""Sent where no key is configured: the openai client insists on one, and keyless servers ignore it."""

LISTING_TIMEOUT_SECONDS = 5.0
"""``/v1/models`` is a cheap call: an endpoint that takes longer is listed as not answering."""


@dataclass(frozen=True)
class Endpoint:
    """One server speaking the OpenAI API; ``base_url`` usually ends in ``/v1``."""

    name: str
    base_url: str
    api_key: str = field(default="", repr=False)
    session_only: bool = False
    timeout_seconds: float = ENDPOINT_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        if not ENDPOINT_NAME.fullmatch(self.name or ""):
            raise InvalidInputError(f"Endpoint name {self.name!r}: use a letter, then up to 31 letters, digits, "
                                    "'-' or '_' (it becomes the prefix of its models' names, as in vllm:model-id).")
        url = (self.base_url or "").strip().rstrip("/")
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise InvalidInputError(f"Endpoint '{self.name}': {self.base_url!r} is not an http(s) URL such as "
                                    "http://localhost:8000/v1.")
        object.__setattr__(self, "base_url", url)

    def client(self, timeout: float | None = None) -> Any:
        """The official ``openai`` client for this server. No retries: a 429 or 5xx is reported to the
        user at once with its reason (and retry-after) rather than retried behind their back. The timeout
        is openai's own ``Timeout`` (the HTTP library openai is built on changes; httpx's type is refused)."""
        from openai import OpenAI, Timeout

        seconds = self.timeout_seconds if timeout is None else timeout
        return OpenAI(base_url=self.base_url, api_key=self.api_key or NO_KEY, max_retries=0,
                      timeout=Timeout(seconds, connect=min(ENDPOINT_CONNECT_SECONDS, seconds)))

    def describe(self) -> dict[str, Any]:
        """What a listing shows: never the key itself, only whether there is one."""
        return {"name": self.name, "base_url": self.base_url, "key": "set" if self.api_key else "none",
                "scope": "this session" if self.session_only else "server"}


@dataclass(frozen=True)
class Endpoints:
    """An immutable set of endpoints by name: the server's, plus any a session added for itself."""

    by_name: Mapping[str, Endpoint] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Endpoints":
        env = os.environ if environ is None else environ
        return cls.parse(env.get("PLAYGROUND_ENDPOINTS", ""), env)

    @classmethod
    def parse(cls, spec: str, environ: Mapping[str, str] | None = None) -> "Endpoints":
        """``"name=url,name2=url2"``; a malformed entry stops the server with a message saying which."""
        env = os.environ if environ is None else environ
        timeout = _timeout(env.get("PLAYGROUND_ENDPOINT_TIMEOUT"))
        found: dict[str, Endpoint] = {}
        for entry in (part.strip() for part in (spec or "").split(",")):
            if not entry:
                continue
            name, equals, url = (piece.strip() for piece in entry.partition("="))
            if not equals or not name or not url:
                raise InvalidInputError(f"PLAYGROUND_ENDPOINTS entry {entry!r} must look like name=http://host:port/v1.")
            if name in found:
                raise InvalidInputError(f"PLAYGROUND_ENDPOINTS names the endpoint '{name}' twice.")
            found[name] = Endpoint(name, url, key_for(name, env), timeout_seconds=timeout)
        return cls(found)

    def with_endpoint(self, endpoint: Endpoint) -> "Endpoints":
        """A copy with ``endpoint`` added (a session's own replaces one of the same name for that session)."""
        return Endpoints({**self.by_name, endpoint.name: endpoint})

    def merged(self, other: "Endpoints | None") -> "Endpoints":
        return self if not other or not other.by_name else Endpoints({**self.by_name, **other.by_name})

    def __iter__(self):
        return iter(self.by_name.values())

    def __len__(self) -> int:
        return len(self.by_name)

    def locate(self, model: str) -> tuple[Endpoint, str] | None:
        """The endpoint and model id of an endpoint model name; None for a local model's name."""
        split = split_endpoint_model(model)
        if split is None:
            return None
        name, model_id = split
        if name not in self.by_name:
            known = ", ".join(sorted(self.by_name)) or "none are configured (PLAYGROUND_ENDPOINTS)"
            raise UnknownModelError(f"'{model.strip()}' names the endpoint '{name}', which this server does not "
                                    f"know. Endpoints: {known}.")
        if not model_id:
            raise InvalidInputError(f"'{model.strip()}' names the endpoint '{name}' but no model: write "
                                    f"{name}:<model id>.")
        return self.by_name[name], model_id


def key_for(name: str, environ: Mapping[str, str]) -> str:
    """``<NAME>_API_KEY`` (upper case, '-' as '_'), else ``OPENAI_API_KEY``, else no key."""
    own = f"{name.upper().replace('-', '_')}_API_KEY"
    return (environ.get(own) or environ.get("OPENAI_API_KEY") or "").strip()


def _timeout(raw: str | None) -> float:
    if not raw:
        return ENDPOINT_TIMEOUT_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= 3600:
        raise InvalidInputError(f"PLAYGROUND_ENDPOINT_TIMEOUT={raw!r}: give seconds between 1 and 3600.")
    return seconds


def list_models(endpoint: Endpoint) -> dict[str, Any]:
    """The endpoint's description with the models its ``/v1/models`` names, or why that call failed
    (``transformers serve`` answers it with a 500; the endpoint may still generate)."""
    listing = endpoint.describe()
    try:
        models = endpoint.client(LISTING_TIMEOUT_SECONDS).models.list()
        listing["models"] = sorted(model.id for model in models.data)
        listing["names"] = [f"{endpoint.name}:{model_id}" for model_id in listing["models"]]
        listing["error"] = None
    except Exception as error:  # noqa: BLE001 - any failure is reported as the listing's reason
        log_failure(log, error, endpoint, "listing its models")
        listing["models"], listing["names"] = [], []
        listing["error"] = first_line(listing_failure(error, endpoint), 400)
    return listing


def listing_failure(error: BaseException, endpoint: Endpoint) -> str:
    """Why the models could not be listed. A server that answers but fails ``/v1/models`` may still
    generate (``transformers serve`` does), so that case says so instead of "try again"."""
    from playground.generation.remote_errors import explain, server_detail

    status = getattr(error, "status_code", None)
    if status is None or status in (401, 403):
        return explain(error, endpoint, None, "listing its models")
    return (f"Its /v1/models answered {status}{server_detail(error)}: it may still generate; name a model as "
            f"{endpoint.name}:<model id>.")
