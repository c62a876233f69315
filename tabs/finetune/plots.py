"""Curves for the Fine-tuning tab: loss (train and eval, smoothed, log scale), learning rate, grad norm; for GRPO
the rewards and the KL to the reference, for a reward model its accuracy and its held-out scores."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from playground.finetune.events import RunSummary
from tabs.shared.figures import message_figure

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
    if not any(run.losses or run.eval_losses for run in runs):
        return message_figure("The loss appears here after the first step." if runs else
                              "Start a run: its loss appears here as it trains.", height=340)
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
    if run is None or not (run.learning_rates or run.grad_norms):
        return message_figure("The learning rate and gradient norm appear here after the first step." if run else
                              "Start a run: its learning rate and gradient norm appear here.", height=340)
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    if run.learning_rates:
        steps, values = zip(*run.learning_rates, strict=True)
        figure.add_trace(go.Scatter(x=steps, y=values, name="learning rate", line=dict(color="#0ea5e9")))
    if run.grad_norms:
        steps, values = zip(*run.grad_norms, strict=True)
        figure.add_trace(go.Scatter(x=steps, y=values, name="grad norm", line=dict(color="#f59e0b")),
                         secondary_y=True)
    figure.update_layout(title="Learning rate and gradient norm", height=340, margin=dict(l=50, r=50, t=40, b=40),
                         legend=dict(orientation="h", y=-0.25))
    figure.update_xaxes(title_text="step")
    return figure


def _series(points: list[list[float]]) -> tuple[list[float], list[float]]:
    steps, values = zip(*points, strict=True) if points else ((), ())
    return list(steps), list(values)


def grpo_figure(run: RunSummary) -> go.Figure:
    """GRPO's mean reward with a ±1 std band across each step's answers, each reward's mean (dotted), and the KL
    to the reference on the right-hand axis."""
    steps, means = _series(run.measures.get("reward_mean", []))
    if not steps:
        return message_figure("The rewards appear after the first step.")
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    spread = dict(run.measures.get("reward_std", []))
    if spread:
        upper = [mean + spread.get(step, 0.0) for step, mean in zip(steps, means, strict=True)]
        lower = [mean - spread.get(step, 0.0) for step, mean in zip(steps, means, strict=True)]
        figure.add_trace(go.Scatter(x=steps + steps[::-1], y=upper + lower[::-1], fill="toself", mode="lines",
                                    line=dict(width=0), fillcolor="rgba(99,102,241,0.15)", name="± std",
                                    hoverinfo="skip"))
    figure.add_trace(go.Scatter(x=steps, y=means, mode="lines+markers", name="mean reward (weighted sum)",
                                line=dict(color=PALETTE[0], width=2), marker=dict(size=5)))
    for index, (name, points) in enumerate(sorted(run.reward_means.items()), start=2):
        x, y = _series(points)
        figure.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name,
                                    line=dict(color=PALETTE[index % len(PALETTE)], dash="dot")))
    x, y = _series(run.measures.get("kl", []))
    if x:
        figure.add_trace(go.Scatter(x=x, y=y, mode="lines", name="KL to the reference",
                                    line=dict(color="#6b7280", dash="dash")), secondary_y=True)
    figure.update_layout(title="Reward (mean ± std over the groups' answers) and KL", height=340,
                         margin=dict(l=50, r=50, t=40, b=40), legend=dict(orientation="h", y=-0.25))
    figure.update_xaxes(title_text="step")
    figure.update_yaxes(title_text="reward", secondary_y=False)
    figure.update_yaxes(title_text="KL", secondary_y=True, rangemode="tozero")
    return figure


def reward_accuracy_figure(run: RunSummary) -> go.Figure:
    """A reward model's training batches: how often chosen scored above rejected, and the held-out accuracy at
    each evaluation; the mean margin r(chosen) − r(rejected) on the right-hand axis."""
    steps, accuracy = _series(run.measures.get("reward_accuracy", []))
    if not steps:
        return message_figure("The reward model's accuracy appears after the first step.")
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_trace(go.Scatter(x=steps, y=accuracy, mode="lines", name="accuracy (training batch)",
                                line=dict(color=PALETTE[0], width=2)))
    x, y = _series(run.measures.get("eval_accuracy", []))
    if x:
        figure.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name="accuracy (held out)",
                                    line=dict(color=PALETTE[1], dash="dash"), marker=dict(size=8)))
    x, y = _series(run.measures.get("reward_margin", []))
    if x:
        figure.add_trace(go.Scatter(x=x, y=y, mode="lines", name="margin r(chosen) − r(rejected)",
                                    line=dict(color="#6b7280", dash="dot")), secondary_y=True)
    figure.update_layout(title="Chosen scored above rejected", height=340, margin=dict(l=50, r=50, t=40, b=40),
                         legend=dict(orientation="h", y=-0.25))
    figure.update_xaxes(title_text="step")
    figure.update_yaxes(title_text="accuracy", range=[-0.02, 1.02], tickformat=".0%", secondary_y=False)
    figure.update_yaxes(title_text="margin", secondary_y=True)
    return figure


def reward_scores_figure(measured: dict[str, Any] | None) -> go.Figure:
    """The held-out pairs' scores, chosen and rejected overlaid: the further apart, the better the model
    separates them. The title gives the accuracy with its 95% interval."""
    if not measured or not measured.get("chosen"):
        return message_figure("The held-out pairs are scored when the run finishes.")
    figure = go.Figure()
    for side, colour in (("chosen", PALETTE[2]), ("rejected", PALETTE[1])):
        figure.add_trace(go.Histogram(x=measured[side], name=f"{side} answers", marker_color=colour, opacity=0.6,
                                      nbinsx=20))
    figure.update_layout(barmode="overlay", height=340, margin=dict(l=50, r=10, t=60, b=40),
                         title=dict(text=reward_eval_caption(measured), font=dict(size=14)), xaxis_title="score",
                         yaxis_title="answers", legend=dict(orientation="h", y=-0.25))
    return figure


def reward_eval_caption(measured: dict[str, Any]) -> str:
    """'Held out: chosen above rejected in 86% of 14 pairs (95% interval 60%–96%)'."""
    return (f"Held out: chosen above rejected in {measured['accuracy']:.0%} of {measured['pairs']} pairs "
            f"(95% interval {measured['low']:.0%}–{measured['high']:.0%})")
