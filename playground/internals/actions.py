"""Inside the model's actions, one per view: a validated request in, plain data out.

The page and the endpoints (``/next_token``, ``/attention_math``, ``/logit_lens``, ``/head_attribution``,
``/ablate``) build the same request and call the same action, so a bad value fails with one message in both,
and neither computes a view its own way. The numbers come from :class:`ModelInspector`, which caches the
traced forward, so a request per slider move costs no new forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from playground.core.errors import InvalidInputError
from playground.core.progress import ProgressFn
from playground.core.validation import whole_number
from playground.generation.sampling import MAX_SEED, SamplingSettings
from playground.internals import distribution
from playground.internals.inspector import ModelInspector

EMPTY_TEXT = "Type some text: the model predicts the token that comes after it."


@dataclass(frozen=True)
class TextRequest:
    """A text and the causal model that reads it: what every step-by-step view starts from."""

    text: str
    model: str

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text.strip():
            raise InvalidInputError(EMPTY_TEXT)
        if not isinstance(self.model, str) or not self.model.strip():
            raise InvalidInputError("Pick a model: an embedded name, a Hub id or a local folder.")
        object.__setattr__(self, "model", self.model.strip())


@dataclass(frozen=True)
class NextTokenRequest(TextRequest):
    """The next-token distribution under sampling settings (checked as generation checks them)."""

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        settings = distribution.settings_for(self.temperature, self.top_k, self.top_p)
        object.__setattr__(self, "temperature", settings.temperature)
        object.__setattr__(self, "top_k", settings.top_k)
        object.__setattr__(self, "top_p", settings.top_p)

    @property
    def settings(self) -> SamplingSettings:
        return distribution.settings_for(self.temperature, self.top_k, self.top_p)


@dataclass(frozen=True)
class SampleRequest(NextTokenRequest):
    """One token drawn under the settings with ``seed``, so a draw can be repeated."""

    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "seed", whole_number("seed", self.seed, 0, MAX_SEED, "any whole number from 0"))


@dataclass(frozen=True)
class HeadRequest(TextRequest):
    """One head for one query token (None: the last). The ranges depend on the model, so the inspector checks
    them once it is loaded ("Head 9 is out of range: ... has heads 0 to 8.")."""

    layer: int = 0
    head: int = 0
    query: int | None = None


@dataclass(frozen=True)
class TokenRequest(TextRequest):
    """A token to explain: a string that is one token, a token id, or None (empty) for the top prediction."""

    token: str | int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.token == "":
            object.__setattr__(self, "token", None)


@dataclass(frozen=True)
class AblationRequest(TextRequest):
    """A head zeroed (layer and head), a whole layer skipped (head None) or nothing (both None)."""

    layer: int | None = None
    head: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.layer is None and self.head is not None:
            raise InvalidInputError("Pick the layer of the head to knock out.")


@dataclass(frozen=True)
class Overview:
    """A traced text in a model: the sizes the views range over, and the tokens a query can be."""

    model: str
    num_layers: int
    num_heads: int
    num_kv_heads: int
    tokens: tuple[str, ...]
    total_tokens: int

    @property
    def num_tokens(self) -> int:
        return len(self.tokens)

    @property
    def truncated(self) -> bool:
        return self.total_tokens > self.num_tokens

    def fit(self, request: HeadRequest) -> HeadRequest:
        """The nearest head this model and text have: a slider left from a bigger model (or a query from a
        longer text) picks the last one instead of failing; no query picks the last token."""
        query = self.num_tokens - 1 if request.query is None else _clip(request.query, self.num_tokens - 1)
        return replace(request, layer=_clip(request.layer, self.num_layers - 1),
                       head=_clip(request.head, self.num_heads - 1), query=query)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "num_layers": self.num_layers, "num_heads": self.num_heads,
                "num_kv_heads": self.num_kv_heads, "tokens": list(self.tokens), "num_tokens": self.num_tokens,
                "total_tokens": self.total_tokens, "truncated": self.truncated}


def _clip(value: float | None, upper: int) -> int:
    return max(0, min(int(value or 0), upper))


def overview(inside: ModelInspector, request: TextRequest, progress: ProgressFn | None = None) -> Overview:
    """Trace the text (cached for the other views) and say what it and the model hold."""
    traced = inside.trace(request.text, request.model, progress)
    parts = inside.view(request.model).parts
    return Overview(traced.model, parts.num_layers, parts.num_heads, parts.num_kv_heads, traced.tokens,
                    traced.total_tokens)


def next_token(inside: ModelInspector, request: NextTokenRequest) -> dict[str, Any]:
    """The 20 most likely next tokens, before and after the settings, with the cut-off."""
    return inside.next_token(request.text, request.model, request.temperature, request.top_k, request.top_p)


def sample(inside: ModelInspector, request: SampleRequest) -> dict[str, Any]:
    """One token drawn under the settings, and the text with it appended."""
    return inside.sample(request.text, request.model, request.temperature, request.top_k, request.top_p,
                         request.seed)


def attention_math(inside: ModelInspector, request: HeadRequest) -> dict[str, Any]:
    """One head step by step: q, keys, values, scores, mask, weights, output."""
    return inside.attention_math(request.text, request.model, request.layer, request.head, request.query)


def logit_lens(inside: ModelInspector, request: TextRequest) -> dict[str, Any]:
    """What every layer would predict at the last positions."""
    return inside.logit_lens(request.text, request.model)


def head_attribution(inside: ModelInspector, request: TokenRequest) -> dict[str, Any]:
    """Each head's direct contribution to the token's logit."""
    return inside.head_attribution(request.text, request.model, request.token)


def ablate(inside: ModelInspector, request: AblationRequest) -> dict[str, Any]:
    """The next-token distribution with the part knocked out, beside the model's own."""
    return inside.ablate(request.text, request.model, request.layer, request.head)


def sweep(inside: ModelInspector, request: TokenRequest, progress: ProgressFn | None = None) -> dict[str, Any]:
    """Every head zeroed and every layer skipped in turn: the token's log-probability change."""
    return inside.sweep(request.text, request.model, request.token, progress)
