"""Curves for the Fine-tuning tab: loss (train and eval, smoothed, log scale), learning rate, grad norm."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from playground.finetune.events import RunSummary

PALETTE = ["#6366f1", "#ef4444", "#10b981", "#f59e0b", "#0ea5e9", "#a855f7"]


def smooth(values: list[float], weight: float) -> list[float]:
    """TensorBoard's exponential moving average (weight 0 = raw)."""
    out, last = [], None
    for value in values:
        last = value if last is None else weight * last + (1 - weight) * value
        out.append(last)
    return out


def loss_figure(runs: list[RunSummary], log_scale: bool, smoothing: float) -> go.Figure:
    """Training loss (smoothed, raw faint behind it) and eval loss for one or several runs."""
    figure = go.Figure()
    for index, run in enumerate(runs):
        colour = PALETTE[index % len(PALETTE)]
        name = run.run_id if len(runs) > 1 else "train"
        if run.losses:
            steps, values = zip(*run.losses, strict=True)
            if smoothing > 0:
                figure.add_trace(go.Scatter(x=steps, y=values, mode="lines", line=dict(color=colour, width=1),
                                            opacity=0.25, showlegend=False, hoverinfo="skip"))
            figure.add_trace(go.Scatter(x=steps, y=smooth(list(values), smoothing), mode="lines", name=name,
                                        line=dict(color=colour, width=2)))
        if run.eval_losses:
            steps, values = zip(*run.eval_losses, strict=True)
            figure.add_trace(go.Scatter(x=steps, y=values, mode="lines+markers", name=f"{name} eval" if len(runs) > 1
                                        else "eval", line=dict(color=colour, dash="dash"), marker=dict(size=8)))
    figure.update_layout(title="Loss", height=340, margin=dict(l=50, r=10, t=40, b=40), xaxis_title="step",
                         yaxis_title="loss", yaxis_type="log" if log_scale else "linear",
                         legend=dict(orientation="h", y=-0.25))
    return figure


def schedule_figure(run: RunSummary | None) -> go.Figure:
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    if run is not None and run.learning_rates:
        steps, values = zip(*run.learning_rates, strict=True)
        figure.add_trace(go.Scatter(x=steps, y=values, name="learning rate", line=dict(color="#0ea5e9")))
    if run is not None and run.grad_norms:
        steps, values = zip(*run.grad_norms, strict=True)
        figure.add_trace(go.Scatter(x=steps, y=values, name="grad norm", line=dict(color="#f59e0b")),
                         secondary_y=True)
    figure.update_layout(title="Learning rate and gradient norm", height=340, margin=dict(l=50, r=50, t=40, b=40),
                         legend=dict(orientation="h", y=-0.25))
    figure.update_xaxes(title_text="step")
    return figure


def message_figure(text: str) -> go.Figure:
    """No axes, only a sentence: what to do before there is anything to draw."""
    figure = go.Figure()
    figure.add_annotation(text=text, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                          font=dict(size=15, color="#6b7280"))
    figure.update_layout(height=200, margin=dict(l=10, r=10, t=10, b=10), xaxis=dict(visible=False),
                         yaxis=dict(visible=False), plot_bgcolor="rgba(0,0,0,0)")
    return figure
