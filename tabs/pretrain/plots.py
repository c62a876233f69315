"""Curves for the Pre-training tab: one run's loss (train and held-out), and loss against compute for a sweep with
its frontier, the fitted law and Chinchilla's."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from playground.finetune.events import RunSummary
from playground.pretrain.scaling import CHINCHILLA, ScalingLaw
from tabs.shared.figures import message_figure

PALETTE = ["#6366f1", "#ef4444", "#10b981", "#f59e0b", "#0ea5e9", "#a855f7"]


def loss_figure(run: RunSummary | None) -> go.Figure:
    """Training loss per step and the held-out loss at each evaluation (ln of the vocabulary at step 0)."""
    if run is None or not (run.losses or run.eval_losses):
        return message_figure("Start a run: its loss appears here as it trains.", height=340)
    figure = go.Figure()
    if run.losses:
        steps, values = zip(*run.losses, strict=True)
        figure.add_trace(go.Scatter(x=steps, y=values, mode="lines", name="train", line=dict(color=PALETTE[0])))
    if run.eval_losses:
        steps, values = zip(*run.eval_losses, strict=True)
        figure.add_trace(go.Scatter(x=steps, y=values, mode="lines+markers", name="held-out",
                                    line=dict(color=PALETTE[1], dash="dash"), marker=dict(size=8)))
    figure.update_layout(title="Loss (nats per token)", height=340, margin=dict(l=50, r=10, t=40, b=40),
                         xaxis_title="step", yaxis_title="loss", legend=dict(orientation="h", y=-0.25))
    return figure


def _law_curve(law: ScalingLaw, flops: list[float]) -> list[float]:
    """The law's loss at its own compute-optimal size for each compute."""
    return [law.loss(*law.compute_optimal(c)) for c in flops]


def scaling_figure(points: list[dict[str, Any]], fit: dict[str, Any] | None) -> go.Figure:
    """Final held-out loss against training FLOPs (log x), one colour per size; the frontier joined; the fitted
    law's compute-optimal curve and Chinchilla's (dotted, far below: another scale and another tokenizer)."""
    if not points:
        return message_figure("Start a sweep (or pick finished runs): each point appears when it is trained.",
                              height=340)
    figure = go.Figure()
    sizes = sorted({p["params"] for p in points})
    for index, params in enumerate(sizes):
        mine = sorted((p for p in points if p["params"] == params), key=lambda p: p["flops"])
        figure.add_trace(go.Scatter(x=[p["flops"] for p in mine], y=[p["loss"] for p in mine], mode="markers+lines",
                                    name=f"N = {params:,.0f}", line=dict(color=PALETTE[index % len(PALETTE)],
                                                                         width=1), marker=dict(size=9)))
    if fit:
        front = fit["frontier"]
        figure.add_trace(go.Scatter(x=[p["flops"] for p in front], y=[p["loss"] for p in front], mode="lines",
                                    name="frontier (best per budget)", line=dict(color="black", width=3)))
        low, high = min(p["flops"] for p in points), max(fit["recommended"]["budget_flops"],
                                                          max(p["flops"] for p in points))
        grid = [low * (high / low) ** (i / 40) for i in range(41)]
        law = ScalingLaw(fit["E"], fit["A"], fit["B"], fit["alpha"], fit["beta"])
        fitted, chinchilla = _law_curve(law, grid), _law_curve(CHINCHILLA, grid)
        figure.add_trace(go.Scatter(x=grid, y=fitted, mode="lines", name="fitted law, optimal size",
                                    line=dict(color=PALETTE[1], dash="dash")))
        losses = [p["loss"] for p in points]
        low, high = 0.9 * min(*losses, *fitted), 1.1 * max(losses)
        off_chart = min(chinchilla) > high  # its constants predict far higher losses at these tiny sizes
        figure.add_trace(go.Scatter(x=grid, y=chinchilla, mode="lines", line=dict(color="gray", dash="dot"),
                                    name="Chinchilla's law" + (f" (above the chart: {min(chinchilla):.0f} to "
                                                               f"{max(chinchilla):.0f} here)" if off_chart else "")))
        figure.update_yaxes(range=[low, high])
    figure.update_layout(title="Held-out loss against training compute", height=400,
                         margin=dict(l=50, r=10, t=40, b=40), xaxis_title="training FLOPs (6 N D)",
                         xaxis_type="log", yaxis_title="loss", legend=dict(orientation="h", y=-0.3))
    return figure
