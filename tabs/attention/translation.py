"""The Attention tab's translation: widget values (keyed by component) to the library's request, and maps to
``{component: value}``. A component left out of a returned dict keeps what it shows, which is how a cleared
text box keeps the last figures instead of raising an error while the user types."""

from __future__ import annotations

from typing import Any

import gradio as gr

from playground.attention import (
    EMPTY_TEXT,
    MAX_TOKENS_LIMIT,
    AttentionExplorer,
    AttentionMaps,
    AttentionRequest,
)
from playground.core.progress import ProgressFn
from tabs.attention import plots
from tabs.attention.layout import CAUSAL, ENCODER, AttentionView, Controls
from tabs.shared.sliders import bounded_slider, clip


def has_text(controls: Controls, values: dict[Any, Any]) -> bool:
    """A cleared box (while typing) draws nothing and keeps the figures."""
    return bool((values[controls.text] or "").strip())


def request_from(controls: Controls, values: dict[Any, Any], model: str | None = None) -> AttentionRequest:
    """The maps the widgets ask for (validated by the library as ``/attention``'s are); ``model`` replaces the
    chosen one for the comparison's pair."""
    return AttentionRequest(values[controls.text], model or values[controls.model], values[controls.max_tokens])


def pin_for_text(pin: Any, pinned_tokens: list[str] | None, maps: AttentionMaps) -> int | None:
    """The pin that still applies to ``maps``: the user's choice only while the text's tokens are the ones
    it was chosen on. A new text starts again from its last token; keeping the old index would pin token
    0 (the hidden sink) after typing from scratch, or some middle token of a pasted sentence."""
    return pin if pinned_tokens == list(maps.tokens) else None


def pin_dropdown(pin: Any, maps: AttentionMaps) -> gr.Dropdown:
    """The text's tokens to choose from; defaults to the last token (the one that predicts next).

    Like the sliders, a still-valid choice is left alone so a late refresh cannot undo it.
    """
    choices = [(label, index) for index, label in enumerate(plots.axis_labels(maps))]
    if isinstance(pin, int) and 0 <= pin < maps.num_tokens:
        return gr.Dropdown(choices=choices)
    return gr.Dropdown(choices=choices, value=maps.num_tokens - 1)


def pinned_index(pin: Any, maps: AttentionMaps) -> int:
    return clip(pin, maps.num_tokens - 1) if isinstance(pin, int) else maps.num_tokens - 1


def notice_text(maps: AttentionMaps) -> str:
    """What the maps are of, and a warning when the text was cut."""
    notice = (f"**{maps.model}** · {maps.kind} · {maps.num_layers} layers x {maps.num_heads} "
              f"heads · {maps.num_tokens} tokens")
    if maps.truncated:
        notice += (f" · ⚠️ the text has {maps.total_tokens:,} tokens: only the first "
                   f"{maps.num_tokens} are drawn (raise “Max tokens drawn”, up to {MAX_TOKENS_LIMIT}).")
    return notice


def refresh_outputs(explorer: AttentionExplorer, view: AttentionView, values: dict[Any, Any],
                    progress: ProgressFn | None = None) -> dict[Any, Any]:
    """A new text, model or length: the notice, the sliders' and pin's ranges, and the views that do not follow
    the sliders. The comparison's maps are computed too, so the chained head draw is a cached lookup."""
    controls, figures = view.controls, view.figures
    if not has_text(controls, values):
        return {figures.notice: EMPTY_TEXT}
    maps = explorer.maps(request_from(controls, values), progress)
    for name in (CAUSAL, ENCODER):
        explorer.maps(request_from(controls, values, name))
    pin = pin_for_text(values[figures.pin], values[figures.pinned_tokens], maps)
    hide_sink = values[figures.hide_sink]
    return {figures.notice: notice_text(maps),
            controls.layer: bounded_slider(values[controls.layer], maps.num_layers - 1),
            controls.head: bounded_slider(values[controls.head], maps.num_heads - 1),
            figures.pin: pin_dropdown(pin, maps),
            figures.overview_plot: plots.overview_figure(maps, values[figures.metric]),
            figures.pinned_plot: plots.pinned_figure(maps, pinned_index(pin, maps), hide_sink),
            figures.rollout_plot: plots.rollout_figure(maps, hide_sink),
            figures.pinned_tokens: list(maps.tokens)}


def head_outputs(explorer: AttentionExplorer, view: AttentionView, values: dict[Any, Any]) -> dict[Any, Any]:
    """The chosen head, its layer, and the same layer and head in the causal and the encoder model (each
    clipped to what that model has), so "Causal vs bidirectional" follows both sliders."""
    controls, figures = view.controls, view.figures
    if not has_text(controls, values):
        return {}
    layer, head = values[controls.layer], values[controls.head]
    maps = explorer.maps(request_from(controls, values))
    layer_index, head_index = clip(layer, maps.num_layers - 1), clip(head, maps.num_heads - 1)
    outputs = {figures.head_plot: plots.head_figure(maps, layer_index, head_index),
               figures.layer_plot: plots.layer_figure(maps, layer_index)}
    for name, plot in ((CAUSAL, figures.causal_plot), (ENCODER, figures.encoder_plot)):
        other = explorer.maps(request_from(controls, values, name))
        outputs[plot] = plots.head_figure(other, clip(layer, other.num_layers - 1), clip(head, other.num_heads - 1))
    return outputs


def overview_outputs(explorer: AttentionExplorer, view: AttentionView, values: dict[Any, Any]) -> dict[Any, Any]:
    """Another metric: only the overview is redrawn."""
    if not has_text(view.controls, values):
        return {}
    maps = explorer.maps(request_from(view.controls, values))
    return {view.figures.overview_plot: plots.overview_figure(maps, values[view.figures.metric])}


def sink_outputs(explorer: AttentionExplorer, view: AttentionView, values: dict[Any, Any]) -> dict[Any, Any]:
    """Another pinned token, or the sink shown or hidden: the two views that depend on them."""
    figures = view.figures
    if not has_text(view.controls, values):
        return {}
    maps = explorer.maps(request_from(view.controls, values))
    hide_sink = values[figures.hide_sink]
    return {figures.pinned_plot: plots.pinned_figure(maps, pinned_index(values[figures.pin], maps), hide_sink),
            figures.rollout_plot: plots.rollout_figure(maps, hide_sink)}
