"""Figures every tab draws alike."""

from __future__ import annotations

import textwrap

import plotly.graph_objects as go

HINT = "#6b7280"
"""Grey: what to do before there is anything to draw."""
PROBLEM = "#b91c1c"
"""Red: why nothing can be drawn."""
WRAP = 56
"""Characters per line of a message: about what half the page's width holds."""


def message_figure(text: str, height: int = 200, colour: str = HINT) -> go.Figure:
    """No axes, only a sentence in the panel's place, so an empty panel says why it is empty instead of showing
    a blank grid. Wrapped by hand: Plotly does not wrap an annotation, and a half-width plot cut a long one off.
    ``height``: the figure it stands in for, so the page does not jump when that one arrives."""
    figure = go.Figure()
    figure.add_annotation(text="<br>".join(textwrap.wrap(text, WRAP)), x=0.5, y=0.5, xref="paper", yref="paper",
                          showarrow=False, font=dict(size=15 if colour == HINT else 13, color=colour))
    figure.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), xaxis=dict(visible=False),
                         yaxis=dict(visible=False), plot_bgcolor="rgba(0,0,0,0)")
    return figure


def waiting(text: str) -> go.Figure:
    """A plot's first value: what to press to fill it, instead of Gradio's empty-plot icon in a blank box."""
    return message_figure(text, height=160)
