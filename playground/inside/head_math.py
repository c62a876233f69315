"""One attention head, step by step, from the model's own projections: Softmax(q.K^T / sqrt(d)) V.

The inputs are what the head really read in the traced forward (the normed hidden states and the
rotary cos/sin the model passed it); q, k and v come from its own ``q_proj``/``k_proj``/``v_proj``
(or GPT-2's single ``c_attn``).
The result is checked against the head output the model itself computed in that forward, so a model
whose attention differs from the recipe (a sliding window, soft-capping) gets a message, never wrong
numbers.
"""

from __future__ import annotations

import sys
from typing import Any

import torch

from playground.core.errors import PlaygroundError
from playground.inside.layout import Parts, check_index, tolerance
from playground.inside.tracing import Trace


def _rounded(tensor: torch.Tensor, decimals: int = 6) -> list:
    return torch.round(tensor.double(), decimals=decimals).tolist()


def projections(parts: Parts, trace: Trace, layer: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, Any]:
    """q (heads, tokens, d), k and v (kv heads, tokens, d) of ``layer``, rotary applied, and the attention."""
    attention = parts.attentions[layer]
    hidden = trace.attention_inputs[layer][None]
    separate = all(hasattr(attention, name) for name in ("q_proj", "k_proj", "v_proj"))
    if not separate and not hasattr(attention, "c_attn"):
        raise PlaygroundError(f"{trace.model}: step-by-step head math needs q_proj, k_proj and v_proj (Llama-style) "
                              f"or one c_attn (GPT-2-style) projection; {type(attention).__name__} has neither.")
    with torch.inference_mode():
        if separate:
            flat = [projection(hidden) for projection in (attention.q_proj, attention.k_proj, attention.v_proj)]
        else:  # GPT-2: one projection makes q, k and v side by side
            flat = list(attention.c_attn(hidden).split(parts.num_heads * parts.head_dim, dim=-1))
        shaped = [tensor.view(1, trace.num_tokens, -1, parts.head_dim).transpose(1, 2) for tensor in flat]
        for index, norm_name in ((0, "q_norm"), (1, "k_norm")):  # Qwen3-style norms per head
            norm = getattr(attention, norm_name, None)
            if norm is not None:
                shaped[index] = norm(shaped[index])
        position = trace.attention_kwargs[layer].get("position_embeddings")
        if position is not None:
            rotate = getattr(sys.modules[type(attention).__module__], "apply_rotary_pos_emb", None)
            if rotate is None:
                raise PlaygroundError(f"{trace.model}: its rotary position code was not found.")
            shaped[0], shaped[1] = rotate(shaped[0], shaped[1], *position)
    q, k, v = (tensor[0].float() for tensor in shaped)
    return q, k, v, attention


def head_math(parts: Parts, trace: Trace, layer: int, head: int, query: int) -> dict[str, Any]:
    """q, the keys, the scores q.k/sqrt(d), the causal mask, the softmax and the weighted values for one
    query token of one head; ``max_difference`` is how far the output is from the model's own."""
    layer = check_index("layer", layer, parts.num_layers, trace.model)
    head = check_index("head", head, parts.num_heads, trace.model)
    query = check_index("query token", query, trace.num_tokens, "the text")
    q, k, v, attention = projections(parts, trace, layer)
    kv_head = head // (parts.num_heads // parts.num_kv_heads)
    scale = float(getattr(attention, "scaling", parts.head_dim ** -0.5))
    query_vector, keys, values = q[head, query], k[kv_head], v[kv_head]
    scores = keys @ query_vector * scale
    masked = torch.arange(trace.num_tokens, device=scores.device) > query
    weights = torch.softmax(scores.masked_fill(masked, float("-inf")), dim=-1)
    output = weights @ values
    own = trace.heads_in[layer, query, head * parts.head_dim:(head + 1) * parts.head_dim].float()
    difference = float((output - own).abs().max())
    if difference > tolerance(trace.heads_in.dtype) * max(1.0, float(own.abs().max())):
        raise PlaygroundError(f"{trace.model}: this head's attention is not the textbook recipe (recomputed output "
                              f"differs from the model's by {difference:.3g}), so it is not shown step by step.")
    return {"model": trace.model, "tokens": list(trace.tokens), "layer": layer, "head": head, "kv_head": kv_head,
            "query": query, "query_token": trace.tokens[query], "head_dim": parts.head_dim,
            "num_heads": parts.num_heads, "num_kv_heads": parts.num_kv_heads, "scale": scale,
            "q": _rounded(query_vector), "keys": _rounded(keys), "values": _rounded(values),
            "scores": _rounded(scores), "masked": masked.tolist(), "weights": _rounded(weights),
            "output": _rounded(output), "max_difference": difference}
