"""Streaming generation with per-token probabilities, shared by every tab that writes text.

The decode loop is written out (a KV cache and one forward per token) rather than hidden in
``model.generate``: the page needs each token's probability, entropy and runner-ups as it
appears, sampling needs a random generator private to the request, and a stopped request must
free the model at the next token. Logits go through transformers' own processors, so greedy
output equals ``model.generate``'s token for token (a unit test holds it to that).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import torch

from playground.core.errors import BusyError, InvalidInputError
from playground.core.iterutil import last
from playground.core.keyed_cache import KeyedCache
from playground.core.progress import ProgressFn
from playground.core.queues import GENERATIONS_PER_MODEL, WAITING_PER_MODEL
from playground.generation.queueing import FairGate, wait_in_line
from playground.generation.sampling import (
    Alternative,
    SamplingSettings,
    TokenChoice,
    choose,
    distribution_view,
    logits_processors,
)
from playground.models.store import ModelStore
from playground.text.analysis import sanitize_text

T = TypeVar("T")
FinishReason = Literal["length", "eos", "stop", "cancelled"]


@dataclass(frozen=True)
class PreparedPrompt:
    """The exact token ids the model reads, the text they spell, and what was changed on the way."""

    ids: tuple[int, ...]
    text: str
    notices: tuple[str, ...] = ()
    max_new_tokens: int = 0


@dataclass
class Generation:
    """A generation as it grows; a stream yields the same object after every token."""

    model: str
    prompt: PreparedPrompt
    settings: SamplingSettings
    tokens: list[TokenChoice] = field(default_factory=list)
    text: str = ""
    finish_reason: FinishReason | None = None
    queue_position: int = 0
    first_token_seconds: float | None = None
    compute_seconds: float = 0.0

    @property
    def done(self) -> bool:
        return self.finish_reason is not None

    @property
    def tokens_in(self) -> int:
        return len(self.prompt.ids)

    @property
    def tokens_out(self) -> int:
        return len(self.tokens)

    @property
    def decode_tokens_per_second(self) -> float | None:
        """Tokens after the first over the time they took (prefill excluded, as LLM-Perf measures)."""
        if self.first_token_seconds is None or self.tokens_out < 2:
            return None
        decode = self.compute_seconds - self.first_token_seconds
        return (self.tokens_out - 1) / decode if decode > 0 else None

    def to_dict(self, with_tokens: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "model": self.model, "prompt": self.prompt.text, "output": self.text,
            "tokens_in": self.tokens_in, "tokens_out": self.tokens_out,
            "finish_reason": self.finish_reason, "seconds": round(self.compute_seconds, 4),
            "first_token_seconds": _round(self.first_token_seconds),
            "tokens_per_second": _round(self.decode_tokens_per_second),
            "notices": list(self.prompt.notices), "settings": self.settings.to_dict(),
        }
        if with_tokens:
            data["tokens"] = [token.to_dict() for token in self.tokens]
        return data


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def context_length(config: Any) -> int:
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return 2048


def stop_token_ids(model: Any, tokenizer: Any) -> set[int]:
    """Every id that ends a turn: the generation config may list several (chat models do)."""
    ids: set[int] = set()
    for value in (getattr(model.generation_config, "eos_token_id", None), tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(v for v in value if isinstance(v, int))
    return ids


class GenerationEngine:
    """Generates on any causal model in the store; safe for many users at once."""

    def __init__(self, store: ModelStore, per_model: int = GENERATIONS_PER_MODEL) -> None:
        self.store = store
        self.per_model = per_model
        self._gates: KeyedCache[FairGate] = KeyedCache()

    def gate(self, model: str) -> FairGate:
        """The first-come-first-served line for one model."""
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
            raise InvalidInputError("The prompt is empty: type something for the model to continue.")
        lm, tokenizer = self.load(model, progress)
        rendered = render(tokenizer, text, system, chat, notices)
        ids = tokenizer(rendered, add_special_tokens=not chat or tokenizer.chat_template is None)["input_ids"]
        return fit_context(ids, rendered, context_length(lm.config), max_new_tokens, notices)

    def stream(self, model: str, prompt: str | None, settings: SamplingSettings | None = None, *,
               system: str | None = None, chat: bool = True, wait: bool = True,
               progress: ProgressFn | None = None) -> Iterator[Generation]:
        """Yield the growing :class:`Generation` after each token (and while waiting in line).

        Closing the iterator (a Stop button) ends decoding before the next forward pass.
        """
        settings = settings or SamplingSettings()
        prepared = self.prepare(model, prompt, settings.max_new_tokens, system=system, chat=chat,
                                progress=progress)
        generation = Generation(model.strip(), prepared, settings)
        if not wait:
            yield from self.decode(generation)
            return

        def waiting(position: int) -> Generation:
            generation.queue_position = position
            return generation

        yield from self.queued([model], lambda: self.decode(generation), waiting)

    def queued(self, models: list[str], body: Callable[[], Iterator[T]],
               waiting: Callable[[int], T]) -> Iterator[T]:
        """Run ``body`` once every model in ``models`` has given this request a place.

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

    def generate(self, model: str, prompt: str | None, settings: SamplingSettings | None = None,
                 **options: Any) -> Generation:
        """The finished generation (the last value of :meth:`stream`)."""
        generation = last(self.stream(model, prompt, settings, **options))
        assert generation is not None  # a stream always yields at least its first token
        return generation

    def decode(self, generation: Generation) -> Iterator[Generation]:
        """The token loop; the caller holds the model's place in line."""
        lm, tokenizer = self.load(generation.model)
        generation.queue_position = 0
        yield from decode_with(lm, tokenizer, generation)


def decode_with(lm: Any, tokenizer: Any, generation: Generation) -> Iterator[Generation]:
    """Decode ``generation`` (its prompt already prepared) on any causal model object.

    The Quantization tab runs it on private quantized copies that the store does not hold.
    """
    decoder = _Decoder(lm, tokenizer, generation)
    try:
        while not generation.done:
            started = time.perf_counter()
            decoder.step()
            generation.compute_seconds += time.perf_counter() - started
            if generation.first_token_seconds is None:
                generation.first_token_seconds = generation.compute_seconds
            yield generation
    finally:
        if not generation.done:
            generation.finish_reason = "cancelled"


def render(tokenizer: Any, text: str, system: str | None, chat: bool, notices: list[str]) -> str:
    if not chat:
        return text
    if tokenizer.chat_template is None:
        notices.append("This model has no chat template: the prompt is sent as plain text.")
        return text if not system else f"{system}\n\n{text}"
    messages = ([{"role": "system", "content": system}] if system and system.strip() else [])
    messages.append({"role": "user", "content": text})
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


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


class _Decoder:
    """One request's state: KV cache, token ids, random generator, decoded text."""

    def __init__(self, lm: Any, tokenizer: Any, generation: Generation) -> None:
        self.lm, self.tokenizer, self.generation = lm, tokenizer, generation
        self.settings = generation.settings
        self.processors = logits_processors(self.settings, len(generation.prompt.ids))
        self.device = getattr(lm, "device", torch.device("cpu"))  # a GPU model decodes on its GPU
        self.rng = torch.Generator(device=self.device).manual_seed(self.settings.seed)
        self.ids = torch.tensor([generation.prompt.ids], dtype=torch.long, device=self.device)
        self.new_ids: list[int] = []
        self.stops = stop_token_ids(lm, tokenizer)
        self.special = set(tokenizer.all_special_ids)
        self.past: Any = None
        self.keep_last = "logits_to_keep" in inspect.signature(lm.forward).parameters

    def forward(self) -> torch.Tensor:
        if self.past is None:
            inputs, extra = self.ids, ({"logits_to_keep": 1} if self.keep_last else {})
        else:
            inputs, extra = self.ids[:, -1:], {}
        output = self.lm(input_ids=inputs, past_key_values=self.past, use_cache=True, **extra)
        self.past = output.past_key_values
        return output.logits[:, -1, :].float()

    def step(self) -> None:
        """One forward pass, one token chosen, the text and finish state updated."""
        with torch.inference_mode():  # per step: a generator may resume on another thread
            logits = self.forward()
            scores = self.processors(self.ids, logits.clone())
            token, sampled_prob = choose(scores, self.settings, self.rng)
            prob, entropy, top = distribution_view(logits, token, self.settings.alternatives)
            self.ids = torch.cat([self.ids, torch.tensor([[token]], device=self.device)], dim=1)
        self.new_ids.append(token)
        self._record(token, prob, sampled_prob, entropy, top)

    def _record(self, token: int, prob: float, sampled_prob: float, entropy: float,
                top: list[tuple[int, float]]) -> None:
        generation = self.generation
        before = generation.text
        finished = token in self.stops or len(self.new_ids) >= generation.prompt.max_new_tokens
        text = self.tokenizer.decode(self.new_ids, skip_special_tokens=True)
        if text.endswith("\ufffd") and not finished:  # half a UTF-8 character: wait for the rest
            text = before
        piece = text[len(before):] if text.startswith(before) else ""
        generation.tokens.append(TokenChoice(
            id=token, text=piece, piece=self.tokenizer.convert_ids_to_tokens(token), prob=prob,
            sampled_prob=sampled_prob, entropy_bits=entropy,
            alternatives=tuple(Alternative(i, self.tokenizer.decode([i]), p) for i, p in top),
            special=token in self.special))
        generation.text = text
        cut = first_stop(text, before, self.settings.stop)
        if cut is not None:
            generation.text = text[:cut]
            generation.finish_reason = "stop"
        elif token in self.stops:
            generation.finish_reason = "eos"
        elif finished:
            generation.finish_reason = "length"


def first_stop(text: str, before: str, stops: tuple[str, ...]) -> int | None:
    """Where the earliest stop string starts, looking only where new text could complete one.

    A stop string met before any visible text (a leading newline when the stop is "\n") is
    passed over: the model has not answered yet.
    """
    found = []
    for stop in stops:
        index = text.find(stop, max(0, len(before) - len(stop) + 1))
        while index >= 0 and not text[:index].strip():
            index = text.find(stop, index + 1)
        if index >= 0:
            found.append(index)
    return min(found) if found else None


def stream_texts(streams: Iterator[Generation]) -> Iterator[str]:
    """Just the text as it grows (what ``/generate`` streams)."""
    for generation in streams:
        yield generation.text
