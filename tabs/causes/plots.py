"""Plotly figures for "What causes it": patching grids, salience over tokens and words. They read the
library's plain dicts."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from playground.text.analysis import visible_whitespace

WHAT = {"residual": "residual stream entering the layer", "heads": "each head's output",
        "mlp": "each MLP's output"}


def _labels(tokens: list[str]) -> list[str]:
    """Column labels, unique (plotly merges equal category names) and with visible whitespace."""
    return [f"{index}: {visible_whitespace(token or '∅')}" for index, token in enumerate(tokens)]


def patch_figure(result: dict[str, Any], effects: list[list[float]], title: str) -> go.Figure:
    """Layer x position (or head) heatmap, 0 = the corrupted run, 1 = the clean one."""
    columns = result["tokens"] if result["columns"] == "position" else [f"head {p}" for p in result["positions"]]
    figure = go.Figure(go.Heatmap(
        z=effects, x=_labels(columns) if result["columns"] == "position" else columns, y=result["layers"],
        colorscale="RdBu", zmid=0, colorbar=dict(title="restored"),
        hovertemplate="layer %{y}, %{x}<br>restored %{z:.3f}<extra></extra>"))
    figure.update_layout(title=f"{title}: {WHAT[result['what']]}", height=560, margin=dict(l=10, r=10, t=60, b=10),
                         yaxis_title="layer", xaxis_title=result["columns"])
    return figure


def sink_free_scaled(values: np.ndarray) -> np.ndarray:
    """Each row divided by its largest magnitude after the first column, clipped to [-1, 1]. The first token
    is the attention sink: rollout (and often gradient x input) piles up there, and scaled by it every other
    cell would be white; its cell saturates instead. A row with nothing after the first column keeps its own
    largest magnitude."""
    rest = np.abs(values[:, 1:]).max(axis=1, keepdims=True) if values.shape[1] > 1 else np.zeros((len(values), 1))
    whole = np.abs(values).max(axis=1, keepdims=True)
    scale = np.where(rest > 0, rest, np.where(whole > 0, whole, 1))
    return np.clip(values / scale, -1, 1)


def salience_figure(result: dict[str, Any]) -> go.Figure:
    """Each method's scores over the tokens (top) and the words (middle), each row scaled (without the first
    token, see :func:`sink_free_scaled`) so the methods' very different units share one colour scale; hover
    shows the raw score. Below, integrated gradients' path: where its points were read, what it integrates there
    and the log-probability itself, so the steep stretches the points crowd into are visible, and where along
    the path the prediction forms."""
    methods = list(result["methods"])
    words = result["words"]
    path = result.get("ig_path") or []
    titles = ("Tokens: each row scaled to its largest score after the first token (the attention sink)", "Words",
              "Integrated gradients' path: the integrand summed over tokens at the points read (its area is the "
              "scores' sum)<br>and the log-probability there (its rise is what the scores explain)")
    rows = 3 if path else 2
    figure = make_subplots(rows=rows, cols=1, vertical_spacing=0.12 if path else 0.18, subplot_titles=titles[:rows],
                           specs=[[{}], [{}], [{"secondary_y": True}]][:rows])
    for row, (labels, raw) in enumerate((
            (_labels(result["tokens"]), [result["methods"][m] for m in methods]),
            ([f"{i}: {w['word'] or '·'}" for i, w in enumerate(words)],
             [[w["scores"][m] for w in words] for m in methods])), start=1):
        values = np.array(raw, dtype=float)
        figure.add_trace(go.Heatmap(z=sink_free_scaled(values), x=labels, y=methods, customdata=values,
                                    colorscale="RdBu", zmid=0, zmin=-1, zmax=1, showscale=row == 1,
                                    colorbar=dict(len=0.6, y=1, yanchor="top"),
                                    hovertemplate="%{y}<br>%{x}: %{customdata:.4f}<extra></extra>"), row=row, col=1)
    if path:
        alphas = [p["alpha"] for p in path]
        figure.add_trace(go.Scatter(
            x=alphas, y=[p["integrand"] for p in path], mode="lines+markers",
            marker=dict(size=5, color="#4f46e5"), showlegend=False,
            name="integrand", hovertemplate="alpha %{x:.4f}<br>integrand %{y:.3f}<extra></extra>"), row=3, col=1)
        figure.add_trace(go.Scatter(
            x=alphas, y=[p["log_prob"] for p in path], mode="lines", showlegend=False,
            line=dict(color="#ea580c", width=2), name="log-probability",
            hovertemplate="alpha %{x:.4f}<br>log-probability %{y:.3f}<extra></extra>"), row=3, col=1,
            secondary_y=True)
        figure.update_xaxes(title_text="alpha: 0 the baseline, 1 the text", range=[0, 1], row=3, col=1)
        figure.update_yaxes(title_text="integrand", title_font_color="#4f46e5", row=3, col=1, secondary_y=False)
        figure.update_yaxes(title_text="log-probability", title_font_color="#ea580c", showgrid=False, row=3, col=1,
                            secondary_y=True)
    figure.update_layout(title=f"What the prediction {visible_whitespace(result['target'])!r} depends on",
                         height=760 if path else 520, margin=dict(l=10, r=10, t=70, b=10))
    return figure


def tuned_distribution_figure(result: dict[str, Any]) -> go.Figure:
    """The union of both models' top tokens, base and fine-tuned probabilities side by side."""
    tokens = result["distribution"]["tokens"]
    labels = [visible_whitespace(t["text"] or "∅") for t in tokens]
    figure = go.Figure()
    figure.add_bar(y=labels, x=[t["base_prob"] for t in tokens], orientation="h", name="base", marker_color="#94a3b8")
    figure.add_bar(y=labels, x=[t["tuned_prob"] for t in tokens], orientation="h", name="fine-tuned",
                   marker_color="#4f46e5")
    figure.update_layout(title=f"Next token: KL(base || tuned) = {result['distribution']['kl_bits']:.3f} bits",
                         barmode="group", height=520, margin=dict(l=10, r=10, t=60, b=10),
                         yaxis=dict(autorange="reversed"), xaxis_title="probability")
    return figure


def lens_difference_figure(result: dict[str, Any]) -> go.Figure:
    """Where in depth the two models' predictions part: KL per lens row and position."""
    kl = result["lens_kl_bits"]
    positions = result["lens_positions"]
    labels = _labels(result["tokens"])
    figure = go.Figure(go.Heatmap(z=kl, x=[labels[p] for p in positions],
                                  y=["embeddings", *(f"layer {i}" for i in range(len(kl) - 1))],
                                  colorscale="Reds", zmin=0, colorbar=dict(title="bits"),
                                  hovertemplate="%{y}, %{x}<br>KL %{z:.4f} bits<extra></extra>"))
    figure.update_layout(title="Logit lens, base against fine-tuned: KL(base || tuned) per layer and position",
                         height=560, margin=dict(l=10, r=10, t=60, b=10))
    return figure


def heads_difference_figure(result: dict[str, Any]) -> go.Figure:
    """Each head's direct contribution to the token's logit, fine-tuned minus base."""
    difference = result["heads_difference"]
    figure = go.Figure(go.Heatmap(z=difference, x=[f"head {h}" for h in range(len(difference[0]))],
                                  y=list(range(len(difference))), colorscale="RdBu", zmid=0,
                                  colorbar=dict(title="logit"),
                                  hovertemplate="layer %{y}, %{x}<br>tuned - base %{z:+.4f}<extra></extra>"))
    figure.update_layout(title=f"Head attribution to {visible_whitespace(result['token'])!r}: fine-tuned - base",
                         height=560, margin=dict(l=10, r=10, t=60, b=10), yaxis_title="layer")
    return figure
