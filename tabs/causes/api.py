"""What-causes-it endpoints: plain arguments -> the page's own requests -> plain data."""

from __future__ import annotations

from collections.abc import Iterator

import gradio as gr

from playground.core.iterutil import last
from playground.internals import base_vs_tuned, patching, salience, steering
from playground.workspace import Workspace
from tabs.shared.common import event_handler
from tabs.shared.queues import CAUSES_CONCURRENCY, CAUSES_QUEUE

QUEUE = dict(concurrency_id=CAUSES_QUEUE, concurrency_limit=CAUSES_CONCURRENCY)
"""Its own line, apart from Inside the model's quick views (see ``CAUSES_CONCURRENCY``)."""


def register_api(ws: Workspace) -> None:
    """``/patch``, ``/attribution_patch``, ``/salience``, ``/steer``, ``/compare_internals``."""
    inside = ws.inside

    @event_handler
    def patch(clean: str, corrupted: str, model: str, answer: str, wrong_answer: str, what: str = "residual") -> dict:
        """Copy each clean activation (what: residual, heads or mlp) into the corrupted run: effects per layer
        and position (or head), 0 = the corrupted run's logit difference, 1 = the clean run's."""
        request = patching.PatchRequest(clean, corrupted, model, answer, wrong_answer, what)
        return patching.patch(inside, request, remember=True).to_dict()

    @event_handler
    def attribution_patch(clean: str, corrupted: str, model: str, answer: str, wrong_answer: str,
                          what: str = "residual") -> dict:
        """The gradient estimate of every patching effect (one forward, one backward), with the real sweep
        (`exact_effects`) and their rank `agreement`."""
        request = patching.PatchRequest(clean, corrupted, model, answer, wrong_answer, what)
        return patching.attribution_patching(inside, request, remember=True).to_dict()

    @event_handler
    def salience_scores(text: str, model: str, token: str = "",
                        steps: int = salience.DEFAULT_STEPS) -> Iterator[dict]:
        """Gradient x input, integrated gradients and attention rollout for one predicted token (empty: the
        top one), per token and per word, with their agreement and the completeness gap. Streams as the page
        does: the first result once the path is cut into 4 pieces (`ig_steps_done`), then one per round, the
        last with all `steps` (what `predict` returns)."""
        request = salience.SalienceRequest(text, model, token or "", steps)
        for result in salience.salience_progress(inside, request, remember=True):
            yield result.to_dict()

    @event_handler
    def steer(prompt: str, model: str, layer: int, coefficient: float, pairs: str | list = "positive vs negative",
              max_new_tokens: int = 40) -> dict:
        """The prompt answered with and without coefficient x a direction from contrastive pairs (a shipped
        set's name or [positive, negative] texts) added after block `layer`."""
        request = steering.SteerRequest(prompt, model, layer, coefficient, pairs, max_new_tokens)
        return last(steering.steer(inside, ws.generation, request)).to_dict()

    @event_handler
    def compare_internals(run_id: str, text: str, token: str = "", chat: bool = False) -> dict:
        """A fine-tuning run's model against its base on `text` (`chat`: as a user's turn in the chat template):
        both next-token distributions and their KL, the logit lens's KL per layer and position, and each head's
        attribution to `token` (empty: the base's top prediction) in both, with the difference."""
        request = base_vs_tuned.InternalsRequest(run_id, text, token or "", bool(chat))
        return base_vs_tuned.compare_run(inside, ws.finetune, ws.generation, ws.adapters, request).to_dict()

    gr.api(patch, api_name="patch", **QUEUE)
    gr.api(attribution_patch, api_name="attribution_patch", **QUEUE)
    gr.api(salience_scores, api_name="salience", **QUEUE)
    gr.api(steer, api_name="steer", **QUEUE)
    gr.api(compare_internals, api_name="compare_internals", **QUEUE)
