"""What causes the answer: activation patching, input salience and steering, on any causal model the app
loads, with the same private weight-sharing view as Inside the model; and what a fine-tuning run changed inside.

Three parts (docs/architecture.md): the layout (``tabs/causes/layout.py``), the translation
(``tabs/causes/translation.py``) and the wiring below. Endpoints (``tabs/causes/api.py``): ``/patch``,
``/attribution_patch``, ``/salience``, ``/steer``, ``/compare_internals``.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

import gradio as gr

from playground.generation.engine import GenerationEngine
from playground.internals.inspector import ModelInspector
from playground.workspace import Workspace
from tabs.causes import translation
from tabs.causes.api import QUEUE, register_api
from tabs.causes.layout import CausesView, layout
from tabs.shared.common import event_handler, progress_callback

HIDDEN = dict(api_visibility="undocumented", **QUEUE)


@event_handler
def patch(inside: ModelInspector, view: CausesView, values: dict[Any, Any],
          progress: gr.Progress = gr.Progress()) -> dict[Any, Any]:
    return translation.patch_outputs(inside, view, values, progress_callback(progress))


@event_handler
def steer(inside: ModelInspector, engine: GenerationEngine, view: CausesView,
          values: dict[Any, Any]) -> Iterator[dict[Any, Any]]:
    yield from translation.steer_outputs(inside, engine, view, values)


def wire(ws: Workspace, view: CausesView) -> None:
    panel, explain, push = view.patch, view.salience, view.steer
    panel.button.click(partial(patch, ws.inside, view), {view.model, *panel.inputs},
                       [panel.summary, panel.exact_plot, panel.estimate_plot], api_name="causes_patch", **HIDDEN)
    explain.button.click(event_handler(partial(translation.salience_outputs, ws.inside, view)),
                         {view.model, explain.text, explain.token, explain.steps}, [explain.summary, explain.plot],
                         api_name="causes_salience", **HIDDEN)
    push.button.click(partial(steer, ws.inside, ws.generation, view), {view.model, *push.inputs},
                      [push.steered, push.unsteered, push.summary], api_name="causes_steer", **HIDDEN)
    view.model.change(event_handler(partial(translation.layer_range, ws.inside, view)), {view.model, push.layer},
                      [push.layer], api_name="causes_layers", **HIDDEN)


def wire_tuned(ws: Workspace, app: gr.Blocks, view: CausesView) -> None:
    panel = view.tuned
    runs = event_handler(partial(translation.run_choices, ws.finetune, view))
    gr.on([app.load, panel.refresh.click], runs, {panel.run}, [panel.run], api_name="causes_runs",
          api_visibility="undocumented")
    panel.button.click(event_handler(partial(translation.tuned_outputs, ws, view)),
                       {panel.run, panel.text, panel.token, panel.chat}, panel.outputs, api_name="causes_compare",
                       **HIDDEN)


def build(ws: Workspace, app: gr.Blocks) -> None:
    view = layout()
    wire(ws, view)
    wire_tuned(ws, app, view)
    register_api(ws)
