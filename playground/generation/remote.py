"""Generation on an OpenAI-compatible server, streamed into the same :class:`Generation` as a local one.

Each request runs in a thread of its own (network waits, no compute), behind the endpoint's
first-come-first-served line, so an evaluation of many items keeps only a few requests in flight.
It publishes under the engine's condition exactly as a batch scheduler does, so callers follow
local and endpoint generations with the same loop, in one run.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from playground.generation.endpoints import Endpoint
from playground.generation.queueing import FairGate
from playground.generation.remote_errors import explain, log_failure
from playground.generation.request import Generation
from playground.generation.sampling import Alternative, SamplingSettings, TokenChoice
from playground.generation.stops import first_stop

log = logging.getLogger(__name__)

MAX_SERVER_STOPS = 4
"""The OpenAI API takes at most four stop strings; the rest are applied here, on the text received."""

MAX_TOP_LOGPROBS = 20
"""The OpenAI API's own ceiling for ``top_logprobs``."""

STRUCTURE_REFUSED = ("The endpoint refused the structured-output field (`response_format`): it wrote free text, "
                     "checked here against the schema afterwards.")
NO_STRUCTURE_FIELD = ("Without the chat template the endpoint is called on its completions route, which has no "
                      "structured-output field: it wrote free text, checked here afterwards.")

NO_PROBABILITIES = ("This endpoint returned no per-token probabilities (it ignores `logprobs`): the text is "
                    "shown plain, without each token's probability and alternatives.")


@dataclass(frozen=True)
class RemoteCall:
    """What is sent: chat messages (the server applies its own chat template) or, without the chat
    template, the raw text to the completions route."""

    endpoint: Endpoint
    model_id: str
    messages: tuple[dict[str, str], ...] | None
    text: str
    response_format: dict[str, Any] | None = None
    """Structured output (``{"type": "json_schema", ...}``), sent with chat messages where a schema is asked for."""


def unsupported_notices(settings: SamplingSettings) -> list[str]:
    """Settings the OpenAI API has no field for: named in the result instead of silently dropped."""
    notices = []
    if settings.top_k:
        notices.append(f"top-k ({settings.top_k}) is not part of the OpenAI API: the endpoint did not apply it.")
    if settings.repetition_penalty != 1.0:
        notices.append(f"This app's repetition penalty ({settings.repetition_penalty:g}) is not part of the OpenAI "
                       "API: the endpoint did not apply it.")
    if len(settings.stop) > MAX_SERVER_STOPS:
        notices.append(f"The endpoint takes {MAX_SERVER_STOPS} stop strings; the others were applied here, on the "
                       "text it sent.")
    return notices


def arguments(call: RemoteCall, settings: SamplingSettings, extras: bool,
              structured: bool = True) -> dict[str, Any]:
    """The create() arguments; ``extras`` asks for probabilities and usage, which some servers refuse;
    ``structured`` sends the call's ``response_format`` (chat route only)."""
    args: dict[str, Any] = {"model": call.model_id, "max_tokens": settings.max_new_tokens, "stream": True,
                            "temperature": settings.temperature, "seed": settings.seed}
    if settings.top_p < 1.0:
        args["top_p"] = settings.top_p
    if settings.stop:
        args["stop"] = list(settings.stop[:MAX_SERVER_STOPS])
    if extras:
        args["stream_options"] = {"include_usage": True}
        alternatives = min(settings.alternatives, MAX_TOP_LOGPROBS)
        if call.messages is not None:
            args["logprobs"], args["top_logprobs"] = True, alternatives
        else:
            args["logprobs"] = alternatives
    if call.messages is not None:
        args["messages"] = list(call.messages)
        if structured and call.response_format is not None:
            args["response_format"] = call.response_format
    else:
        args["prompt"] = call.text
    return args


@dataclass
class RemoteRequest:
    """A caller's view of one endpoint generation; quacks like the scheduler's ``Request`` for ``follow``."""

    public: Generation
    call: RemoteCall
    version: int = 0
    finished: bool = False
    cancelled: threading.Event = field(default_factory=threading.Event)


class RemoteRun:
    """Streams one request in its own thread, publishing each change under ``condition``."""

    def __init__(self, request: RemoteRequest, gate: FairGate, condition: threading.Condition) -> None:
        self.request, self.gate, self.condition = request, gate, condition
        self.thread = threading.Thread(target=self._run, name=f"endpoint-{request.call.endpoint.name}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _publish(self, **changes: Any) -> None:
        with self.condition:
            for name, value in changes.items():
                setattr(self.request.public, name, value)
            self.request.version += 1
            self.condition.notify_all()

    def _run(self) -> None:
        generation = self.request.public
        try:
            ticket = self.gate.join()
        except Exception as error:  # noqa: BLE001 - a refused place is this request's own failure
            log.warning("endpoint %s refused a place in its line: %s", self.request.call.endpoint.name, error)
            self._finish(error=f"The endpoint '{self.request.call.endpoint.name}' is busy: {error}. Try again soon.")
            return
        try:
            while not self.gate.wait(ticket, 0.5):
                if self.request.cancelled.is_set():
                    self._finish(reason="cancelled")
                    return
                self._publish(queue_position=self.gate.position(ticket))
            self._publish(queue_position=0)
            self._stream(generation)
        except Exception as error:  # noqa: BLE001 - reported on the request; the app keeps serving
            log_failure(log, error, self.request.call.endpoint, "generating")
            self._fail(error)
        finally:
            self.gate.leave(ticket)

    def _stream(self, generation: Generation) -> None:
        call, settings = self.request.call, generation.settings
        client = call.endpoint.client()
        started = time.perf_counter()
        create = client.chat.completions.create if call.messages is not None else client.completions.create
        if call.response_format is not None and call.messages is None:
            self._publish(notices=[*generation.notices, NO_STRUCTURE_FIELD])
        try:
            stream = create(**arguments(call, settings, extras=True))
        except Exception as error:  # noqa: BLE001 - some servers refuse logprobs / stream_options: retry plain
            if getattr(error, "status_code", None) not in (400, 422):
                raise
            log.info("endpoint %s refused logprobs or stream options (%s): asking again without them",
                     call.endpoint.name, getattr(error, "status_code", None))
            try:
                stream = create(**arguments(call, settings, extras=False))
            except Exception as again:  # noqa: BLE001 - a server without structured output: free text, said so
                if call.response_format is None or getattr(again, "status_code", None) not in (400, 422):
                    raise
                log.info("endpoint %s refused response_format: asking without it", call.endpoint.name)
                self._publish(notices=[*generation.notices, STRUCTURE_REFUSED])
                stream = create(**arguments(call, settings, extras=False, structured=False))
        saw_probabilities, pieces, finish = False, 0, None
        try:
            for chunk in stream:  # after the finish reason, OpenAI sends usage in a chunk of its own
                if self.request.cancelled.is_set():
                    self._finish(reason="cancelled")
                    return
                usage = getattr(chunk, "usage", None)
                if usage is not None:
                    self._publish(reported_tokens_in=usage.prompt_tokens, reported_tokens_out=usage.completion_tokens)
                if not chunk.choices or finish:
                    continue
                choice = chunk.choices[0]
                piece, tokens = _piece(choice, call), _token_choices(choice, call)
                saw_probabilities = saw_probabilities or bool(tokens)
                if piece or tokens:
                    pieces += 1
                    if self._append(generation, piece, tokens, time.perf_counter() - started):
                        finish = "stop-here"  # a stop string applied here: the rest of the stream is not read
                        break
                finish = choice.finish_reason or None
        except Exception as error:  # noqa: BLE001 - a stream cut mid-way keeps its text
            if generation.text or generation.tokens:
                log_failure(log, error, call.endpoint, "streaming (the text so far is kept)")
                self._cut(generation, explain(error, call.endpoint, call.model_id))
                return
            raise
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        if finish is None:  # the connection closed before a finish reason: a server stopped or crashed
            self._cut(generation, f"the endpoint '{call.endpoint.name}' closed the connection without a finish "
                                  "reason (did the server stop?).")
            return
        if generation.reported_tokens_out is None:  # no usage sent: servers stream about a token a chunk
            self._publish(reported_tokens_out=pieces)
        if not saw_probabilities:
            self._publish(notices=[*generation.notices, NO_PROBABILITIES])
        self._finish(reason="stop" if finish == "stop-here" else _finish_reason(finish, settings))

    def _cut(self, generation: Generation, why: str) -> None:
        self._finish(reason="cut", error=f"The stream was cut after {len(generation.text):,} characters: {why} "
                                         "The text so far is kept.")

    def _append(self, generation: Generation, piece: str, tokens: list[TokenChoice], seconds: float) -> bool:
        """Add what arrived; True where a stop string now ends the text (it is cut there)."""
        before = generation.text
        text = before + piece
        changes: dict[str, Any] = {"text": text, "tokens": [*generation.tokens, *tokens], "compute_seconds": seconds}
        if generation.first_token_seconds is None:
            changes["first_token_seconds"] = seconds
        cut = first_stop(text, before, generation.settings.stop) if generation.settings.stop else None
        if cut is not None:
            changes["text"] = text[:cut]
        self._publish(**changes)
        return cut is not None

    def _finish(self, reason: str = "error", error: str | None = None) -> None:
        changes: dict[str, Any] = {"finish_reason": reason, "queue_position": 0}
        if error is not None:
            changes["error"] = error
        self._publish(**changes)
        self._finished()

    def _finished(self) -> None:
        with self.condition:
            self.request.finished = True
            self.request.version += 1
            self.condition.notify_all()

    def _fail(self, error: BaseException) -> None:
        call = self.request.call
        self._finish(error=explain(error, call.endpoint, call.model_id))


def _piece(choice: Any, call: RemoteCall) -> str:
    if call.messages is not None:
        delta = getattr(choice, "delta", None)
        return (getattr(delta, "content", None) or "") if delta is not None else ""
    return getattr(choice, "text", None) or ""


def _token_choices(choice: Any, call: RemoteCall) -> list[TokenChoice]:
    """Per-token probabilities where the server sent ``logprobs`` (chat or legacy completions shape)."""
    logprobs = getattr(choice, "logprobs", None)
    if logprobs is None:
        return []
    if call.messages is not None:
        return [_token(entry.token, entry.logprob, [(alt.token, alt.logprob) for alt in entry.top_logprobs or []])
                for entry in (getattr(logprobs, "content", None) or [])]
    tokens = getattr(logprobs, "tokens", None) or []
    values = getattr(logprobs, "token_logprobs", None) or []
    tops = getattr(logprobs, "top_logprobs", None) or [{}] * len(tokens)
    rows = zip(tokens, values, tops, strict=False)
    return [_token(token, value, list((top or {}).items())) for token, value, top in rows if value is not None]


def _token(text: str, logprob: float, top: list[tuple[str, float]]) -> TokenChoice:
    """A token as the page shows it. A server names tokens by text, not id (id -1); the entropy is the
    part the returned alternatives account for, so it is a lower bound."""
    prob = math.exp(logprob)
    alternatives = tuple(Alternative(-1, alt_text, math.exp(alt_logprob)) for alt_text, alt_logprob in top)
    probabilities = [alt.prob for alt in alternatives] or [prob]
    entropy = -sum(p * math.log2(p) for p in probabilities if p > 0)
    return TokenChoice(id=-1, text=text, piece=text, prob=prob, sampled_prob=prob, entropy_bits=max(entropy, 0.0),
                       alternatives=alternatives)


def _finish_reason(server: str, settings: SamplingSettings) -> str:
    if server == "length":
        return "length"
    if server == "stop":
        return "stop" if settings.stop else "eos"
    return server if server in ("cancelled", "error") else "eos"
