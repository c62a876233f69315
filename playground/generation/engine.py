"""Generation for every tab that writes text: prompts prepared, then decoded in each model's batch.

The decode loop is written out (a KV cache and one forward per step) rather than hidden in
``model.generate``: the page needs each token's probability, entropy and runner-ups as it appears,
sampling needs a random generator private to the request, and a stopped request must free its row
at the next step. Logits go through transformers' own processors, so greedy output equals
``model.generate``'s token for token (a unit test holds it to that). Concurrent requests on one
model share each forward pass (:mod:`playground.generation.scheduler`); a request's output does not
depend on what else is in its batch.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from playground.core.errors import BusyError, InvalidInputError, PlaygroundError
from playground.core.iterutil import last
from playground.core.keyed_cache import KeyedCache
from playground.core.openmp import release_openmp_workers
from playground.core.progress import ProgressFn
from playground.core.queues import ENDPOINT_IN_FLIGHT, ENDPOINT_WAITING, GENERATIONS_PER_MODEL, WAITING_PER_MODEL
from playground.generation.batch import Batch
from playground.generation.constraints import Constraint, Grammar, compile_grammar, grammar_tokenizer, logit_width
from playground.generation.endpoints import Endpoint, Endpoints
from playground.generation.queueing import FairGate, wait_in_line
from playground.generation.remote import RemoteCall, RemoteRequest, RemoteRun, unsupported_notices
from playground.generation.request import FinishReason, Generation, PreparedPrompt, chat_messages, raise_if_failed
from playground.generation.rows import Row, prefill_all, stop_token_ids
from playground.generation.sampling import SamplingSettings
from playground.generation.scheduler import BatchLimits, BatchScheduler, Request
from playground.generation.steer import Steer
from playground.models.store import ModelStore
from playground.text.analysis import sanitize_text

__all__ = ["Ask", "BatchLimits", "FinishReason", "Generation", "GenerationEngine", "PreparedPrompt",
           "decode_together", "decode_with", "stop_token_ids"]

T = TypeVar("T")
EMPTY_PROMPT = "The prompt is empty: type something for the model to continue."


@dataclass(frozen=True)
class Ask:
    """One prompt of a batch submission: side-by-side variants, evaluation items, RAG's two answers."""

    model: str
    prompt: str
    settings: SamplingSettings
    system: str | None = None
    chat: bool = True
    constraint: Constraint | None = None
    """Structured output: what this prompt's answer must match (None: free text)."""
    steer: Steer | None = None
    """Steering: a push added to the residual stream while it decodes (a local model only)."""


def context_length(config: Any) -> int:
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return 2048


class GenerationEngine:
    """Generates on any causal model in the store; safe for many users at once."""

    def __init__(self, store: ModelStore, limits: BatchLimits | None = None,
                 per_model: int = GENERATIONS_PER_MODEL, endpoints: Endpoints | None = None) -> None:
        self.store = store
        self.limits = limits or BatchLimits()
        self.per_model = per_model
        self.endpoints = Endpoints.from_env() if endpoints is None else endpoints
        """OpenAI-compatible servers whose models (``name:model-id``) generate through this engine too."""
        self._schedulers: KeyedCache[BatchScheduler] = KeyedCache()
        self._gates: KeyedCache[FairGate] = KeyedCache()
        self._endpoint_lines: KeyedCache[FairGate] = KeyedCache()
        self._grammar_tokenizers: KeyedCache[Any] = KeyedCache()
        """llguidance's view of each model's tokenizer: half a second to build, so built once."""
        self._condition = threading.Condition()
        """Shared by every model's scheduler and endpoint request, so one request list can span models
        and servers (side by side)."""

    def with_endpoints(self, extra: Endpoints | None) -> "GenerationEngine":
        """This engine seen by one browser session that added endpoints of its own: the same batches,
        lines and models, plus those endpoints (which no other session sees)."""
        if not extra or not len(extra):
            return self
        view = copy.copy(self)
        view.endpoints = self.endpoints.merged(extra)
        return view

    def locate(self, model: str) -> tuple[Endpoint, str] | None:
        """The endpoint and model id of an endpoint model (``name:model-id``); None for a local model."""
        return self.endpoints.locate(model)

    def endpoint_line(self, endpoint: Endpoint) -> FairGate:
        """Requests in flight to one server, all users together, first come first served."""
        return self._endpoint_lines.get_or_load(
            f"{endpoint.name}@{endpoint.base_url}", lambda: FairGate(ENDPOINT_IN_FLIGHT, ENDPOINT_WAITING))

    def scheduler(self, model: str) -> BatchScheduler:
        """The batch of one model (started on first use)."""
        name = model.strip()
        lm, tokenizer = self.load(name)
        return self._schedulers.get_or_load(
            name, lambda: BatchScheduler(name, lm, tokenizer, self.limits, self._condition))

    def busy(self, model: str) -> tuple[int, int]:
        """(requests decoding, requests waiting) on ``model``; (0, 0) before its first request."""
        scheduler = self._schedulers.peek(model.strip())
        return scheduler.busy if scheduler is not None else (0, 0)

    def gate(self, model: str) -> FairGate:
        """A first-come-first-served line for work on ``model`` outside its batch (a private copy,
        a fine-tuned adapter): such work decodes alone, a few at a time."""
        return self._gates.get_or_load(model.strip(), lambda: FairGate(self.per_model, WAITING_PER_MODEL))

    def load(self, model: str, progress: ProgressFn | None = None) -> tuple[Any, Any]:
        name = (model or "").strip()
        if not self.store.is_causal(name):
            raise InvalidInputError(
                f"'{name}' is an encoder (BERT-style): it reads a whole text at once and cannot write "
                "one. Choose a causal model such as smollm2-135m-instruct.")
        return self.store.causal_lm(name, progress=progress), self.store.hf_tokenizer(name, progress)

    def prepare(self, model: str, prompt: str | None, max_new_tokens: int, *, system: str | None = None,
                chat: bool = True, progress: ProgressFn | None = None) -> PreparedPrompt:
        """Render ``prompt`` with the chat template and fit it, with the new tokens, in the context."""
        text, notices = sanitize_text(prompt)
        if not text.strip():
            raise InvalidInputError(EMPTY_PROMPT)
        if self.locate(model) is not None:
            return remote_prompt(text, system, chat, notices, max_new_tokens)
        lm, tokenizer = self.load(model, progress)
        rendered, ids = rendered_ids(tokenizer, text, system, chat, notices)
        return fit_context(ids, rendered, context_length(lm.config), max_new_tokens, notices)

    def stream(self, model: str, prompt: str | None, settings: SamplingSettings | None = None, *,
               system: str | None = None, chat: bool = True, constraint: Constraint | None = None,
               steer: Steer | None = None, progress: ProgressFn | None = None) -> Iterator[Generation]:
        """Yield the growing :class:`Generation` after each token (and while waiting in line).

        Closing the iterator (a Stop button) frees the request's row before the next step. With a
        ``constraint`` the output is held to it (structured output), with ``steer`` the model is pushed
        (steering), both in the same shared batch.
        """
        settings = settings or SamplingSettings()
        prepared = self.prepare(model, prompt, settings.max_new_tokens, system=system, chat=chat,
                                progress=progress)
        yield from self._stream_prepared(model, prepared, settings, constraint, steer)

    def stream_rendered(self, model: str, rendered: str, settings: SamplingSettings | None = None
                        ) -> Iterator[Generation]:
        """Like :meth:`stream` for text the caller already rendered with the chat template (a tool-calling
        conversation, rendered with ``tools=``): the template wrote the special tokens, so none are added."""
        settings = settings or SamplingSettings()
        if self.locate(model) is not None:
            raise InvalidInputError("An endpoint model renders its own chat template: send it messages instead.")
        lm, tokenizer = self.load(model)
        ids = tokenizer(rendered, add_special_tokens=False)["input_ids"]
        prepared = fit_context(ids, rendered, context_length(lm.config), settings.max_new_tokens, [])
        yield from self._stream_prepared(model, prepared, settings)

    def _stream_prepared(self, model: str, prepared: PreparedPrompt, settings: SamplingSettings,
                         constraint: Constraint | None = None, steer: Steer | None = None) -> Iterator[Generation]:
        """One prepared prompt through the shared batch, yielding its generation after each step."""
        generation = self._generation(model, prepared, settings, constraint, steer)
        for _ in self._run([generation]):
            raise_if_failed([generation])
            yield generation

    def stream_many(self, asks: list[Ask], progress: ProgressFn | None = None) -> Iterator[list[Generation]]:
        """Submit many prompts as one batch; yield all their generations after every step.

        A prompt that cannot be prepared (empty, unknown model) fails alone: its generation has
        ``finish_reason == "error"`` and the message in ``error``.
        """
        generations = [self._prepared(ask, progress) for ask in asks]
        live = [g for g in generations if g.finish_reason is None]
        if not live:
            yield generations
            return
        for _ in self._run(live):
            yield generations

    def _prepared(self, ask: Ask, progress: ProgressFn | None) -> Generation:
        try:
            prepared = self.prepare(ask.model, ask.prompt, ask.settings.max_new_tokens, system=ask.system,
                                    chat=ask.chat, progress=progress)
        except PlaygroundError as error:
            failed = Generation(ask.model.strip(), PreparedPrompt((), ask.prompt or ""), ask.settings)
            failed.error, failed.finish_reason = str(error), "error"
            return failed
        try:
            return self._generation(ask.model, prepared, ask.settings, ask.constraint, ask.steer)
        except PlaygroundError as error:
            failed = Generation(ask.model.strip(), prepared, ask.settings, constraint=ask.constraint)
            failed.error, failed.finish_reason = str(error), "error"
            return failed

    def _generation(self, model: str, prepared: PreparedPrompt, settings: SamplingSettings,
                    constraint: Constraint | None = None, steer: Steer | None = None) -> Generation:
        located = self.locate(model)
        if located is None:
            grammar = self.grammar(model, constraint) if constraint is not None else None
            if steer is not None:
                steer.check(self.load(model)[0], model.strip())
            return Generation(model.strip(), prepared, settings, constraint=constraint, grammar=grammar, steer=steer)
        if steer is not None:
            raise InvalidInputError(f"{model.strip()} runs on a server, which does not expose its residual stream: "
                                    "steering needs a local model.")
        notices = tuple(unsupported_notices(settings))
        if constraint is not None and constraint.response_format() is None:
            notices += (f"The OpenAI API has no field for a {constraint.label}: the endpoint wrote free text, "
                        "checked here afterwards.",)
        return Generation(model.strip(), PreparedPrompt(prepared.ids, prepared.text, prepared.notices + notices,
                                                        prepared.max_new_tokens, prepared.messages),
                          settings, endpoint=located[0].name, constraint=constraint)

    def grammar(self, model: str, constraint: Constraint) -> Grammar:
        """``constraint`` compiled for a local model's tokenizer (its llguidance tokenizer kept per model)."""
        name = model.strip()
        lm, tokenizer = self.load(name)
        llg = self._grammar_tokenizers.get_or_load(
            name, lambda: grammar_tokenizer(tokenizer, logit_width(lm), stop_token_ids(lm, tokenizer)))
        return compile_grammar(constraint, tokenizer, lm, llg)

    def _run(self, generations: list[Generation]) -> Iterator[None]:
        """Submit to each model's scheduler (an endpoint's to its line), then yield after every change
        until all are done."""
        by_model: dict[str, list[Generation]] = {}
        remote: list[RemoteRequest] = []
        for generation in generations:
            if generation.endpoint is None:
                by_model.setdefault(generation.model, []).append(generation)
            else:
                remote.append(self._remote_request(generation))
        submitted: list[tuple[BatchScheduler, list[Request]]] = []
        try:
            for request in remote:
                RemoteRun(request, self.endpoint_line(request.call.endpoint), self._condition).start()
            for name in sorted(by_model):
                scheduler = self.scheduler(name)
                submitted.append((scheduler, scheduler.submit(by_model[name])))
            requests = [request for _, group in submitted for request in group]
            yield from follow(self._condition, [*requests, *remote])
        finally:
            for request in remote:
                request.cancelled.set()
            for scheduler, group in submitted:
                scheduler.cancel([request for request in group if not request.finished])

    def _remote_request(self, generation: Generation) -> RemoteRequest:
        located = self.locate(generation.model)
        assert located is not None  # _generation set ``endpoint`` from this very lookup
        endpoint, model_id = located
        response_format = generation.constraint.response_format() if generation.constraint is not None else None
        return RemoteRequest(generation, RemoteCall(endpoint, model_id, generation.prompt.messages,
                                                    generation.prompt.text, response_format))

    def generate(self, model: str, prompt: str | None, settings: SamplingSettings | None = None,
                 **options: Any) -> Generation:
        """The finished generation (the last value of :meth:`stream`)."""
        generation = last(self.stream(model, prompt, settings, **options))
        assert generation is not None  # a stream always yields at least once
        return generation

    def generate_many(self, asks: list[Ask]) -> list[Generation]:
        """Every generation of a batch submission, finished (or failed, each on its own)."""
        result = last(self.stream_many(asks))
        assert result is not None
        return result

    def queued(self, models: list[str], body: Callable[[], Iterator[T]],
               waiting: Callable[[int], T]) -> Iterator[T]:
        """Run ``body`` once every model in ``models`` has given this request a place in its :meth:`gate`.

        While in line it yields ``waiting(position)``. Places are taken one model at a time in
        name order, so two requests over the same models can never hold one each and deadlock.
        """
        held: list[tuple[FairGate, int]] = []
        try:
            for name in sorted({m.strip() for m in models}):
                gate = self.gate(name)
                try:
                    held.append((gate, gate.join()))
                except BusyError as error:
                    raise BusyError(f"The model {name} is busy: {error} for it. Try again in a minute.") from error
                for position in wait_in_line(*held[-1]):
                    yield waiting(position)
            yield from body()
        finally:
            for gate, ticket in held:
                gate.leave(ticket)


def follow(condition: threading.Condition, requests: list[Request]) -> Iterator[None]:
    """Yield after every published change to any of ``requests`` (at least once a second) until all
    are finished. The schedulers publish under ``condition``, so what a caller reads is consistent.

    Before each wait the caller's thread frees its OpenMP workers (it may have loaded the model):
    idle pools elsewhere make libgomp slow the batch thread's (:mod:`playground.core.openmp`).
    """
    seen = -1

    def version() -> int:
        return sum(request.version for request in requests)

    while True:
        release_openmp_workers()
        with condition:
            condition.wait_for(lambda last_seen=seen: version() != last_seen, timeout=1.0)
            seen = version()
            finished = all(request.finished for request in requests)
        yield
        if finished:
            return


def decode_with(lm: Any, tokenizer: Any, generation: Generation) -> Iterator[Generation]:
    """Decode ``generation`` (its prompt already prepared) alone, in the caller's thread, on any causal
    model object: the Quantization tab's private quantized copies, llama.cpp, a model in training.

    The same row and step code as the batches, with one row.
    """
    row = Row(lm, tokenizer, generation)
    try:
        prefill_all(lm, row)
        yield generation
        batch = Batch(lm)
        batch.join([row])
        while not generation.done:
            batch.step()
            yield generation
    finally:
        if not generation.done:
            generation.finish_reason = "cancelled"


def decode_together(lm: Any, tokenizer: Any, generations: list[Generation]) -> list[Generation]:
    """Decode several prepared generations as one batch in the caller's thread, to the end.

    For a model no scheduler holds (the model being trained, for its probes): one forward pass per
    step serves every prompt, as in the app's batches.
    """
    rows = [Row(lm, tokenizer, generation) for generation in generations]
    batch = Batch(lm)
    for row in rows:
        prefill_all(lm, row)
    batch.join([row for row in rows if not row.done])
    batch.drop_finished()
    while len(batch):
        batch.step()
        batch.drop_finished()
    return generations


def remote_prompt(text: str, system: str | None, chat: bool, notices: list[str],
                  max_new_tokens: int) -> PreparedPrompt:
    """An endpoint model's prompt: chat messages (its server applies its own template) or the raw text."""
    if not chat:
        return PreparedPrompt((), text, tuple(notices), max_new_tokens)
    messages = chat_messages(text, system)
    shown = "\n\n".join(f"[{message['role']}] {message['content']}" for message in messages)
    return PreparedPrompt((), shown, tuple(notices), max_new_tokens, tuple(messages))


def render(tokenizer: Any, text: str, system: str | None, chat: bool, notices: list[str]) -> str:
    if not chat:
        return text
    if tokenizer.chat_template is None:
        notices.append("This model has no chat template: the prompt is sent as plain text.")
        return text if not system else f"{system}\n\n{text}"
    return tokenizer.apply_chat_template(chat_messages(text, system), add_generation_prompt=True, tokenize=False)


def rendered_ids(tokenizer: Any, text: str, system: str | None, chat: bool,
                 notices: list[str]) -> tuple[str, list[int]]:
    """The text as the model reads it and its ids: the chat template adds its own special tokens, so the
    tokenizer adds none then (a BOS twice shifts every prediction)."""
    rendered = render(tokenizer, text, system, chat, notices)
    return rendered, tokenizer(rendered, add_special_tokens=not chat or tokenizer.chat_template is None)["input_ids"]


def fit_context(ids: list[int], text: str, context: int, max_new_tokens: int,
                notices: list[str]) -> PreparedPrompt:
    """Keep prompt plus new tokens within the context, saying what was cut."""
    new_tokens = max_new_tokens
    if new_tokens > context // 2 and len(ids) + new_tokens > context:
        new_tokens = max(context // 2, context - len(ids))
        notices.append(f"max_new_tokens lowered from {max_new_tokens:,} to {new_tokens:,}: the model "
                       f"reads at most {context:,} tokens in all.")
    keep = context - new_tokens
    if len(ids) > keep:
        notices.append(f"The prompt has {len(ids):,} tokens but the model's context is {context:,} "
                       f"tokens including the {new_tokens:,} new ones: only its last {keep:,} tokens "
                       "were used (the start was cut).")
        ids = ids[-keep:]
    return PreparedPrompt(tuple(ids), text, tuple(notices), new_tokens)
