"""q, k and v of attention modules that compute attention in their own code instead of through
transformers' attention interface (Falcon), read with the module's own methods.

:mod:`playground.internals.recording` reads every family whose attention goes through the interface. A
family that does the softmax inline gets a reader here: a function of the module and the arguments its
block called it with, replaying the module's own projection, head split and rotary positions (its own
functions, not a copy of them) up to the point where its attention starts. The head-math check against the
model's own output still guards the result.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from playground.internals.recording import AttentionCall, blocked_keys


@dataclass(frozen=True)
class Reader:
    """How to read one family's attention: ``read`` gives the call from the module's arguments;
    ``unreadable`` names the part that cannot be read for this module (None when it can be)."""

    read: Callable[[Any, tuple, dict[str, Any]], AttentionCall]
    unreadable: Callable[[Any], str | None]


def read_falcon(module: Any, args: tuple, kwargs: dict[str, Any]) -> AttentionCall:
    """FalconAttention's q, k, v after its fused projection, head split and rotary positions (as its
    ``forward`` computes them), scaled by 1/sqrt(head_dim)."""
    hidden = args[0] if args else kwargs["hidden_states"]
    with torch.inference_mode():
        query, key, value = module._split_heads(module.query_key_value(hidden))
        batch, length = query.shape[:2]
        kv_heads = module.num_heads if module.new_decoder_architecture else module.num_kv_heads
        query = query.transpose(1, 2).reshape(batch, module.num_heads, length, module.head_dim)
        key = key.transpose(1, 2).reshape(batch, kv_heads, length, module.head_dim)
        value = value.transpose(1, 2).reshape(batch, kv_heads, length, module.head_dim)
        cos, sin = kwargs["position_embeddings"]
        query, key = sys.modules[type(module).__module__].apply_rotary_pos_emb(query, key, cos, sin)
    return AttentionCall(query=query[0].float(), key=key[0].float(), value=value[0].float(),
                         blocked=blocked_keys(kwargs.get("attention_mask"), length, length),
                         scaling=float(module.head_dim ** -0.5), softcap=None, extras=())


def falcon_unreadable(module: Any) -> str | None:
    """Falcon-RW style models add an ALiBi position bias to the scores, a step the textbook recipe lacks."""
    if getattr(module.config, "alibi", False):
        return "the ALiBi position bias FalconAttention adds to the scores in its own code"
    return None


READERS: dict[str, Reader] = {"FalconAttention": Reader(read_falcon, falcon_unreadable)}
"""By attention class name: the families whose attention is read here."""


def reader_for(module: Any) -> Reader | None:
    return READERS.get(type(module).__name__)
