"""Tables, charts and HTML for the Quantization tab: pure functions of a comparison."""

from __future__ import annotations

import html
from itertools import groupby
from typing import Any

import plotly.graph_objects as go

from playground.quantization.figure import WeightDemo
from playground.quantization.lab import QuantComparison, QuantRow
from tabs.shared.token_view import token_tile

TABLE_HEADERS = ["Method", "Bits", "Weights (MB)", "vs fp32", "Load (s)", "Prefill 256 (ms)", "Tokens/s",
                 "Perplexity", "KL vs fp32", "Top-1 agreement", "Status"]
COLOURS = {32: "#6366f1", 16: "#0ea5e9", 8: "#f59e0b", 4: "#ef4444"}


def _fmt(value: float | None, pattern: str) -> Any:
    return None if value is None else format(value, pattern)


def table_rows(state: QuantComparison) -> list[list[Any]]:
    reference = next((row.weight_bytes for row in state.rows if row.method == "fp32" and row.weight_bytes), None)
    rows = []
    for row in state.rows:
        size = row.weight_bytes / 1e6 if row.weight_bytes else None
        ratio = (None if not (reference and row.weight_bytes) else "reference" if row.method == "fp32"
                 else f"{reference / row.weight_bytes:.1f}x smaller")
        status = {"running": f"⏳ {row.step}", "done": "✔", "pending": "waiting"}.get(row.status, "")
        if row.error:
            status = f"✘ {row.error}"
        rows.append([row.title, row.bits, _fmt(size, ".1f"), ratio, _fmt(row.load_seconds, ".2f"),
                     _fmt(None if row.prefill_seconds is None else row.prefill_seconds * 1000, ".0f"),
                     _fmt(row.tokens_per_s, ".1f"), _fmt(row.perplexity, ".2f"), _fmt(row.kl_vs_fp32, ".4f"),
                     _fmt(row.top1_agreement, ".0%"), status])
    return rows


def _scatter(rows: list[QuantRow], y_of: str, title: str, y_title: str) -> go.Figure:
    measured = [row for row in rows if row.weight_bytes and getattr(row, y_of) is not None]
    positions = label_positions(measured, y_of)
    figure = go.Figure()
    for row in measured:
        figure.add_trace(go.Scatter(
            x=[row.weight_bytes / 1e6], y=[getattr(row, y_of)], mode="markers+text", name=row.method,
            text=[row.method], textposition=positions[row.method], showlegend=False, cliponaxis=False,
            marker=dict(size=14, color=COLOURS.get(row.bits, "#64748b")),
            hovertemplate=f"{html.escape(row.title)}<br>%{{x:.1f}} MB<br>{y_title} %{{y:.3g}}<extra></extra>"))
    figure.update_layout(title=title, height=330, margin=dict(l=50, r=20, t=40, b=50),
                         xaxis_title="weight memory (MB)", yaxis_title=y_title)
    return figure


LABEL_PLACES = ("top center", "bottom center", "middle right", "middle left")


def label_positions(rows: list[QuantRow], y_of: str) -> dict[str, str]:
    """Where each point's name goes. Methods of the same bit width weigh almost the same (both int8 kinds:
    220 MB) and often score close too, so their names, all above the point, printed over each other: within a
    bit width the highest keeps the top, the next goes below, then right and left."""
    ordered = sorted(rows, key=lambda row: (row.bits, -getattr(row, y_of)))
    return {row.method: LABEL_PLACES[index % len(LABEL_PLACES)]
            for _, same in groupby(ordered, key=lambda row: row.bits) for index, row in enumerate(same)}


def quality_figure(state: QuantComparison) -> go.Figure:
    return _scatter(state.rows, "perplexity", "Quality against size (lower perplexity is better)",
                    "perplexity")


def speed_figure(state: QuantComparison) -> go.Figure:
    return _scatter(state.rows, "tokens_per_s", "Speed against size (decode, batch 1)", "tokens/s")


def render_outputs(state: QuantComparison) -> str:
    """Each method's greedy answer; tokens from the first that differs from fp32's are marked."""
    columns = []
    for row in state.rows:
        if row.status != "done":
            body = f'<div class="muted">{html.escape(row.error or row.step or row.status)}</div>'
        else:
            cut = row.first_difference
            parts = []
            for index, piece in enumerate(row.output_pieces):
                shown, breaks = token_tile(piece)
                if cut is not None and index >= cut:
                    marker = " q-first" if index == cut else ""
                    shown = f'<span class="q-diff{marker}">{shown}</span>'
                parts.append(shown + breaks)
            note = ("the reference: every other answer is compared with this one" if row.method == "fp32"
                    else "same as fp32" if cut is None else f"differs from fp32 from token {cut + 1}")
            body = f'<div class="muted">{note}</div><div class="q-text">{"".join(parts)}</div>'
        columns.append(f'<div class="tok-col"><div class="tok-head"><b>{html.escape(row.title)}</b></div>{body}</div>')
    return f'<div class="tok-grid">{"".join(columns)}</div>'


def weight_figure(demo: WeightDemo, where: str) -> go.Figure:
    """Real weights as dots, their int8 and NF4 round trips, and NF4's 16 levels as lines."""
    index = list(range(len(demo.original)))
    figure = go.Figure()
    for level in demo.nf4_levels:
        figure.add_hline(y=level, line=dict(color="#fca5a5", width=1))
    figure.add_trace(go.Scatter(x=index, y=demo.original, mode="markers", name="fp32 weight",
                                marker=dict(size=9, color="#6366f1")))
    figure.add_trace(go.Scatter(x=index, y=demo.int8, mode="markers", name="int8 (row scale)",
                                marker=dict(size=7, symbol="x", color="#f59e0b")))
    figure.add_trace(go.Scatter(x=index, y=demo.nf4, mode="markers", name="NF4 (block of 64)",
                                marker=dict(size=7, symbol="square-open", color="#ef4444")))
    figure.update_layout(
        title=f"{len(index)} real weights of {where}<br><sup>mean error: int8 {demo.int8_error:.4f}, "
              f"NF4 {demo.nf4_error:.4f} · red lines: the 16 values NF4 can store here</sup>",
        height=360, margin=dict(l=50, r=10, t=60, b=40), xaxis_title="weight index", yaxis_title="value",
        legend=dict(orientation="h", y=-0.2))
    return figure
