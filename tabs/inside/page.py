"""Inside the model: how one next token is computed, with the loaded model's real numbers.

Three parts (docs/architecture.md): the layout (``tabs/inside/layout.py``), the translation from widget values to
the library's requests and back (``tabs/inside/translation.py``), and the wiring below. Endpoints
(``tabs/inside/api.py``): ``/model_card``, ``/next_token``, ``/attention_math``, ``/logit_lens``,
``/head_attribution`` and ``/ablate``; each returns plain data from :mod:`playground.internals`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import gradio as gr

from playground.internals.inspector import ModelInspector
from playground.workspace import Workspace
from tabs.inside import translation
from tabs.inside.api import QUEUE, register_api
from tabs.inside.layout import InsideView, layout
from tabs.shared.common import event_handler, progress_callback

Translation = Callable[..., dict[Any, Any]]
HIDDEN = dict(api_visibility="undocumented", **QUEUE)


@event_handler
def unless_blank(outputs: Translation, inside: ModelInspector, view: InsideView, values: dict[Any, Any]) -> Any:
    """A text cleared while typing leaves the panel as it is (the refresh's notice says why)."""
    return gr.skip() if not (values[view.text] or "").strip() else outputs(inside, view, values)


@event_handler
def with_progress(outputs: Translation, inside: ModelInspector, view: InsideView, values: dict[Any, Any],
                  progress: gr.Progress = gr.Progress()) -> dict[Any, Any]:
    """A slow action (loading a model, the sweep) with Gradio's progress bar."""
    return outputs(inside, view, values, progress_callback(progress))


def wire_refresh(ws: Workspace, app: gr.Blocks, view: InsideView) -> None:
    """A new text or model redraws every panel; a new model also redraws the architecture."""
    # one listener for every trigger, so "always_last" orders them: a refresh for the text typed just before a
    # model switch, or the page load's own, can no longer finish after the new model's and overwrite it (with
    # separate listeners, the load's SmolLM2 notice replaced a model chosen in the first seconds)
    gr.on([app.load, view.text.change, view.model.change],
          partial(with_progress, translation.refresh_outputs, ws.inside, view),
          {view.text, view.model, *view.next_token.sampling, view.head.layer, view.head.head,
           view.attribution.token},
          view.refresh_outputs, trigger_mode="always_last", show_progress="minimal",
          show_progress_on=view.refresh_progress, api_name="inside_refresh", **HIDDEN)
    gr.on([app.load, view.model.change], partial(with_progress, translation.card_outputs, ws.inside, view),
          {view.model}, view.architecture.outputs, trigger_mode="always_last", api_name="inside_card", **HIDDEN)


def wire_panels(ws: Workspace, view: InsideView) -> None:
    """Each panel's own controls redraw only that panel."""
    text_and_model = {view.text, view.model}
    for control in view.next_token.sampling:
        control.change(partial(unless_blank, translation.distribution_outputs, ws.inside, view),
                       {*text_and_model, *view.next_token.sampling}, view.next_token.plot,
                       trigger_mode="always_last", show_progress="hidden", api_name="inside_distribution", **HIDDEN)
    head = view.head
    for control in (head.layer, head.head, head.query):
        control.change(partial(unless_blank, translation.head_outputs, ws.inside, view),
                       {*text_and_model, head.layer, head.head, head.query}, head.outputs,
                       trigger_mode="always_last", show_progress="hidden", api_name="inside_head", **HIDDEN)


def wire_actions(ws: Workspace, view: InsideView) -> None:
    """The buttons: grow the text by a token, explain a token, knock a part out, sweep every part."""
    panel, attribution = view.next_token, view.attribution
    sample_inputs = {view.text, view.model, *panel.sampling}
    for button, greedy in ((panel.sample_button, False), (panel.top_button, True)):
        button.click(partial(event_handler(translation.grow_outputs), ws.inside, view, greedy), sample_inputs,
                     [view.text, panel.grown], api_name="inside_grow", **HIDDEN)
    attribution.token.submit(partial(unless_blank, translation.attribution_outputs, ws.inside, view),
                             {view.text, view.model, attribution.token}, attribution.plot,
                             api_name="inside_attribution", **HIDDEN)
    attribution.ablate_button.click(partial(unless_blank, translation.ablation_outputs, ws.inside, view),
                                    {view.text, view.model, attribution.ablate_layer, attribution.ablate_what},
                                    attribution.ablation_plot, api_name="inside_ablation", **HIDDEN)
    attribution.sweep_button.click(partial(with_progress, translation.sweep_outputs, ws.inside, view),
                                   {view.text, view.model, attribution.token}, attribution.sweep_plot,
                                   api_name="inside_sweep", **HIDDEN)


def build(ws: Workspace, app: gr.Blocks) -> None:
    view = layout()
    wire_refresh(ws, app, view)
    wire_panels(ws, view)
    wire_actions(ws, view)
    register_api(ws)
