"""Plotly figures for "Inside the model": the distribution with its cut-off, one head's arithmetic, the
logit lens, head attribution, ablation and the ablation sweep. They read the library's plain dicts."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from playground.text.analysis import visible_whitespace

KEPT, CUT, MASKED = "#4f46e5", "#cbd5e1", "#9ca3af"


def shown(text: str) -> str:
    """A token as a label: spaces as '·', newlines as '↵', so ' the' and 'the' look different."""
    return visible_whitespace(text or "∅")


def _layout(figure: go.Figure, title: str, height: int, top: int = 60) -> go.Figure:
    """``top``: the margin the title takes (60 for two lines)."""
    figure.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=top, b=10), plot_bgcolor="#f8fafc")
    return figure


def distribution_figure(result: dict[str, Any]) -> go.Figure:
    """Raw probabilities as outlines, reshaped ones filled; cut tokens grey, the cut-off a dashed line."""
    tokens = result["tokens"]
    labels = [f"{token['rank']}. {shown(token['text'])}" for token in tokens]
    colors = [KEPT if token["kept"] else CUT for token in tokens]
    figure = go.Figure()
    figure.add_bar(y=labels, x=[token["prob"] for token in tokens], orientation="h", name="model's probability",
                   marker=dict(color="rgba(0,0,0,0)", line=dict(color="#334155", width=1.5)),
                   hovertemplate="%{y}<br>model: %{x:.4f}<extra></extra>")
    figure.add_bar(y=labels, x=[token["reshaped_prob"] for token in tokens], orientation="h",
                   name="after temperature, top-k, top-p", marker_color=colors,
                   hovertemplate="%{y}<br>after the settings: %{x:.4f}<extra></extra>")
    kept = sum(token["kept"] for token in tokens)
    if 0 < kept < len(tokens):
        figure.add_hline(y=kept - 0.5, line_dash="dash", line_color="#dc2626", annotation_position="bottom right",
                         annotation_text="cut-off: below this line is never sampled")
    figure.update_layout(barmode="overlay", legend=dict(orientation="h", y=-0.08))
    figure.update_yaxes(autorange="reversed")
    figure.update_xaxes(title="probability", range=[0, 1.02])
    settings = result["settings"]
    title = (f"Next token after {shown(result['last_token'])!r} · kept {result['kept_count']:,} tokens "
             f"({result['kept_mass']:.0%} of the model's mass) · temperature {settings['temperature']:g}, "
             f"top-k {settings['top_k'] or 'off'}, top-p {settings['top_p']:g}")
    return _layout(figure, title, 160 + 24 * len(tokens))


def head_figure(math: dict[str, Any]) -> go.Figure:
    """The query's scores q.k/sqrt(d) per key (masked future in grey), then the softmax's weights."""
    labels = [f"{index} {shown(token)}" for index, token in enumerate(math["tokens"])]
    masked = math["masked"]
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12, subplot_titles=(
        f"scores = q·k × {math['scale']:.3g} (grey: the mask sets them to −∞)",
        "weights = softmax(scores): they sum to 1"))
    figure.add_bar(x=labels, y=math["scores"], marker_color=[MASKED if m else KEPT for m in masked], row=1, col=1,
                   hovertemplate="key %{x}<br>score %{y:.3f}<extra></extra>", showlegend=False)
    figure.add_bar(x=labels, y=math["weights"], marker_color="#0891b2", row=2, col=1,
                   hovertemplate="key %{x}<br>weight %{y:.4f}<extra></extra>", showlegend=False)
    figure.update_xaxes(tickangle=-60, row=2, col=1)
    title = (f"Layer {math['layer']} · head {math['head']} (key/value head {math['kv_head']}) · query "
             f"{math['query']} {shown(math['query_token'])!r}")
    return _layout(figure, title, 520)


def head_vectors_figure(math: dict[str, Any]) -> go.Figure:
    """q, each key and the output as rows of numbers: the dot products above are these rows multiplied."""
    labels = [f"k {index} {shown(token)}" for index, token in enumerate(math["tokens"])]
    rows = np.array([math["q"], *math["keys"], math["output"]])
    names = ["q (query)", *labels, "output = Σ weight·v"]
    figure = go.Figure(go.Heatmap(z=np.round(rows, 3), y=names, colorscale="RdBu", zmid=0,
                                  hovertemplate="%{y}<br>dimension %{x}<br>%{z:.3f}<extra></extra>"))
    figure.update_yaxes(autorange="reversed")
    figure.update_xaxes(title=f"dimension (0 to {math['head_dim'] - 1})")
    return _layout(figure, "The vectors: q, the keys (rotated by position), the output", 220 + 14 * len(names))


def lens_figure(lens: dict[str, Any]) -> go.Figure:
    """Layer x position: colour = probability each layer gives the final prediction; text = its own top token."""
    positions = lens["positions"]
    columns = [f"{p} {shown(lens['tokens'][p])}" for p in positions]
    z = np.array(lens["final_probs"])
    top = [[shown(cell[0]) for cell in row] for row in lens["top_texts"]]
    hover = [[f"{lens['layers'][r]} at {columns[c]}<br>its top: {top[r][c]!r} "
              f"({lens['top_probs'][r][c][0]:.2f})<br>final prediction {shown(lens['final_texts'][c])!r}: "
              f"{z[r, c]:.3f} (rank {lens['final_ranks'][r][c]})" for c in range(len(positions))]
             for r in range(len(top))]
    figure = go.Figure(go.Heatmap(z=z, x=columns, y=lens["layers"], text=top, texttemplate="%{text}",
                                  textfont=dict(size=9), colorscale="Viridis", zmin=0, zmax=1, customdata=hover,
                                  hovertemplate="%{customdata}<extra></extra>"))
    figure.update_yaxes(autorange="reversed", title="read after")
    figure.update_xaxes(title="position (predicting the token after it)", tickangle=-60)
    return _layout(figure, "Logit lens: colour = probability of the model's final prediction, read at each layer; "
                   "text = that layer's own top token", 260 + 18 * len(lens["layers"]))


def attribution_figure(result: dict[str, Any]) -> go.Figure:
    z = np.array(result["heads"])
    limit = float(np.abs(z).max()) or 1.0
    figure = go.Figure(go.Heatmap(z=np.round(z, 4), colorscale="RdBu", zmid=0, zmin=-limit, zmax=limit,
                                  x=list(range(result["num_heads"])), y=list(range(result["num_layers"])),
                                  hovertemplate="layer %{y} · head %{x}<br>%{z:+.3f} logits<extra></extra>"))
    figure.update_xaxes(title="head", dtick=1)
    figure.update_yaxes(title="layer", autorange="reversed")
    heads, mlps = float(z.sum()), sum(result["mlps"])
    rest = result["total"] - heads - mlps - result["embeddings"]
    title = (f"Direct contribution of each head to the logit of {shown(result['token'])!r}<br><sup>logit "
             f"{result['logit']:.2f} = heads {heads:+.2f} + MLPs {mlps:+.2f} + embeddings "
             f"{result['embeddings']:+.2f} + biases {rest:+.2f} · red pushes it down, blue up<br>"
             f"{strongest_heads(z)}: knock one out below to see if the prediction needs it</sup>")
    return _layout(figure, title, 240 + 16 * result["num_layers"], top=84)  # three title lines


def strongest_heads(contributions: np.ndarray) -> str:
    """The heads that push the logit most up and most down: where a learner's ablation should start, rather
    than at layer 0, head 0."""
    up = np.unravel_index(int(np.argmax(contributions)), contributions.shape)
    down = np.unravel_index(int(np.argmin(contributions)), contributions.shape)
    return (f"most up: layer {up[0]} head {up[1]} ({contributions[up]:+.2f}) · most down: layer {down[0]} head "
            f"{down[1]} ({contributions[down]:+.2f})")


def ablation_figure(result: dict[str, Any]) -> go.Figure:
    tokens = result["tokens"]
    labels = [shown(token["text"]) for token in tokens]
    figure = go.Figure()
    figure.add_bar(y=labels, x=[token["prob"] for token in tokens], orientation="h", name="as computed",
                   marker_color="#94a3b8")
    figure.add_bar(y=labels, x=[token["ablated_prob"] for token in tokens], orientation="h",
                   name=f"with {result['ablated']} knocked out", marker_color="#dc2626")
    figure.update_layout(barmode="group", legend=dict(orientation="h", y=-0.08))
    figure.update_yaxes(autorange="reversed")
    figure.update_xaxes(title="probability")
    title = (f"Knocking out {result['ablated']}: top {shown(result['top_before'])!r} → "
             f"{shown(result['top_after'])!r} · KL {result['kl_bits']:.3f} bits")
    return _layout(figure, title, 200 + 30 * len(tokens))


def sweep_figure(result: dict[str, Any]) -> go.Figure:
    z = np.array(result["heads"])
    layers = np.array(result["layers"])[:, None]
    figure = make_subplots(rows=1, cols=2, column_widths=[0.85, 0.15], horizontal_spacing=0.06,
                           subplot_titles=("each head zeroed", "whole layer skipped"))
    limit = float(max(np.abs(z).max(), 1e-6))
    figure.add_trace(go.Heatmap(z=np.round(z, 4), colorscale="RdBu", zmid=0, zmin=-limit, zmax=limit,
                                hovertemplate="layer %{y} · head %{x}<br>%{z:+.3f} log-prob<extra></extra>"),
                     row=1, col=1)
    figure.add_trace(go.Heatmap(z=np.round(layers, 4), colorscale="RdBu", zmid=0, showscale=False,
                                text=np.round(layers, 1), texttemplate="%{text}", textfont=dict(size=9),
                                hovertemplate="layer %{y} skipped<br>%{z:+.3f} log-prob<extra></extra>"),
                     row=1, col=2)
    figure.update_yaxes(autorange="reversed", title="layer", row=1, col=1)
    figure.update_yaxes(autorange="reversed", row=1, col=2)
    figure.update_xaxes(title="head", dtick=1, row=1, col=1)
    figure.update_xaxes(showticklabels=False, row=1, col=2)
    return _layout(figure, f"Change in log-probability of {shown(result['token'])!r} (red: it drops without the part, "
                   "so the part was helping)", 240 + 16 * len(result["layers"]))
