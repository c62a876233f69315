"""One attention head, step by step, from the model's own tensors: Softmax(q.K^T / sqrt(d)) V.

q, k and v are what the head's attention function really got in the traced forward (after the model's own
projections, per-head norms and rotary positions, whatever its family: separate or fused projections), and
the mask is the one the model built (causal, with a sliding window where it has one). The result is checked
against the head output the model itself computed in that forward, so an attention that differs from the
recipe (ALiBi's position bias, say) gets a message, never wrong numbers. Attention sinks (gpt-oss) are
part of the recipe shown: one more softmax column per head whose share is dropped.
"""

from __future__ import annotations

from typing import Any

import torch

from playground.core.errors import PlaygroundError
from playground.internals.layout import Parts, check_index, tolerance
from playground.internals.recording import AttentionCall
from playground.internals.tracing import Trace


def _rounded(tensor: torch.Tensor, decimals: int = 6) -> list:
    return torch.round(tensor.double(), decimals=decimals).tolist()


def recorded_call(parts: Parts, trace: Trace, layer: int, unreadable: str | None = None) -> AttentionCall:
    """Layer ``layer``'s recorded attention inputs, or a message naming the part that could not be read."""
    call = trace.attention_calls[layer] if trace.attention_calls else None
    if call is None:
        part = unreadable or (f"attention computed in {type(parts.attentions[layer]).__name__}'s own code rather "
                              "than through transformers' attention interface")
        raise PlaygroundError(f"{trace.model}: this head cannot be shown step by step, because this view does not "
                              f"read {part}. The other views work for it.")
    return call


def head_math(parts: Parts, trace: Trace, layer: int, head: int, query: int,
              unreadable: str | None = None) -> dict[str, Any]:
    """q, the keys, the dot products q.k, the scores (times the model's scale, through its soft cap if it has
    one), the mask, the softmax and the weighted values for one query token of one head; ``window`` is how many
    keys a sliding window lets it see (None: causal only); ``max_difference`` is how far the output is from
    the model's own."""
    layer = check_index("layer", layer, parts.num_layers, trace.model)
    head = check_index("head", head, parts.num_heads, trace.model)
    query = check_index("query token", query, trace.num_tokens, "the text")
    call = recorded_call(parts, trace, layer, unreadable)
    kv_head = head // (call.query.shape[0] // call.key.shape[0])
    scale = call.scaling
    query_vector, keys, values = call.query[head, query], call.key[kv_head], call.value[kv_head]
    dots = keys @ query_vector
    scores = dots * scale
    if call.softcap:  # Gemma-2 style: scores squashed into (-cap, cap) before the softmax
        scores = torch.tanh(scores / call.softcap) * call.softcap
    masked = call.blocked[query].to(scores.device)
    open_scores = scores.masked_fill(masked, float("-inf"))
    sink = None if call.sinks is None else float(call.sinks[head])
    if sink is None:
        weights = torch.softmax(open_scores, dim=-1)
    else:  # gpt-oss: the sink is one more softmax column, dropped afterwards (its share goes nowhere)
        weights = torch.softmax(torch.cat([open_scores, open_scores.new_tensor([sink])]), dim=-1)[:-1]
    output = weights @ values
    own = trace.heads_in[layer, query, head * parts.head_dim:(head + 1) * parts.head_dim].float()
    difference = float((output - own).abs().max())
    if difference > tolerance(trace.heads_in.dtype) * max(1.0, float(own.abs().max())):
        extras = f" (it also takes {', '.join(call.extras)})" if call.extras else ""
        raise PlaygroundError(f"{trace.model}: this head's attention is not the textbook recipe{extras}: the "
                              f"recomputed output differs from the model's by {difference:.3g}, so it is not shown "
                              "step by step.")
    return {"model": trace.model, "tokens": list(trace.tokens), "layer": layer, "head": head, "kv_head": kv_head,
            "query": query, "query_token": trace.tokens[query], "head_dim": parts.head_dim,
            "num_heads": parts.num_heads, "num_kv_heads": parts.num_kv_heads, "scale": scale,
            "softcap": call.softcap, "window": _window(masked, query),
            "sink_logit": sink, "sink_weight": None if sink is None else 1 - float(weights.sum()),
            "q": _rounded(query_vector), "keys": _rounded(keys), "values": _rounded(values),
            "dots": _rounded(dots), "scores": _rounded(scores), "masked": masked.tolist(), "weights": _rounded(weights),
            "output": _rounded(output), "max_difference": difference}


def _window(masked: torch.Tensor, query: int) -> int | None:
    """How many keys this query may see when a sliding window (not only causality) shuts earlier ones out."""
    earlier_blocked = bool(masked[:query].any())
    return int((~masked).sum()) if earlier_blocked else None


def attention_weights(call: AttentionCall) -> torch.Tensor:
    """Every head's attention weights for every query (heads x queries x keys), by the recipe
    :func:`head_math` shows for one query: scores, soft cap, mask, softmax (with the sink column dropped)."""
    groups = call.query.shape[0] // call.key.shape[0]
    keys = call.key.float().repeat_interleave(groups, dim=0)
    scores = call.query.float() @ keys.transpose(-1, -2) * call.scaling
    if call.softcap:
        scores = torch.tanh(scores / call.softcap) * call.softcap
    scores = scores.masked_fill(call.blocked.to(scores.device), float("-inf"))
    if call.sinks is None:
        return torch.softmax(scores, dim=-1)
    sinks = call.sinks.float().to(scores.device)[:, None, None].expand(*scores.shape[:2], 1)
    return torch.softmax(torch.cat([scores, sinks], dim=-1), dim=-1)[..., :-1]
