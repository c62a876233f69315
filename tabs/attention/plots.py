"""Plotly figures for attention: one head, a layer's heads, overview, pinned token, rollout.

What goes to the browser is bounded: one n x n matrix per figure (n <= 512), a layer's
heads downsampled to small thumbnails, and layer x head summaries.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from playground.attention import AttentionMaps, head_summaries, hide_first_token, pinned_token, rollout

THUMBNAIL = 40
COLORS = "Blues"
METRICS = {
    "entropy": "Mean entropy (nats): low = a focused head",
    "first_token": "Weight on the first token: high = an attention sink",
    "previous_token": "Weight on the previous token: high = a previous-token head",
}


def axis_labels(maps: AttentionMaps) -> list[str]:
    """Unique category labels ("3 ·cat") so repeated tokens keep their own row and column."""
    return [f"{index} {label}" for index, label in enumerate(maps.tokens)]


def masked(maps: AttentionMaps, matrix: np.ndarray) -> np.ndarray:
    """For a causal model, blank the future (above the diagonal) so the mask is visible.

    No rounding here: hiding the sink renormalizes tiny values that rounding would zero.
    """
    values = matrix.astype(np.float64)
    if maps.kind == "causal":
        values[np.triu_indices(len(values), 1)] = np.nan
    return values


def _layout(figure: go.Figure, title: str, height: int) -> go.Figure:
    figure.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=50, b=10),
                         plot_bgcolor="#e5e7eb")
    return figure


def head_figure(maps: AttentionMaps, layer: int, head: int) -> go.Figure:
    labels = axis_labels(maps)
    matrix = np.round(masked(maps, maps.head(layer, head)), 4)
    figure = go.Figure(go.Heatmap(
        z=matrix, x=labels, y=labels, colorscale=COLORS, zmin=0, zmax=float(np.nanmax(matrix)),
        hovertemplate="query %{y}<br>key %{x}<br>weight %{z:.3f}<extra></extra>"))
    figure.update_yaxes(autorange="reversed", title="query (attends from)")
    figure.update_xaxes(title="key (attends to)", tickangle=-60)
    mask = " · grey = masked future" if maps.kind == "causal" else ""
    sinks = maps.sink_share(layer, head)
    sink = (f"<br>attention sink: takes {np.mean(sinks):.0%} of each row's weight on average, so rows add up to "
            "less than 1" if sinks is not None else "")
    side = min(900, 320 + 12 * maps.num_tokens)
    return _layout(figure, f"{maps.model} · layer {layer} · head {head}{mask}{sink}", side)


def downsample(matrix: np.ndarray, size: int = THUMBNAIL) -> np.ndarray:
    """Block means down to at most ``size`` x ``size`` (rows still sum to about 1)."""
    n = len(matrix)
    if n <= size:
        return matrix
    edges = np.linspace(0, n, size + 1).astype(int)
    rows = np.add.reduceat(matrix, edges[:-1], axis=0) / np.diff(edges)[:, None]
    return np.add.reduceat(rows, edges[:-1], axis=1)


def layer_figure(maps: AttentionMaps, layer: int) -> go.Figure:
    maps.check(layer, 0)
    heads = maps.num_heads
    cols = min(heads, 6)
    rows = math.ceil(heads / cols)
    figure = make_subplots(rows=rows, cols=cols, subplot_titles=[f"head {h}" for h in range(heads)],
                           horizontal_spacing=0.02, vertical_spacing=0.08)
    for head in range(heads):
        matrix = np.round(masked(maps, downsample(maps.weights[layer, head])), 4)
        figure.add_trace(go.Heatmap(z=matrix, colorscale=COLORS, showscale=False, zmin=0,
                                    hovertemplate="weight %{z:.3f}<extra></extra>"),
                         row=head // cols + 1, col=head % cols + 1)
    figure.update_xaxes(showticklabels=False)
    figure.update_yaxes(showticklabels=False, autorange="reversed")
    note = f" (downsampled to {THUMBNAIL}x{THUMBNAIL})" if maps.num_tokens > THUMBNAIL else ""
    return _layout(figure, f"All {heads} heads of layer {layer}{note}", 170 * rows + 60)


def overview_figure(maps: AttentionMaps, metric: str) -> go.Figure:
    values = head_summaries(maps)[metric]
    figure = go.Figure(go.Heatmap(
        z=np.round(values, 4), x=list(range(maps.num_heads)), y=list(range(maps.num_layers)),
        colorscale="Viridis", hovertemplate="layer %{y} · head %{x}<br>%{z:.3f}<extra></extra>"))
    figure.update_xaxes(title="head", dtick=1)
    figure.update_yaxes(title="layer", autorange="reversed")
    return _layout(figure, METRICS[metric], 200 + 16 * maps.num_layers)


def without_sink(values: np.ndarray, labels: list[str], hide: bool) -> tuple[np.ndarray, list[str], str]:
    """Optionally drop the first token's column, saying in the title how much it took."""
    if not hide or values.shape[1] < 2:
        return values, labels, ""
    rest, share = hide_first_token(values)
    note = f"<br><sup>token 0 (the sink) hidden: it took {share:.0%} on average; rows renormalized</sup>"
    return rest, labels[1:], note


def pinned_figure(maps: AttentionMaps, index: int, hide_sink: bool = False) -> go.Figure:
    labels = axis_labels(maps)
    values, columns, note = without_sink(pinned_token(maps, index), labels, hide_sink)
    figure = go.Figure(go.Heatmap(
        z=np.round(values, 4), x=columns, y=list(range(maps.num_layers)), colorscale=COLORS, zmin=0,
        hovertemplate="layer %{y}<br>looks at %{x}<br>weight %{z:.3f} (mean of heads)<extra></extra>"))
    figure.update_yaxes(title="layer", autorange="reversed")
    figure.update_xaxes(tickangle=-60)
    return _layout(figure, f"Where token {labels[index]!r} looks, layer by layer (mean of heads){note}",
                   280 + 14 * maps.num_layers)


def rollout_figure(maps: AttentionMaps, hide_sink: bool = False) -> go.Figure:
    labels = axis_labels(maps)
    values, columns, note = without_sink(masked(maps, rollout(maps)), labels, hide_sink)
    figure = go.Figure(go.Heatmap(
        z=np.round(values, 4), x=columns, y=labels, colorscale="Purples", zmin=0,
        hovertemplate="position %{y}<br>draws on %{x}<br>%{z:.3f}<extra></extra>"))
    figure.update_yaxes(autorange="reversed", title="position")
    figure.update_xaxes(title="input token", tickangle=-60)
    side = min(900, 340 + 12 * maps.num_tokens)
    return _layout(figure, f"Attention rollout: all layers combined (heads averaged, residual added){note}",
                   side)
