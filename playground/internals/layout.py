"""Where a causal LM keeps its parts (blocks, attention, output projection, final norm, LM head).

transformers names them differently per family (Llama's ``model.layers[i].self_attn.o_proj``, GPT-2's
``transformer.h[i].attn.c_proj``), so they are found by the usual names once, and anything unusual
gets a message that says which part was not found rather than a wrong number later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from playground.core.errors import InvalidInputError, PlaygroundError
from playground.models.blocks import BLOCK_LISTS, decoder_blocks

ATTENTIONS = ("self_attn", "attn", "attention", "self_attention")
OUT_PROJECTIONS = ("o_proj", "out_proj", "c_proj", "dense")
MLPS = ("mlp", "feed_forward", "ffn", "block_sparse_moe")
FINAL_NORMS = ("norm", "ln_f", "final_layer_norm", "final_layernorm", "norm_f")


def first_attribute(module: Any, names: tuple[str, ...]) -> Any:
    for name in names:
        found = getattr(module, name, None)
        if found is not None:
            return found
    return None


def config_value(config: Any, *names: str, default: Any = None) -> Any:
    """The first of ``names`` a config sets (families spell the same number differently)."""
    for name in names:
        value = getattr(config, name, None)
        if value is not None:
            return value
    return default


def kv_head_count(config: Any, heads: int) -> int:
    """Key/value heads: ``num_key_value_heads`` (Llama, Mistral, Qwen, GPT-BigCode), Falcon's own
    ``num_kv_heads`` (its new decoder architecture), one for Falcon's older multi-query layout, else
    one per query head."""
    value = config_value(config, "num_key_value_heads")
    if value:
        return int(value)
    if getattr(config, "multi_query", False) and not getattr(config, "new_decoder_architecture", False):
        return 1
    return int(config_value(config, "num_kv_heads", default=heads))


@dataclass(frozen=True)
class Parts:
    """A causal LM's pieces, and the head counts the o_proj input is laid out by."""

    blocks: nn.ModuleList
    attentions: tuple[nn.Module, ...]
    out_projections: tuple[nn.Module, ...]
    final_norm: nn.Module
    lm_head: nn.Module
    num_heads: int
    num_kv_heads: int
    head_dim: int
    logit_softcap: float | None = None
    """Gemma-2's final ``cap * tanh(logits / cap)``: direct attribution reads the logit before it."""
    logit_scale: float = 1.0
    """What the model multiplies the LM head's output by (Cohere's ``logit_scale``, 1 / Granite's
    ``logits_scaling``), before any soft cap."""

    @property
    def num_layers(self) -> int:
        return len(self.blocks)


def find_parts(model: Any, name: str) -> Parts:
    """The parts of ``model`` (a transformers causal LM), or a :class:`PlaygroundError` naming the missing one."""
    base = getattr(model, "base_model", model)
    blocks = decoder_blocks(model)
    if blocks is None:
        raise PlaygroundError(f"{name}: no list of transformer blocks found (looked for {', '.join(BLOCK_LISTS)}).")
    attentions = tuple(first_attribute(block, ATTENTIONS) for block in blocks)
    if any(attention is None for attention in attentions):
        raise PlaygroundError(f"{name}: a block without a self-attention module ({', '.join(ATTENTIONS)}).")
    out_projections = tuple(first_attribute(attention, OUT_PROJECTIONS) for attention in attentions)
    if any(projection is None for projection in out_projections):
        raise PlaygroundError(f"{name}: attention without an output projection ({', '.join(OUT_PROJECTIONS)}).")
    final_norm = first_attribute(base, FINAL_NORMS)
    lm_head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if final_norm is None or lm_head is None:
        raise PlaygroundError(f"{name}: no final norm or LM head found, so no logit lens or attribution for it.")
    config = model.config
    heads = int(config_value(config, "num_attention_heads", "n_head", "num_heads"))
    hidden = int(config_value(config, "hidden_size", "n_embd", "d_model"))
    head_dim = int(config_value(config, "head_dim", default=hidden // heads))
    kv_heads = kv_head_count(config, heads)
    softcap = config_value(config, "final_logit_softcapping")
    return Parts(blocks, attentions, out_projections, final_norm, lm_head, heads, kv_heads, head_dim,
                 float(softcap) if softcap else None, logit_scale_of(config))


def logit_scale_of(config: Any) -> float:
    """The factor a family puts on its logits after the LM head (the names TRL's fused head reads too)."""
    scale = config_value(config, "logit_scale", "output_multiplier", "lm_head_multiplier")
    if scale is None and config_value(config, "logits_scaling") is not None:
        scale = 1 / float(config.logits_scaling)
    return 1.0 if scale is None else float(scale)


def read_logits(parts: Parts, hidden: torch.Tensor) -> torch.Tensor:
    """Logits from a residual stream as the model makes them: final norm, LM head, the family's scale and
    soft cap."""
    logits = parts.lm_head(parts.final_norm(hidden))
    if parts.logit_scale != 1.0:
        logits = logits * parts.logit_scale
    if parts.logit_softcap:
        logits = torch.tanh(logits / parts.logit_softcap) * parts.logit_softcap
    return logits


def tolerance(dtype: torch.dtype) -> float:
    """Relative difference still taken as "the same computation" when a recomputation is checked against the
    model's own: float32 sums in another order differ by about 1e-6, bfloat16 and float16 by about 1e-2; a
    wrong recipe by far more."""
    return 1e-3 if dtype in (torch.float32, torch.float64) else 3e-2


def check_index(what: str, value: Any, count: int, owner: str) -> int:
    """``value`` as an index below ``count``, or an error such as "Layer 99 is out of range: X has
    layers 0 to 29." (sliders and JSON send 3.0 for 3; booleans and text are refused)."""
    from numbers import Real

    whole = isinstance(value, Real) and not isinstance(value, bool) and float(value).is_integer()
    if whole and 0 <= value < count:
        return int(value)
    shown = int(value) if whole else repr(value)
    raise InvalidInputError(f"{what.capitalize()} {shown} is out of range: {owner} has {what}s 0 to {count - 1}.")
