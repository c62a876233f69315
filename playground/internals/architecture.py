"""A model card from the loaded model itself: its config's numbers, and parameters and bytes per component.

Every parameter is counted once (a tied LM head shares the embedding's tensor and adds nothing), and
sorted into a component by its name, so the components add up to the model's total. Works for
decoder-only, encoder-only (BERT-style) and encoder-decoder (T5-style) models.
"""

from __future__ import annotations

import re
from typing import Any

from torch import nn

from playground.internals.layout import config_value, kv_head_count
from playground.models.registry import is_causal_class

COMPONENTS = ("embedding", "attention", "cross_attention", "mlp", "norm", "lm_head", "other")
"""In diagram order; ``other`` catches what no rule names (a pooler, a classifier), so nothing is lost."""

RULES = (  # (component, pattern on the parameter's name), first match wins
    ("norm", r"norm|(^|\.)ln_?\w*\.|layer_norm|LayerNorm"),
    ("cross_attention", r"EncDecAttention|crossattention|encoder_attn|cross_attn"),
    ("attention", r"attn|attention|SelfAttention"),
    ("mlp", r"mlp|ffn|feed_forward|DenseReluDense|intermediate|(^|\.)output\.dense"
            r"|(^|\.)(fc\d|c_fc|wi|wi_0|wi_1|wo)\."),
    ("embedding", r"embed|wte|wpe|shared\.|relative_attention_bias"),
    ("lm_head", r"lm_head|(^|\.)head\."),
)


def component_of(name: str) -> str:
    for component, pattern in RULES:
        if re.search(pattern, name):
            return component
    return "other"


def stack_of(name: str) -> str:
    """'encoder' or 'decoder' for an encoder-decoder's two stacks, else 'model'."""
    head = name.split(".")[0]
    return head if head in ("encoder", "decoder") else "model"


def kind_of(model: nn.Module) -> str:
    if getattr(model.config, "is_encoder_decoder", False):
        return "encoder-decoder"
    return "causal" if is_causal_class(type(model).__name__) else "bidirectional"


def positions_of(model: nn.Module) -> str:
    config = model.config
    names = [name for name, _ in model.named_parameters()]
    rope = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    if getattr(config, "rope_theta", None) or rope:
        theta = getattr(config, "rope_theta", None) or (rope.get("rope_theta") if isinstance(rope, dict) else None)
        return f"rotary (RoPE{f', theta {theta:g}' if theta else ''}): q and k are rotated by position"
    if any("relative_attention_bias" in name for name in names):
        return "relative position buckets (a learned bias added to the attention scores)"
    if any(re.search(r"position_embeddings|wpe", name) for name in names):
        return "learned absolute position embeddings, added to the token embeddings"
    return "none found"


def norm_of(model: nn.Module) -> str:
    kinds = sorted({type(module).__name__ for module in model.modules()
                    if "norm" in type(module).__name__.lower()})
    return ", ".join(kinds) or "none"


def placement_of(model: nn.Module) -> str:
    """'post' for BERT-style blocks (add, then norm: ``attention.output.LayerNorm``), else 'pre' (norm first,
    as LLaMA, GPT-2 and T5 do: it trains deep stacks more stably)."""
    names = (name for name, _ in model.named_parameters())
    return "post" if any(re.search(r"output\.LayerNorm", name) for name in names) else "pre"


def activation_of(config: Any) -> str:
    return str(config_value(config, "hidden_act", "hidden_activation", "activation_function",
                            "feed_forward_proj", "dense_act_fn", default="unknown"))


def grouped_query(heads: int | None, kv_heads: int | None) -> str:
    if not heads or not kv_heads or kv_heads == heads:
        return "no: every query head has its own keys and values (multi-head attention)"
    if kv_heads == 1:
        return f"multi-query: all {heads} query heads share one key/value head"
    return (f"yes: {heads} query heads share {kv_heads} key/value heads ({heads // kv_heads} each), "
            f"so the KV cache is {heads // kv_heads}x smaller")


def tied(model: nn.Module) -> bool:
    inputs = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    outputs = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    return bool(inputs is not None and outputs is not None and outputs.weight is inputs.weight)


def experts_of(model: nn.Module, total: int) -> dict[str, Any]:
    """A mixture-of-experts model's experts, how many each token is routed to, and the parameters one token
    goes through (every expert's weights count in the total, but only ``experts_per_token`` of them run per
    token); a dense model's active parameters are its total."""
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    experts = config_value(config, "num_local_experts", "num_experts", "n_routed_experts")
    per_token = config_value(config, "num_experts_per_tok", "moe_top_k")
    expert_parameters = sum(parameter.numel() for name, parameter in model.named_parameters()
                            if re.search(r"(^|\.)experts\.", name))
    if not experts or not per_token or not expert_parameters:
        return {"experts": None, "experts_per_token": None, "expert_parameters": 0, "active_parameters": total}
    active = total - expert_parameters + expert_parameters * int(per_token) // int(experts)
    return {"experts": int(experts), "experts_per_token": int(per_token), "expert_parameters": expert_parameters,
            "active_parameters": active}


def model_card(model: nn.Module, name: str) -> dict[str, Any]:
    """Architecture and parameter counts of a loaded transformers model, as plain data."""
    config = model.config
    totals = {component: {"parameters": 0, "bytes": 0} for component in COMPONENTS}
    stacks: dict[str, dict[str, int]] = {}
    first_block: dict[str, dict[str, int]] = {}
    for parameter_name, parameter in model.named_parameters():  # shared tensors once
        component = component_of(parameter_name)
        count, size = parameter.numel(), parameter.numel() * parameter.element_size()
        totals[component]["parameters"] += count
        totals[component]["bytes"] += size
        stack = stacks.setdefault(stack_of(parameter_name), {})
        stack[component] = stack.get(component, 0) + count
        if re.search(r"(^|\.)(layers|h|layer|block)\.0\.", parameter_name):
            block = first_block.setdefault(stack_of(parameter_name), {})
            block[component] = block.get(component, 0) + count
    kind = kind_of(model)
    heads = config_value(config, "num_attention_heads", "n_head", "num_heads")
    hidden = config_value(config, "hidden_size", "n_embd", "d_model")
    kv_heads = kv_head_count(config, heads) if heads else None
    total = sum(part["parameters"] for part in totals.values())
    return {
        "model": name, "architecture": type(model).__name__, "model_type": getattr(config, "model_type", None),
        "kind": kind,
        "attention": {"causal": "causal (each token sees only the ones before it)",
                      "bidirectional": "bidirectional (every token sees the whole text)",
                      "encoder-decoder": "bidirectional encoder; causal decoder with cross-attention to the "
                                         "encoder"}[kind],
        "vocab_size": config_value(config, "vocab_size"),
        "hidden_size": hidden,
        "num_layers": config_value(config, "num_hidden_layers", "n_layer", "num_layers"),
        "num_decoder_layers": config_value(config, "num_decoder_layers") if kind == "encoder-decoder" else None,
        "num_heads": heads,
        "num_kv_heads": kv_heads,
        "head_dim": config_value(config, "head_dim", "d_kv", default=(hidden // heads) if hidden and heads else None),
        "intermediate_size": config_value(config, "intermediate_size", "n_inner", "d_ff",
                                          default=4 * hidden if hidden else None),
        "activation": activation_of(config),
        "positions": positions_of(model),
        "max_positions": config_value(config, "max_position_embeddings", "n_positions"),
        "norms": norm_of(model),
        "norm_placement": placement_of(model),
        "grouped_query": grouped_query(heads, kv_heads),
        "tied_embeddings": tied(model),
        "dtype": str(next(model.parameters()).dtype).removeprefix("torch."),
        "parameters": total,
        **experts_of(model, total),
        "bytes": sum(part["bytes"] for part in totals.values()),
        "components": [{"component": component, **totals[component]} for component in COMPONENTS
                       if totals[component]["parameters"]],
        "stacks": stacks,
        "per_block": first_block,  # each stack's first block by component: {"model": ...} or encoder/decoder
    }
