"""What one generation request is, as it grows: its prepared prompt, settings, tokens and text.

Plain data shared by the engine, the batch scheduler and every caller; no model code here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from playground.core.errors import PlaygroundError
from playground.generation.sampling import SamplingSettings, TokenChoice, penalty_moves

if TYPE_CHECKING:
    from playground.generation.constraints import Constraint, Grammar, GrammarStep
    from playground.generation.steer import Steer

FinishReason = Literal["length", "eos", "stop", "cancelled", "error", "cut"]
"""``cut``: an endpoint's stream broke off mid-way; the text so far is kept and ``error`` says why."""


def chat_messages(text: str, system: str | None) -> list[dict[str, str]]:
    """The chat turns a prompt becomes: the system prompt where there is one, then the user's text
    (rendered here with the model's template, or sent as they are to an endpoint)."""
    messages = [{"role": "system", "content": system}] if system and system.strip() else []
    return [*messages, {"role": "user", "content": text}]


@dataclass(frozen=True)
class PreparedPrompt:
    """The exact token ids the model reads, the text they spell, and what was changed on the way."""

    ids: tuple[int, ...]
    text: str
    notices: tuple[str, ...] = ()
    max_new_tokens: int = 0
    messages: tuple[dict[str, str], ...] | None = None
    """For an endpoint model with the chat template on: the chat messages sent (the server renders
    them with its own template, so ``ids`` is empty)."""


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
    """Seconds from the start of its prefill to its latest token: what this request waited for, whatever
    else shared its batch."""
    error: str | None = None
    """Why it failed, when ``finish_reason`` is "error" (a batch of many keeps its other rows)."""
    endpoint: str | None = None
    """The endpoint's name for a model on an OpenAI-compatible server; None for a local model."""
    notices: list[str] = field(default_factory=list)
    """What the run itself found out (an endpoint sent no probabilities), after the prompt's notices."""
    reported_tokens_in: int | None = None
    reported_tokens_out: int | None = None
    """Token counts an endpoint reported (``usage``): it tokenizes, so this process has no ids to count."""
    constraint: Constraint | None = None
    """What its output must match (structured output); None for free text."""
    grammar: Grammar | None = None
    """The constraint compiled for a local model's tokenizer (an endpoint gets ``response_format`` instead)."""
    grammar_steps: list[GrammarStep] = field(default_factory=list)
    """Per token of a constrained local row: tokens allowed, the model's top choices removed."""
    grammar_seconds: float = 0.0
    """Time its masks and matcher took (part of ``compute_seconds``)."""
    grammar_accepting: bool | None = None
    """Whether the grammar accepts the output as it stands (None without a local grammar)."""
    steer: Steer | None = None
    """A push added to its residual stream while it decodes (steering); None for the model as it is."""

    @property
    def done(self) -> bool:
        return self.finish_reason is not None

    @property
    def tokens_in(self) -> int:
        return self.reported_tokens_in if self.reported_tokens_in is not None else len(self.prompt.ids)

    @property
    def tokens_out(self) -> int:
        if self.reported_tokens_out is not None and not self.tokens:
            return self.reported_tokens_out
        return len(self.tokens)

    @property
    def all_notices(self) -> list[str]:
        return [*self.prompt.notices, *self.notices]

    @property
    def has_probabilities(self) -> bool:
        """False for an endpoint that sent only text: the page shows it plain."""
        return bool(self.tokens) or self.endpoint is None

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
            "notices": self.all_notices, "settings": self.settings.to_dict(),
            "endpoint": self.endpoint, "probabilities": self.has_probabilities,
            "penalty_moved_tokens": penalty_moves(self.tokens),
        }
        if self.error is not None:
            data["error"] = self.error
        if with_tokens:
            data["tokens"] = [token.to_dict() for token in self.tokens]
        return data


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def raise_if_failed(generations: Sequence[Generation]) -> None:
    """A batch whose generation failed raises that generation's message (the others' texts mean nothing
    without it)."""
    failed = next((g for g in generations if g.finish_reason == "error"), None)
    if failed is not None:
        raise PlaygroundError(failed.error or "Generation failed.")
