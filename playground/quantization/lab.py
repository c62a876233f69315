"""The same model in several quantization methods, measured side by side against fp32.

Per method, with the LLM-Perf method for speed: weight bytes, load-and-quantize time, prefill
of a 256-token prompt, decode rate over 64 new tokens, perplexity on a shipped reference text;
and on the user's prompt, against fp32: KL divergence of next-token distributions, top-1
agreement, and the greedy generation with the first token that differs. One method is loaded
at a time, measured, then freed. Rows are cached per (model, method, prompt, new tokens).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from playground.core.device import device_kind
from playground.core.errors import InvalidInputError, PlaygroundError, UnknownModelError, first_line, is_out_of_memory
from playground.core.iterutil import last
from playground.core.keyed_cache import LRUCache
from playground.core.model_names import needs_weights_message, split_endpoint_model
from playground.core.paths import ASSETS
from playground.core.queues import QUANT_RUNS_AT_ONCE
from playground.generation.engine import Generation, GenerationEngine, PreparedPrompt, context_length, decode_with
from playground.generation.queueing import FairGate, wait_in_line
from playground.generation.sampling import SamplingSettings
from playground.quantization.methods import METHODS, load_variant, method
from playground.quantization.metrics import first_difference, kl_and_agreement, perplexity

log = logging.getLogger(__name__)

REFERENCE_TEXT = ASSETS / "quantization" / "reference.txt"
SPEED_PROMPT_TOKENS, SPEED_NEW_TOKENS = 256, 64
DEFAULT_NEW_TOKENS = 40
REFERENCE = "fp32"


@dataclass
class QuantRow:
    """One method's measurements; ``status`` moves pending -> running -> done / failed / unavailable."""

    method: str
    title: str
    bits: int
    status: str = "pending"
    step: str = ""
    error: str | None = None
    weight_bytes: int | None = None
    load_seconds: float | None = None
    prefill_seconds: float | None = None
    tokens_per_s: float | None = None
    perplexity: float | None = None
    kl_vs_fp32: float | None = None
    top1_agreement: float | None = None
    output: str = ""
    output_ids: list[int] = field(default_factory=list)
    output_pieces: list[str] = field(default_factory=list)
    first_difference: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class QuantComparison:
    model: str
    prompt: str
    device: str
    rows: list[QuantRow]
    queue_position: int = 0

    @property
    def done(self) -> bool:
        return all(row.status in ("done", "failed", "unavailable") for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "prompt": self.prompt, "device": self.device,
                "rows": [row.to_dict() for row in self.rows]}


@dataclass(frozen=True)
class _Reference:
    """fp32's answers every other method is compared with."""

    prompt_logits: Any
    output_ids: list[int]


class QuantLab:
    """Runs comparisons one at a time per app (each loads whole models), first come first served."""

    def __init__(self, engine: GenerationEngine, cache_size: int = 64) -> None:
        self.engine = engine
        self.store = engine.store
        self._rows: LRUCache[QuantRow] = LRUCache(cache_size)
        self._references: LRUCache[_Reference] = LRUCache(8)
        self.gate = FairGate(QUANT_RUNS_AT_ONCE)

    @property
    def device(self) -> str:
        """Where the variants load: the store's device, the app's one decision (``Settings.device``)."""
        return self.store.settings.device

    def compare(self, model: str, methods: list[str], prompt: str | None,
                max_new_tokens: int = DEFAULT_NEW_TOKENS) -> Iterator[QuantComparison]:
        """Yield the comparison after every step; rows fill one method at a time."""
        names = [name for name in dict.fromkeys(methods or []) if name]
        if not names:
            raise InvalidInputError(f"Choose at least one method ({', '.join(METHODS)}).")
        for name in names:
            method(name)  # an unknown name is an error before anything loads
        if REFERENCE not in names:
            names.insert(0, REFERENCE)  # everything is measured against fp32
        model = (model or "").strip()
        if split_endpoint_model(model):  # before the prompt is prepared the endpoint's way
            raise UnknownModelError(needs_weights_message(model, "Quantization"))
        prepared = self.engine.prepare(model, prompt, max_new_tokens)
        state = QuantComparison(model, prepared.text, device_kind(self.device),
                                [QuantRow(n, METHODS[n].title, METHODS[n].bits) for n in names])
        ticket = self.gate.join()
        try:
            for position in wait_in_line(self.gate, ticket):
                state.queue_position = position
                yield state
            state.queue_position = 0
            for index, row in enumerate(state.rows):
                key = (model, row.method, prepared.ids, max_new_tokens)
                cached = self._rows.peek(key)
                if row.method == REFERENCE and self._references.peek(key[:1] + key[2:]) is None:
                    cached = None  # its logits fell out of the cache: measure it again
                if cached is not None:
                    state.rows[index] = cached
                    yield state
                    continue
                yield from self._measure(state, row, prepared, max_new_tokens)
                if row.status == "done":
                    self._rows.put(key, row)
        finally:
            self.gate.leave(ticket)

    def _measure(self, state: QuantComparison, row: QuantRow, prepared: Any,
                 max_new_tokens: int) -> Iterator[QuantComparison]:
        reason = METHODS[row.method].unavailable_reason(state.device)  # type: ignore[arg-type]
        if reason:
            row.status, row.error = "unavailable", reason
            yield state
            return
        row.status, row.step = "running", "loading and quantizing"
        yield state
        variant = None
        try:
            variant = load_variant(self.store, state.model, row.method, self.device)
            row.load_seconds, row.weight_bytes = variant.load_seconds, variant.weight_bytes
            row.step = "perplexity on the reference text"
            yield state
            reference_ids = self._reference_ids(state.model)
            row.perplexity = perplexity(variant.logits(reference_ids), torch.tensor(reference_ids))
            row.step = f"speed: {SPEED_PROMPT_TOKENS}-token prompt, {SPEED_NEW_TOKENS} new tokens"
            yield state
            speed = self._run(variant, state.model, reference_ids[:SPEED_PROMPT_TOKENS], SPEED_NEW_TOKENS)
            row.prefill_seconds, row.tokens_per_s = speed.first_token_seconds, speed.decode_tokens_per_second
            row.step = "your prompt against fp32"
            yield state
            logits = variant.logits(list(prepared.ids))
            output = self._run(variant, state.model, list(prepared.ids), max_new_tokens)
            row.output = output.text
            row.output_ids = [token.id for token in output.tokens]
            row.output_pieces = [token.text for token in output.tokens]
            reference = self._reference(state.model, prepared.ids, max_new_tokens, row, logits)
            row.kl_vs_fp32, row.top1_agreement = kl_and_agreement(reference.prompt_logits, logits)
            row.first_difference = first_difference(reference.output_ids, row.output_ids)
            row.status, row.step = "done", ""
        except Exception as error:  # noqa: BLE001 - one method failing must not end the comparison
            if not isinstance(error, PlaygroundError) and not is_out_of_memory(error):
                log.warning("quantization method %s failed", row.method, exc_info=True)
            row.status, row.step, row.error = "failed", "", _failure(error)
        finally:
            if variant is not None:
                variant.release()
        yield state

    def _reference(self, model: str, ids: tuple[int, ...], max_new_tokens: int, row: QuantRow,
                   logits: Any) -> _Reference:
        """fp32's logits and output for this prompt: from the fp32 row itself, or cached."""
        key = (model, ids, max_new_tokens)
        if row.method == REFERENCE:
            reference = _Reference(logits, row.output_ids)
            self._references.put(key, reference)
            return reference
        cached = self._references.peek(key)
        if cached is None:
            raise PlaygroundError("The fp32 reference is missing (it failed to load), so nothing "
                                  "can be compared with it.")
        return cached

    def _reference_ids(self, model: str) -> list[int]:
        """The reference text's first 1024 tokens, or fewer for a model whose context is shorter (the speed
        run then decodes its new tokens within that context too)."""
        lm, tokenizer = self.engine.load(model)
        room = min(1024, context_length(lm.config) - SPEED_NEW_TOKENS)
        return tokenizer(REFERENCE_TEXT.read_text(encoding="utf-8"))["input_ids"][:room]

    def _run(self, variant: Any, model: str, ids: list[int], new_tokens: int) -> Generation:
        _, tokenizer = self.engine.load(model)
        settings = SamplingSettings(max_new_tokens=new_tokens, alternatives=0)
        generation = Generation(model, PreparedPrompt(tuple(ids), "", (), new_tokens), settings)
        result = last(decode_with(variant.model, tokenizer, generation))
        assert result is not None
        return result


def _failure(error: BaseException) -> str:
    if is_out_of_memory(error):
        return "Out of memory while loading or running this method; the other rows are unaffected."
    return first_line(error, with_type=True)
