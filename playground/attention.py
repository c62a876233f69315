"""Attention maps for every layer and head, and summaries that make patterns stand out.

Maps come from ``output_attentions=True``, which only eager attention returns (sdpa
silently gives nothing). The eager copy is its own cache entry, so the shared sdpa model
other tabs use is never switched under them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from playground.core.errors import InvalidInputError, PlaygroundError
from playground.core.keyed_cache import LRUCache
from playground.core.progress import ProgressFn
from playground.core.validation import whole_number
from playground.models.store import ModelStore
from playground.text.analysis import TokenizerRegistry, is_added, sanitize_text, visible_whitespace
from playground.text.backends import Token

DEFAULT_MAX_TOKENS = 256
MAX_TOKENS_LIMIT = 512
"""Beyond 512 tokens a heatmap has more cells than a screen has pixels."""

EMPTY_TEXT = "Type some text to see its attention."
"""The refusal of an empty text, which the page also shows in place while its box is cleared."""

Kind = Literal["causal", "bidirectional"]
SINK_TOLERANCE = 1e-3
"""A row summing to less than 1 by more than float rounding (bf16's included) gave weight to a sink."""


@dataclass(frozen=True)
class AttentionMaps:
    """All layers' and heads' attention for one text: ``weights[layer, head, query, key]``."""

    model: str
    kind: Kind
    tokens: tuple[str, ...]
    weights: np.ndarray
    total_tokens: int

    @property
    def num_layers(self) -> int:
        return int(self.weights.shape[0])

    @property
    def num_heads(self) -> int:
        return int(self.weights.shape[1])

    @property
    def num_tokens(self) -> int:
        return int(self.weights.shape[2])

    @property
    def truncated(self) -> bool:
        return self.total_tokens > self.num_tokens

    def check(self, layer: int, head: int) -> tuple[int, int]:
        if not isinstance(layer, (int, np.integer)) or not 0 <= layer < self.num_layers:
            raise InvalidInputError(f"Layer {layer} is out of range: {self.model} has layers "
                                    f"0 to {self.num_layers - 1}.")
        if not isinstance(head, (int, np.integer)) or not 0 <= head < self.num_heads:
            raise InvalidInputError(f"Head {head} is out of range: {self.model} has heads "
                                    f"0 to {self.num_heads - 1}.")
        return int(layer), int(head)

    def head(self, layer: int, head: int) -> np.ndarray:
        layer, head = self.check(layer, head)
        return self.weights[layer, head]

    def sink_share(self, layer: int, head: int) -> list[float] | None:
        """Per query, the weight that went to an attention sink (gpt-oss): a sink takes its share of each row's
        softmax and is then dropped, so the row sums to less than 1 over the tokens. None without sinks."""
        missing = 1.0 - self.head(layer, head).astype(np.float64).sum(-1)
        return missing.clip(0.0, 1.0).tolist() if float(np.abs(missing).max()) > SINK_TOLERANCE else None

    def to_dict(self, layer: int, head: int, decimals: int = 6) -> dict[str, Any]:
        """JSON-friendly: one layer and head's n x n matrix (rows are queries), and each row's sink share
        where the model has attention sinks."""
        matrix = self.head(layer, head)
        sinks = self.sink_share(layer, head)
        return {
            "model": self.model, "kind": self.kind, "tokens": list(self.tokens),
            "num_layers": self.num_layers, "num_heads": self.num_heads,
            "layer": int(layer), "head": int(head), "num_tokens": self.num_tokens,
            "total_tokens": self.total_tokens, "truncated": self.truncated,
            "weights": np.round(matrix.astype(np.float64), decimals).tolist(),
            "sink_share": None if sinks is None else [round(share, decimals) for share in sinks],
        }


def token_label(token: Token, text: str, previous_end: int) -> str:
    """A short axis label: specials as themselves, byte pieces as hex, spaces as '·'."""
    if is_added(token) or token.special:
        return token.piece
    if token.start < previous_end:
        return " ".join(f"{byte:02X}" for byte in token.raw)
    label = text[token.start:token.end] or token.piece
    return visible_whitespace(label)


def labels_for(tokens: list[Token], text: str) -> list[str]:
    labels, end = [], 0
    for token in tokens:
        labels.append(token_label(token, text, end))
        end = max(end, token.end)
    return labels


def truncate(tokens: list[Token], limit: int) -> list[Token]:
    """First ``limit`` tokens, keeping a closing added special ([SEP]) the model expects."""
    if len(tokens) <= limit:
        return tokens
    if is_added(tokens[-1]):
        return tokens[: limit - 1] + [tokens[-1]]
    return tokens[:limit]


@dataclass(frozen=True)
class AttentionRequest:
    """One text's maps under one model, as the page and ``/attention`` ask for them: checked here, before any
    model loads, so both refuse a bad value with the same message. The text is kept sanitized and the model
    name stripped, which is what the maps are computed (and cached) on."""

    text: str
    model: str
    max_tokens: int = DEFAULT_MAX_TOKENS

    def __post_init__(self) -> None:
        cleaned, _ = sanitize_text(self.text)
        if not cleaned.strip():
            raise InvalidInputError(EMPTY_TEXT)
        if not isinstance(self.model, str) or not self.model.strip():
            raise InvalidInputError("Choose a model.")
        max_tokens = whole_number("max_tokens", self.max_tokens, 2, MAX_TOKENS_LIMIT, "longer texts are truncated")
        object.__setattr__(self, "text", cleaned)
        object.__setattr__(self, "model", self.model.strip())
        object.__setattr__(self, "max_tokens", max_tokens)


CACHE_BYTES = 256 * 2**20
"""Attention maps kept for texts sent again, by weight rather than by count: a short sentence's maps on
the 135M model weigh about 0.5 MB and a class sends the same few example sentences again and again
(under the classroom benchmark, recomputing them took as much CPU as all the decoding), while one
512-token text weighs 280 MB."""


class AttentionExplorer:
    """Computes and caches attention maps; shared by all users, safe to call concurrently."""

    def __init__(self, store: ModelStore, tokenizers: TokenizerRegistry, cache_size: int = 512,
                 cache_bytes: int = CACHE_BYTES) -> None:
        self.store = store
        self.tokenizers = tokenizers
        self._results: LRUCache[AttentionMaps] = LRUCache(cache_size, cache_bytes,
                                                          lambda maps: int(maps.weights.nbytes))

    def kind(self, model: str) -> Kind:
        return "causal" if self.store.is_causal(model) else "bidirectional"

    def eager_model(self, model: str, progress: ProgressFn | None = None) -> Any:
        if self.kind(model) == "causal":
            return self.store.causal_lm(model, attn_implementation="eager", progress=progress)
        return self.store.encoder(model, attn_implementation="eager", progress=progress)

    def compute(self, text: str | None, model: str, max_tokens: int = DEFAULT_MAX_TOKENS,
                progress: ProgressFn | None = None) -> AttentionMaps:
        """Maps for ``text`` under ``model``, truncated to ``max_tokens`` (at most 512)."""
        return self.maps(AttentionRequest(text, model, max_tokens), progress)

    def maps(self, request: AttentionRequest, progress: ProgressFn | None = None) -> AttentionMaps:
        """The request's maps: the page's views and ``/attention`` alike, cached by text, model and length."""
        key = (request.model, request.text, request.max_tokens)
        return self._results.get_or_compute(key, lambda: self._forward(request.text, request.model,
                                                                       request.max_tokens, progress))

    def _forward(self, text: str, model_name: str, max_tokens: int,
                 progress: ProgressFn | None) -> AttentionMaps:
        all_tokens = self.tokenizers.get(model_name, progress).encode(text)
        tokens = truncate(all_tokens, max_tokens)
        model = self.eager_model(model_name, progress)
        ids = torch.tensor([[token.id for token in tokens]], device=model.device)
        # The maps need no next-token scores: the decoder alone gives them, without the LM head (a
        # fifth of the 135M model's weights; a third of an attention pass's time with it). An encoder
        # is its own base model.
        with torch.inference_mode():
            output = model.base_model(input_ids=ids, attention_mask=torch.ones_like(ids), output_attentions=True)
        if not output.attentions or output.attentions[0] is None:
            raise PlaygroundError(f"{model_name} returned no attention weights (its attention "
                                  "implementation does not expose them).")
        weights = torch.stack([layer[0] for layer in output.attentions]).float().cpu().numpy()
        return AttentionMaps(model_name, self.kind(model_name), tuple(labels_for(tokens, text)),
                             weights, len(all_tokens))


def head_summaries(maps: AttentionMaps) -> dict[str, np.ndarray]:
    """Per (layer, head) numbers that make head types visible at a glance.

    - entropy: mean over queries of the row's entropy in nats (low = focused head);
    - first_token: mean weight on token 0 (high = an "attention sink");
    - previous_token: mean weight on the token just before (high = a previous-token head).
    """
    weights = maps.weights.astype(np.float64)
    entropy = -(weights * np.log(np.clip(weights, 1e-12, None))).sum(-1).mean(-1)
    first = weights[..., :, 0].mean(-1)
    n = maps.num_tokens
    previous = (weights[..., np.arange(1, n), np.arange(n - 1)].mean(-1) if n > 1
                else np.zeros_like(first))
    return {"entropy": entropy, "first_token": first, "previous_token": previous}


def rollout(maps: AttentionMaps, residual: float = 0.5) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema, 2020): how much each input token feeds each position.

    Heads are averaged, the residual connection added as identity, rows renormalized, and
    the layers multiplied from the first to the last.
    """
    n = maps.num_tokens
    result = np.eye(n)
    for layer in maps.weights.astype(np.float64):
        mixed = residual * np.eye(n) + (1 - residual) * layer.mean(0)
        mixed /= mixed.sum(-1, keepdims=True)
        result = mixed @ result
    return result


def hide_first_token(rows: np.ndarray) -> tuple[np.ndarray, float]:
    """Drop column 0 (the attention sink) and renormalize each row over the other tokens.

    Returns the rows without token 0 and the mean share token 0 had. Masked entries (NaN)
    stay masked; a row with nothing left (token 0 looking at itself) becomes NaN.
    """
    share = float(np.nanmean(rows[:, 0]))
    rest = rows[:, 1:].astype(np.float64)
    totals = np.nansum(rest, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rest = np.where(totals > 0, rest / totals, np.nan)
    return rest, share


def pinned_token(maps: AttentionMaps, index: int) -> np.ndarray:
    """Where token ``index`` looks in every layer, averaged over heads: shape (layers, tokens)."""
    if not 0 <= index < maps.num_tokens:
        raise InvalidInputError(f"Token {index} is out of range (0 to {maps.num_tokens - 1}).")
    return maps.weights[:, :, index, :].mean(1)
