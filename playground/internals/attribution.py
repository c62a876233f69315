"""Which heads write the chosen token's logit (direct attribution), and what knocking one out does.

Direct attribution splits the final residual stream at the last position into what each part wrote
(the embeddings, every head through its slice of the output projection, every MLP, the biases) and
reads each through the final norm with its scale frozen at the real stream's value (as TransformerLens
does), then through the LM head's row for the token. The parts add up to the token's logit exactly; a
head's direct share leaves out what it does through later layers, which ablation shows instead.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from playground.core.errors import PlaygroundError
from playground.internals.layout import Parts, tolerance
from playground.internals.tracing import ModelView, Run, Trace


def _norm_reader(norm: nn.Module, final: torch.Tensor) -> tuple[Any, torch.Tensor]:
    """The final norm as a linear map with its scale frozen at ``final``'s, and its constant (a LayerNorm's
    bias). Which formula the module computes is found by checking each against it: RMSNorm or LayerNorm
    (centred, as Cohere's bias-free LayerNorm too), times weight or 1 + weight (Gemma's RMSNorm)."""
    if getattr(norm, "weight", None) is None:
        raise PlaygroundError("The final norm has no weight: direct attribution is not defined for it here.")
    with torch.inference_mode():
        own = norm(final[None])[0].double()
    for centred in (False, True):
        for weight in (norm.weight.double(), 1 + norm.weight.double()):
            read, constant = _linear_norm(norm, final, weight, centred)
            if float((read(final.double()) + constant - own).abs().max()) <= (
                    tolerance(final.dtype) * max(1.0, float(own.abs().max()))):
                return read, constant
    raise PlaygroundError(f"The final norm ({type(norm).__name__}) is neither RMSNorm nor LayerNorm as "
                          "written, so its contributions cannot be read linearly.")


def _linear_norm(norm: nn.Module, final: torch.Tensor, weight: torch.Tensor,
                 centred: bool) -> tuple[Any, torch.Tensor]:
    bias = getattr(norm, "bias", None)
    eps = float(getattr(norm, "variance_epsilon", getattr(norm, "eps", 1e-5)))
    x = final.double()
    if centred:
        scale = 1 / torch.sqrt(x.var(unbiased=False) + eps)
        constant = bias.double() if bias is not None else torch.zeros_like(weight)

        def read(part: torch.Tensor) -> torch.Tensor:
            return (part - part.mean(-1, keepdim=True)) * scale * weight
    else:
        scale = 1 / torch.sqrt((x * x).mean() + eps)
        constant = bias.double() if bias is not None else torch.zeros_like(weight)

        def read(part: torch.Tensor) -> torch.Tensor:
            return part * scale * weight
    return read, constant


def head_outputs(parts: Parts, trace: Trace, layer: int, position: int = -1) -> tuple[torch.Tensor, torch.Tensor]:
    """Each head's write into the residual stream at ``position`` (heads x hidden) and the output
    projection's bias, through the model's own projection (Linear or GPT-2's Conv1D alike)."""
    heads_in = trace.heads_in[layer, position]
    width = parts.head_dim
    masks = torch.zeros(parts.num_heads + 1, heads_in.numel(), dtype=heads_in.dtype, device=heads_in.device)
    for head in range(parts.num_heads):
        masks[head, head * width:(head + 1) * width] = 1
    with torch.inference_mode():
        written = parts.out_projections[layer](masks * heads_in).double()
    bias = written[-1]
    return written[:-1] - bias, bias


def direct_attribution(parts: Parts, trace: Trace, token: int) -> dict[str, Any]:
    """Each head's, MLP's and the embeddings' direct contribution to ``token``'s logit at the last position."""
    with torch.inference_mode():
        return _direct_attribution(parts, trace, token)


def _direct_attribution(parts: Parts, trace: Trace, token: int) -> dict[str, Any]:
    final = trace.residual[-1, -1]
    read, constant = _norm_reader(parts.final_norm, final)
    # on the model's device, as the residual stream is; times the family's logit scale (Cohere, Granite)
    row = parts.lm_head.weight[token].double() * parts.logit_scale
    head_bias = getattr(parts.lm_head, "bias", None)

    def logit_of(part: torch.Tensor) -> torch.Tensor:
        return read(part) @ row

    heads, mlps, biases = [], [], []
    for layer in range(parts.num_layers):
        written, bias = head_outputs(parts, trace, layer)
        attention = written.sum(0) + bias
        mlp = trace.residual[layer + 1, -1].double() - trace.residual[layer, -1].double() - attention
        heads.append(logit_of(written).tolist())
        biases.append(float(logit_of(bias)))
        mlps.append(float(logit_of(mlp)))
    embeddings = float(logit_of(trace.residual[0, -1].double()))
    constant_term = float(constant @ row) + (float(head_bias[token]) * parts.logit_scale
                                             if head_bias is not None else 0.0)
    total = embeddings + sum(map(sum, heads)) + sum(mlps) + sum(biases) + constant_term
    logit = float(trace.logits[token])
    if parts.logit_softcap:  # Gemma-2: logits = cap * tanh(z / cap); the parts add up to z, before the cap
        logit = parts.logit_softcap * float(torch.atanh(torch.tensor(logit / parts.logit_softcap, dtype=torch.float64)))
    return {"heads": heads, "mlps": mlps, "attention_biases": biases, "embeddings": embeddings,
            "constant": constant_term, "total": total, "logit": logit, "logit_softcap": parts.logit_softcap}


def ablation_logits(view: ModelView, trace: Trace, layer: int | None, head: int | None) -> torch.Tensor:
    """Last-position logits with one head zeroed (``head``), a whole layer skipped (``head`` None), or
    nothing changed (``layer`` None: the model's own full forward)."""
    if layer is None:
        return view.run(torch.tensor([trace.ids]), Run())[0]
    entering = trace.residual[layer][None]
    if head is None:  # the layer's output is its input: carry on from the next layer
        return view.resume(trace, layer + 1, entering, Run())[0]
    keep = torch.ones(1, view.parts.num_heads)
    keep[0, head] = 0
    return view.resume(trace, layer, entering, Run(head_keep={layer: keep}))[0]


def sweep(view: ModelView, trace: Trace, token: int, progress: Any = None) -> dict[str, Any]:
    """The change in ``token``'s log-probability when each head in turn is zeroed (one batched pass per
    layer, a row per head, from that layer up) and when each whole layer is skipped."""
    parts = view.parts
    base = torch.log_softmax(trace.logits, dim=-1)[token]
    heads, layers = [], []
    for layer in range(parts.num_layers):
        if progress:
            progress(layer / parts.num_layers, f"Knocking out each head of layer {layer}, then the layer")
        entering = trace.residual[layer][None].repeat(parts.num_heads, 1, 1)
        logits = view.resume(trace, layer, entering, Run(head_keep={layer: 1 - torch.eye(parts.num_heads)}))
        heads.append((torch.log_softmax(logits, dim=-1)[:, token] - base).tolist())
        skipped = view.resume(trace, layer + 1, trace.residual[layer][None], Run())
        layers.append(float(torch.log_softmax(skipped, dim=-1)[0, token] - base))
    return {"token_logprob": float(base), "heads": heads, "layers": layers}
