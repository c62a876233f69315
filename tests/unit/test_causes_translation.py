"""What causes it: the tab's translation called with dicts keyed by component, on the real embedded model
and a tiny run, without launching Gradio."""

from __future__ import annotations

import dataclasses

import gradio as gr
import numpy as np
import pytest

from playground.core.errors import InvalidInputError
from playground.finetune.runner import JobRunner
from playground.internals import patching
from tabs.causes import plots, translation
from tabs.causes.layout import CausesView, PatchPanel, SaliencePanel, SteerPanel, TunedPanel
from tests.tuned_runs import save_run

RUN = "20261206-030000-lora"
TEXT = "The capital of France is Paris. The capital of Germany is"


@pytest.fixture(scope="module")
def view() -> CausesView:
    return CausesView(
        gr.Dropdown(),
        PatchPanel(gr.Textbox(), gr.Textbox(), gr.Textbox(), gr.Textbox(), gr.Radio(), gr.Checkbox(), gr.Button(),
                   gr.Markdown(), gr.Plot(), gr.Plot()),
        SaliencePanel(gr.Textbox(), gr.Textbox(), gr.Slider(), gr.Button(), gr.Markdown(), gr.Plot()),
        SteerPanel(gr.Textbox(), gr.Dropdown(), gr.Textbox(), gr.Slider(), gr.Slider(), gr.Slider(), gr.Button(),
                   gr.Markdown(), gr.Textbox(), gr.Textbox()),
        TunedPanel(gr.Dropdown(), gr.Button(), gr.Textbox(), gr.Textbox(), gr.Checkbox(), gr.Button(), gr.Markdown(),
                   gr.Plot(), gr.Plot(), gr.Plot()))


def test_patching_fills_the_summary_and_both_grids(workspace, view):
    panel = view.patch
    clean, corrupted, answer, wrong = patching.EXAMPLE
    values = {view.model: "smollm2-135m-instruct", panel.clean: clean, panel.corrupted: corrupted,
              panel.answer: answer, panel.wrong: wrong, panel.what: "heads", panel.estimate: True}
    outputs = translation.patch_outputs(workspace.inside, view, values)
    assert "rank correlation" in outputs[panel.summary] and "clean run **+2.857**" in outputs[panel.summary]
    assert outputs[panel.exact_plot].layout.title.text == "Activation patching: each head's output"
    assert outputs[panel.estimate_plot].layout.title.text.startswith("Attribution patching (estimate)")
    unticked = translation.patch_outputs(workspace.inside, view, {**values, panel.estimate: False})[panel.estimate_plot]
    assert not unticked.data and "Tick “Also attribution patching”" in unticked.layout.annotations[0].text


def test_steering_reads_own_pairs_before_the_shipped_set(view):
    panel = view.steer
    values = {view.model: "m", panel.prompt: "Hi", panel.pair_set: "formal vs casual", panel.layer: 3,
              panel.coefficient: 2.0, panel.max_new_tokens: 5.0,
              panel.own_pairs: "I am glad | I am sad\n\n Lovely day |Awful day "}
    request = translation.steer_request(view, values)
    assert request.pairs == (("I am glad", "I am sad"), ("Lovely day", "Awful day")) and request.max_new_tokens == 5
    assert translation.steer_request(view, {**values, panel.own_pairs: "  "}).pairs[0][0].startswith("I would be")
    with pytest.raises(InvalidInputError, match="Line 2 of your pairs has no '|'"):
        translation.own_pairs("a | b\nno bar here")


def test_base_vs_tuned_lists_saved_runs_and_compares_one(workspace, view, tiny_lm, tiny_folder, tmp_path):
    save_run(tmp_path, RUN, str(tiny_folder), tiny_lm, nudge=True)
    (tmp_path / "20261206-040000-nothing-saved").mkdir()
    scratch = tmp_path / "20261206-050000-scratch"  # newer, with a model, but pre-trained: it has no base
    (scratch / "model").mkdir(parents=True)
    (scratch / "config.json").write_text('{"kind": "pretrain"}', encoding="utf-8")
    (scratch / "model" / "config.json").write_text("{}", encoding="utf-8")
    ws = dataclasses.replace(workspace, finetune=JobRunner(tmp_path))
    panel = view.tuned
    empty = dataclasses.replace(workspace, finetune=JobRunner(tmp_path / "none"))
    nothing = translation.run_choices(empty.finetune, view, {panel.run: None})[panel.run]
    assert nothing.choices == [] and nothing.value is None and "train one in the Fine-tuning tab" in nothing.info
    choices = translation.run_choices(ws.finetune, view, {panel.run: None})[panel.run]
    assert choices.value == RUN and [c[0] for c in choices.choices] == [RUN] and not choices.info
    values = {panel.run: RUN, panel.text: TEXT, panel.token: "", panel.chat: True}
    outputs = translation.tuned_outputs(ws, view, values)
    assert f"Run **{RUN}**" in outputs[panel.summary] and "KL(base || tuned)" in outputs[panel.summary]
    assert outputs[panel.lens_plot].layout.title.text.startswith("Logit lens, base against fine-tuned")
    assert outputs[panel.heads_plot] is not None and outputs[panel.distribution_plot] is not None


def test_the_salience_summary_says_while_integrated_gradients_is_still_reading_its_path():
    result = {"target": " Berlin", "log_prob": -0.5, "baseline_log_prob": -10.5, "log_prob_change": 10.0,
              "completeness_gap": 7.7, "ig_steps_done": 4, "ig_steps": 128, "agreement": {"a / b": 0.1},
              "warning": None, "unavailable": {}, "completeness_note": None}
    reading = translation.salience_summary(result)
    assert "**4 of 128** pieces so far" in reading and "raise the steps" not in reading
    assert "log-probability is **-0.500** after the text and -10.500 after the baseline" in reading
    done = translation.salience_summary({**result, "completeness_gap": 0.2, "ig_steps_done": 128})
    assert "gap **+0.200**, 2.0% of the change; small: the scores account for the change" in done
    assert "so far" not in done and "raise" not in done
    wide = translation.salience_summary({**result, "completeness_gap": -0.8, "ig_steps_done": 128})
    assert "gap **-0.800**, 8.0% of the change; over 5%: raise the steps (up to 256)" in wide


def test_the_salience_map_scales_each_row_past_the_attention_sink():
    """Rollout piles onto the first token: scaled by it, the other cells would all read as 0."""
    rows = np.array([[0.9, 0.05, -0.1], [0.0, 2.0, 1.0], [3.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(plots.sink_free_scaled(rows), [[1, 0.5, -1], [0, 1, 0.5], [1, 0, 0], [0, 0, 0]])
    assert plots.sink_free_scaled(np.array([[4.0]])).tolist() == [[1.0]]


def test_the_salience_figure_draws_where_integrated_gradients_read_its_path():
    result = {"target": " Berlin", "tokens": ["The", " capital", " is"], "methods": {"a": [0.5, 1.0, -1.0]},
              "words": [{"word": w, "positions": [i], "scores": {"a": s}}
                        for i, (w, s) in enumerate(zip(["The", "capital", "is"], [0.5, 1.0, -1.0], strict=True))],
              "ig_path": [{"alpha": a, "log_prob": -10 + 9 * a, "integrand": 9.0} for a in (0, 0.25, 0.5, 1)]}
    figure = plots.salience_figure(result)
    integrand, log_prob = (trace for trace in figure.data if trace.type == "scatter")
    assert list(integrand.x) == list(log_prob.x) == [0, 0.25, 0.5, 1] and list(integrand.y) == [9.0] * 4
    assert list(log_prob.y) == [-10, -7.75, -5.5, -1] and log_prob.yaxis != integrand.yaxis  # its own scale
    assert "Integrated gradients' path" in figure.layout.annotations[2].text
    without = plots.salience_figure({**result, "ig_path": None})
    assert [trace.type for trace in without.data] == ["heatmap", "heatmap"]
