"""From the widgets' values (one dict keyed by component) to the library's requests, and from its results to
``{component: value}``; module-level, so tested without launching Gradio."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from playground.core.errors import InvalidInputError
from playground.core.progress import ProgressFn
from playground.finetune.runner import JobRunner
from playground.finetune.trained import tuned_runs
from playground.generation.engine import GenerationEngine
from playground.internals import base_vs_tuned, patching, salience, steering
from playground.internals.inspector import ModelInspector
from tabs.causes import plots
from tabs.causes.layout import CausesView
from tabs.shared.figures import message_figure


def patch_request(view: CausesView, values: dict[Any, Any]) -> patching.PatchRequest:
    panel = view.patch
    return patching.PatchRequest(values[panel.clean], values[panel.corrupted], values[view.model],
                                 values[panel.answer], values[panel.wrong], values[panel.what])


def patch_summary(result: dict[str, Any]) -> str:
    answer, wrong = result["answer_tokens"]
    lines = [f"**Metric** = logit({answer!r}) - logit({wrong!r}): clean run **{result['metric_clean']:+.3f}**, "
             f"corrupted run **{result['metric_corrupted']:+.3f}**. Each cell copies one activation of the clean "
             "run into the corrupted one: 0 = nothing restored, 1 = the clean answer's margin back."]
    if "agreement" in result:
        agreement = result["agreement"]
        lines.append("Attribution patching agrees with the real sweep with a rank correlation of "
                     + ("n/a" if agreement is None else f"**{agreement:+.2f}**")
                     + " (1 = the same order; it is a first-order estimate from one backward pass).")
    return "\n\n".join(lines)


def patch_outputs(inside: ModelInspector, view: CausesView, values: dict[Any, Any],
                  progress: ProgressFn | None = None) -> dict[Any, Any]:
    """The real sweep; with the checkbox, the gradient estimate beside it (the sweep comes with it)."""
    panel, request = view.patch, patch_request(view, values)
    if not values[panel.estimate]:
        result = patching.patch(inside, request, progress, remember=True).to_dict()
        unticked = message_figure("Tick “Also attribution patching” to draw its one-backward estimate beside the "
                                  "real sweep.", height=160)
        return {panel.summary: patch_summary(result), panel.estimate_plot: unticked,
                panel.exact_plot: plots.patch_figure(result, result["effects"], "Activation patching")}
    result = patching.attribution_patching(inside, request, progress, remember=True).to_dict()
    return {panel.summary: patch_summary(result),
            panel.exact_plot: plots.patch_figure(result, result["exact_effects"], "Activation patching"),
            panel.estimate_plot: plots.patch_figure(result, result["effects"], "Attribution patching (estimate)")}


CLOSE_ENOUGH = 0.05
"""A completeness gap within this share of the change reads as small (issue 33's bar at the default steps)."""


def salience_summary(result: dict[str, Any]) -> str:
    change, gap = result["log_prob_change"], result["completeness_gap"]
    done, steps = result["ig_steps_done"], result["ig_steps"]
    small = abs(gap) <= CLOSE_ENOUGH * abs(change)
    advice = (f"integrated gradients has cut the path into **{done} of {steps}** pieces so far: its map and gap "
              "sharpen as the worst pieces are halved" if done < steps else
              "small: the scores account for the change" if small else
              f"over {CLOSE_ENOUGH:.0%}: raise the steps (up to {salience.MAX_STEPS}) for a map that accounts for it")
    share = f", {abs(gap / change):.1%} of the change" if change else ""
    lines = [f"Explaining **{result['target']!r}**: its log-probability is **{result['log_prob']:+.3f}** after the "
             f"text and {result['baseline_log_prob']:+.3f} after the baseline, a change of {change:+.3f}. "
             f"Integrated gradients' scores add up to {change + gap:+.3f} (gap **{gap:+.3f}**{share}; {advice}).",
             "Rank agreement: " + ", ".join(f"{pair} {'n/a' if value is None else f'{value:+.2f}'}"
                                            for pair, value in result["agreement"].items())]
    lines += [f"ℹ️ {result['completeness_note']}"] if result.get("completeness_note") else []
    lines += [f"⚠️ {result['warning']}"] if result["warning"] else []
    lines += [f"{method} is not shown: {reason}" for method, reason in result["unavailable"].items()]
    return "\n\n".join(lines)


def salience_outputs(inside: ModelInspector, view: CausesView, values: dict[Any, Any]) -> Iterator[dict[Any, Any]]:
    """The three maps as soon as integrated gradients has its first path points, then again as it reads more."""
    panel = view.salience
    request = salience.SalienceRequest(values[panel.text], values[view.model], values[panel.token] or "",
                                       values[panel.steps])
    for state in salience.salience_progress(inside, request, remember=True):
        result = state.to_dict()
        yield {panel.summary: salience_summary(result), panel.plot: plots.salience_figure(result)}


def own_pairs(text: str | None) -> list[list[str]]:
    """The textbox's pairs: one per line, positive and negative separated by '|'; blank lines skipped."""
    pairs = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        positive, bar, negative = line.partition("|")
        if not bar:
            raise InvalidInputError(f"Line {number} of your pairs has no '|' between the positive and the "
                                    "negative text.")
        pairs.append([positive.strip(), negative.strip()])
    return pairs


def steer_request(view: CausesView, values: dict[Any, Any]) -> steering.SteerRequest:
    panel = view.steer
    pairs = own_pairs(values[panel.own_pairs]) or values[panel.pair_set]
    return steering.SteerRequest(values[panel.prompt], values[view.model], values[panel.layer],
                                 values[panel.coefficient], pairs, values[panel.max_new_tokens])


def steer_outputs(inside: ModelInspector, engine: GenerationEngine, view: CausesView,
                  values: dict[Any, Any]) -> Iterator[dict[Any, Any]]:
    """Both answers as they stream, then the direction's layer and norm."""
    panel = view.steer
    for state in steering.steer(inside, engine, steer_request(view, values)):
        summary = (f"Added **{state.coefficient:+g} x** a direction of norm **{state.norm:.2f}** after block "
                   f"**{state.layer}**, at every position" + ("" if state.done else " (generating...)"))
        yield {panel.steered: state.steered, panel.unsteered: state.unsteered, panel.summary: summary}


def layer_range(inside: ModelInspector, view: CausesView, values: dict[Any, Any]) -> dict[Any, Any]:
    """The steering layer slider follows the model's depth."""
    layers = inside.view(values[view.model]).parts.num_layers
    current = min(int(values[view.steer.layer]), layers - 1)
    return {view.steer.layer: gr.Slider(maximum=layers - 1, value=current)}


NO_RUN_YET = ("No fine-tuning run has saved a model yet: train one in the Fine-tuning tab (its \"quick demo on "
              "CPU\" preset takes about 2 minutes), then press ↻ Runs.")


def run_choices(runner: JobRunner, view: CausesView, values: dict[Any, Any]) -> dict[Any, Any]:
    """Every fine-tuning run that has saved a model or an adapter, newest first; the chosen one kept if it
    still exists. With none, the menu says how to make one instead of staying blank."""
    ids = tuned_runs(runner)
    chosen = values[view.tuned.run]
    return {view.tuned.run: gr.Dropdown(choices=ids, value=chosen if chosen in ids else (ids[0] if ids else None),
                                        info="" if ids else NO_RUN_YET)}


def tuned_summary(result: dict[str, Any]) -> str:
    distribution = result["distribution"]
    change = ("the top prediction stays " + repr(distribution["top_base"]) if not distribution["top_changed"] else
              f"the top prediction moves from {distribution['top_base']!r} to {distribution['top_tuned']!r}")
    lines = [f"Run **{result['run_id']}** against its base **{result['base_model']}**: {change}; "
             f"KL(base || tuned) = **{distribution['kl_bits']:.4f} bits** on the next token."]
    if result["lens_kl_bits"]:
        by_layer = [max(row) for row in result["lens_kl_bits"]]
        first = next((index for index, value in enumerate(by_layer) if value > 0.01), None)
        lines.append("The lens differs by more than 0.01 bits from " + ("nowhere" if first is None else
                     ("the embeddings" if first == 0 else f"layer {first - 1}")) + " up.")
    lines += [f"ℹ️ {result['note']}"] if result["note"] else []
    return "\n\n".join(lines)


def tuned_outputs(ws: Any, view: CausesView, values: dict[Any, Any]) -> dict[Any, Any]:
    """Both models on the same text: distribution, lens divergence, head attribution difference."""
    panel = view.tuned
    request = base_vs_tuned.InternalsRequest(values[panel.run], values[panel.text], values[panel.token] or "",
                                             values[panel.chat])
    result = base_vs_tuned.compare_run(ws.inside, ws.finetune, ws.generation, ws.adapters, request).to_dict()
    return {panel.summary: tuned_summary(result), panel.distribution_plot: plots.tuned_distribution_figure(result),
            panel.lens_plot: plots.lens_difference_figure(result) if result["lens_kl_bits"] else layerwise_undefined(),
            panel.heads_plot: (plots.heads_difference_figure(result) if result["heads_difference"] else
                               layerwise_undefined())}


def layerwise_undefined() -> Any:
    """In place of the layer-wise views for a model of another depth (a distilled student): an empty plot said
    nothing."""
    return message_figure("Not defined layer by layer: the fine-tuned model has another depth than its base "
                          "(a distilled student). The next-token view compares them.", height=160)
