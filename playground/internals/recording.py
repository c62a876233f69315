"""Read q, k, v, the mask and the scale exactly as a model hands them to its attention function.

Every attention module that goes through transformers' attention interface (Llama, Qwen, Mistral, Gemma,
Phi-3's fused ``qkv_proj``, GPT-NeoX's ``query_key_value``, GPT-2's ``c_attn``...) computes its own
projections, norms and rotary positions, then calls ``attention_interface(module, query, key, value, mask,
scaling=..., softcap=..., ...)``. Registering one more implementation under :data:`RECORDING` lets a private
view record those arguments and then delegate to the implementation the model was loaded with, so the
step-by-step view needs no per-family code and shows the mask the model really used (sliding windows too).
Its mask function is transformers' ``eager_mask``: an explicit float mask, never "causal, implied".
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from transformers.masking_utils import AttentionMaskInterface, eager_mask
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS, AttentionInterface

RECORDING = "playground_record"
RECORDER = "playground_recorder"
"""The attribute a view sets on its own (copied) attention modules; the shared model's never have it."""


@dataclass(frozen=True)
class AttentionCall:
    """One layer's attention inputs for one text: ``query`` (heads, tokens, d), ``key`` and ``value``
    (kv heads, tokens, d), ``blocked`` (query tokens, key tokens) True where the mask shuts a key out,
    ``scaling`` the factor on q.k, ``softcap`` the tanh cap on scores where the model has one."""

    query: torch.Tensor
    key: torch.Tensor
    value: torch.Tensor
    blocked: torch.Tensor
    scaling: float
    softcap: float | None
    extras: tuple[str, ...]
    """Keyword arguments beyond the textbook recipe: the check decides whether they mattered."""
    sinks: torch.Tensor | None = None
    """Per query head, the logit of an attention sink (gpt-oss's ``s_aux``): one more column in each row's
    softmax that takes its share of the weight and is then dropped, so the row sums to less than 1."""


TEXTBOOK = {"dropout", "scaling", "softcap", "sliding_window", "is_causal", "position_ids", "cache_position",
            "position_embeddings", "output_attentions", "use_cache", "past_key_values", "layer_idx", "s_aux"}


def _delegate(module: Any, implementation: str) -> Callable:
    own_eager = getattr(sys.modules[type(module).__module__], "eager_attention_forward", None)
    if implementation == "eager":
        if own_eager is None:
            raise KeyError("eager_attention_forward")
        return own_eager
    return ALL_ATTENTION_FUNCTIONS[implementation]


def blocked_keys(mask: torch.Tensor | None, queries: int, keys: int) -> torch.Tensor:
    if mask is None:  # eager_mask always builds one; kept for models that pass None deliberately
        return torch.ones(queries, keys, dtype=torch.bool).triu(1)
    plane = mask[0, 0] if mask.dim() == 4 else mask
    if plane.dtype == torch.bool:
        return ~plane[-queries:, -keys:].cpu()
    return (plane[-queries:, -keys:] < torch.finfo(plane.dtype).min / 2).cpu()


@dataclass(frozen=True)
class Recorder:
    """What a view puts on one of its attention modules: the implementation that really computes, and
    ``sink()``, which returns where this forward's call goes (or None when nothing records)."""

    implementation: str
    sink: Callable[[], Callable[[AttentionCall], None] | None]


def record_attention(module: Any, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                     attention_mask: torch.Tensor | None, **kwargs: Any) -> Any:
    """The registered implementation: hand the call to the module's recorder (a view's), then run the real one."""
    recorder: Recorder | None = getattr(module, RECORDER, None)
    if recorder is None:
        raise RuntimeError(f"{RECORDING} attention is only for a playground ModelView's own modules.")
    keep = recorder.sink()
    if keep is not None:
        scaling = kwargs.get("scaling")
        keep(AttentionCall(
            query=query[0].detach().float(), key=key[0].detach().float(), value=value[0].detach().float(),
            blocked=blocked_keys(attention_mask, query.shape[-2], key.shape[-2]),
            scaling=float(query.shape[-1] ** -0.5 if scaling is None else scaling),
            softcap=kwargs.get("softcap"),
            sinks=None if kwargs.get("s_aux") is None else kwargs["s_aux"].detach().float().cpu(),
            extras=tuple(sorted(name for name, value in kwargs.items() if value is not None and name not in TEXTBOOK))))
    return _delegate(module, recorder.implementation)(module, query, key, value, attention_mask, **kwargs)


def register() -> None:
    """Make :data:`RECORDING` a valid ``attn_implementation`` (idempotent: a registry entry, set once)."""
    if RECORDING not in ALL_ATTENTION_FUNCTIONS:
        AttentionInterface.register(RECORDING, record_attention)
        AttentionMaskInterface.register(RECORDING, eager_mask)
