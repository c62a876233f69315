"""The architecture drawn from a model card: boxes for the parts, the block repeated N times, arrows
for the flow, each box with its parameter count (plotly shapes, so it scales with the page)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

COLORS = {"embedding": "#e0e7ff", "attention": "#cffafe", "cross_attention": "#fde68a", "mlp": "#dcfce7",
          "norm": "#f1f5f9", "lm_head": "#fce7f3", "io": "#ffffff"}


def millions(count: int) -> str:
    return f"{count / 1e6:.1f}M" if count >= 1e5 else f"{count:,}"


def _box(figure: go.Figure, x: float, y: float, label: str, kind: str, width: float = 1.5, height: float = 0.9) -> None:
    figure.add_shape(type="rect", x0=x, x1=x + width, y0=y, y1=y + height, line=dict(color="#475569"),
                     fillcolor=COLORS[kind], layer="below")
    figure.add_annotation(x=x + width / 2, y=y + height / 2, text=label, showarrow=False, font=dict(size=11))


def _arrow(figure: go.Figure, x0: float, y0: float, x1: float, y1: float) -> None:
    figure.add_annotation(x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y", text="",
                          showarrow=True, arrowhead=2, arrowwidth=1.3, arrowcolor="#475569")


def _stack(figure: go.Figure, card: dict[str, Any], y: float, stack: str, layers: int, causal: bool,
           cross: bool, head: bool) -> float:
    """One row: input, embedding, the repeated block, and (for a decoder) the final norm and LM head."""
    parts = card["stacks"].get(stack, {})
    per_block = card["per_block"].get(stack, {})
    embedding = parts.get("embedding") or next(
        (f"{millions(part['parameters'])} (shared)" for part in card["components"] if part["component"] == "embedding"),
        "0")
    heads, kv = card["num_heads"], card["num_kv_heads"]
    attention = "causal self-attention" if causal else "bidirectional self-attention"
    gqa = f"{heads} heads, {kv} KV" if kv and kv != heads else f"{heads} heads"
    _box(figure, 0, y, "tokens<br>(ids)", "io", width=1.1)
    _box(figure, 1.6, y, f"embedding<br>{card['vocab_size']:,} x {card['hidden_size']}<br>"
         f"{embedding if isinstance(embedding, str) else millions(embedding)}", "embedding")
    _arrow(figure, 1.1, y + 0.45, 1.6, y + 0.45)
    left = 3.6
    mlp = ("mlp", f"MLP {card['hidden_size']}→{card['intermediate_size']}→{card['hidden_size']}<br>"
                  f"{card['activation']}")
    inner = [("attention", f"{attention}<br>{gqa} · d={card['head_dim']}")]
    if cross:
        inner.append(("cross_attention", "cross-attention<br>to the encoder"))
    if card.get("norm_placement") == "post":  # BERT: add the part's output, then normalise
        inner = [*inner, ("norm", "add & norm"), mlp, ("norm", "add & norm")]
    else:
        inner = [("norm", "norm"), *inner, ("norm", "norm"), mlp]
    width = 1.55 * len(inner) + 0.5
    figure.add_shape(type="rect", x0=left - 0.2, x1=left + width - 0.1, y0=y - 0.35, y1=y + 1.3,
                     line=dict(color="#6366f1", dash="dot"), layer="below")
    figure.add_annotation(x=left + width / 2, y=y + 1.15, showarrow=False, font=dict(size=11, color="#4338ca"),
                          text=f"× {layers} blocks · {millions(sum(per_block.values()))} parameters each "
                               "· residual stream adds each part's output")
    _arrow(figure, 3.1, y + 0.45, left, y + 0.45)
    x = left
    for kind, label in inner:
        _box(figure, x, y, label, kind, width=1.4)
        x += 1.55
    if head:
        _box(figure, x + 0.3, y, "final norm", "norm", width=1.1)
        _arrow(figure, x - 0.15, y + 0.45, x + 0.3, y + 0.45)
        own = next((part["parameters"] for part in card["components"] if part["component"] == "lm_head"), 0)
        tied = "tied to the embedding" if card["tied_embeddings"] else millions(own)
        _box(figure, x + 1.8, y, f"LM head<br>→ {card['vocab_size']:,} logits<br>{tied}", "lm_head")
        _arrow(figure, x + 1.4, y + 0.45, x + 1.8, y + 0.45)
        _box(figure, x + 3.8, y, "softmax →<br>next-token<br>probabilities", "io", width=1.2)
        _arrow(figure, x + 3.3, y + 0.45, x + 3.8, y + 0.45)
        return x + 5.0
    _box(figure, x + 0.3, y, "one vector<br>per token", "io", width=1.2)
    _arrow(figure, x - 0.15, y + 0.45, x + 0.3, y + 0.45)
    return x + 1.5


def architecture_figure(card: dict[str, Any]) -> go.Figure:
    figure = go.Figure()
    if card["kind"] == "encoder-decoder":
        right = _stack(figure, card, 2.2, "encoder", card["num_layers"], causal=False, cross=False, head=False)
        right = max(right, _stack(figure, card, 0, "decoder", card["num_decoder_layers"] or card["num_layers"],
                                  causal=True, cross=True, head=True))
        _arrow(figure, 3.6 + 4 * 1.55 + 0.9, 2.2, 3.6 + 2 * 1.55 + 0.7, 0.9)  # encoder output -> cross-attention
        rows = 2
    else:
        right = _stack(figure, card, 0, "model", card["num_layers"], causal=card["kind"] == "causal", cross=False,
                       head=card["kind"] == "causal")
        rows = 1
    figure.update_xaxes(visible=False, range=[-0.2, right + 0.2])
    figure.update_yaxes(visible=False, range=[-0.6, 1.5 + 2.2 * (rows - 1)], scaleanchor=None)
    figure.update_layout(height=200 + 170 * (rows - 1), margin=dict(l=5, r=5, t=40, b=5), plot_bgcolor="white",
                         title=f"{card['model']} · {card['architecture']} · {millions(card['parameters'])} "
                               f"parameters ({card['bytes'] / 2**20:,.0f} MiB in {card['dtype']})")
    return figure
