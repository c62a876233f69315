"""Attention tab: live heatmaps for every layer and head, causal against bidirectional.

Three parts: the components (``tabs/attention/layout.py``), the translation from widget values to the
library's request and from maps to figures (``tabs/attention/translation.py``), and the wiring here.

Endpoint (see ``tabs/attention/api.py``): ``/attention`` (text, model, layer, head) -> tokens and one head's
n x n weights.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import gradio as gr

from playground.attention import AttentionExplorer
from playground.workspace import Workspace
from tabs.attention import translation
from tabs.attention.api import FORWARD_QUEUE, register_api
from tabs.attention.layout import AttentionView, layout_page
from tabs.shared.common import event_handler, progress_callback
from tabs.shared.queues import ATTENTION_HEAD_DRAW_CONCURRENCY, ATTENTION_HEAD_DRAW_QUEUE

HEAD_DRAW_QUEUE = dict(concurrency_id=ATTENTION_HEAD_DRAW_QUEUE, concurrency_limit=ATTENTION_HEAD_DRAW_CONCURRENCY)
"""The head figures are drawn by a step chained after each refresh that reads the sliders when it runs. The
chained step and the sliders' own step share one queue of width 1, so they finish in the order they were
asked: a late chained draw (layer 0) can no longer land after the user's (layer 12). Each draw is a cached
lookup plus one figure, so one at a time costs little."""


@event_handler
def refresh(explorer: AttentionExplorer, view: AttentionView, values: dict[Any, Any],
            progress: gr.Progress = gr.Progress()) -> dict[Any, Any]:
    """The page's handler for a new text, model or length, with the model's loading shown as progress."""
    return translation.refresh_outputs(explorer, view, values, progress_callback(progress))


def wire(ws: Workspace, app: gr.Blocks, view: AttentionView) -> None:
    """Connect the listeners; every handler reads its inputs keyed by component and fills a dict of outputs.
    The hidden events keep the names they had as closures (``refresh``, ``show_head``...)."""
    explorer, controls, figures = ws.attention, view.controls, view.figures
    everything = dict(fn=partial(refresh, explorer, view),
                      inputs={*controls.maps_inputs, controls.layer, controls.head, figures.metric, figures.pin,
                              figures.hide_sink, figures.pinned_tokens},
                      outputs=[figures.notice, controls.layer, controls.head, figures.pin, figures.overview_plot,
                               figures.pinned_plot, figures.rollout_plot, figures.pinned_tokens],
                      api_name="refresh", api_visibility="undocumented", show_progress="minimal",
                      show_progress_on=figures.plots, **FORWARD_QUEUE)
    head_views = dict(fn=event_handler(partial(translation.head_outputs, explorer, view)),
                      inputs={*controls.maps_inputs, controls.layer, controls.head},
                      outputs=[figures.head_plot, figures.layer_plot, figures.causal_plot, figures.encoder_plot],
                      api_name="show_head", api_visibility="undocumented", show_progress="hidden", **HEAD_DRAW_QUEUE)
    # one listener for every trigger, so "always_last" orders them: the page load's refresh can no longer finish
    # after a model chosen in the first seconds and put the default model's maps back
    gr.on([app.load, controls.text.change, controls.model.change, controls.max_tokens.release],
          trigger_mode="always_last", **everything).then(**head_views)
    for slider in (controls.layer, controls.head):
        slider.change(trigger_mode="always_last", **head_views)
    figures.metric.change(event_handler(partial(translation.overview_outputs, explorer, view)),
                          {*controls.maps_inputs, figures.metric}, [figures.overview_plot],
                          api_name="show_overview", api_visibility="undocumented")
    sink_views = event_handler(partial(translation.sink_outputs, explorer, view))  # one handler: one queue for both
    for control in (figures.pin, figures.hide_sink):
        control.change(sink_views,
                       {*controls.maps_inputs, figures.pin, figures.hide_sink},
                       [figures.pinned_plot, figures.rollout_plot],
                       trigger_mode="always_last", api_name="show_sink_views", api_visibility="undocumented",
                       show_progress="hidden")


def build(ws: Workspace, app: gr.Blocks) -> None:
    wire(ws, app, layout_page())
    register_api(ws)
