"""The Pre-training page's translation, called with values keyed by component (no app launched): the form to a
config, the live parameter count, the objective views, a poll of the runs, the sweep's settings and the fit's
summary; and a pre-training run listed on the Fine-tuning page without breaking it."""

from __future__ import annotations

from dataclasses import fields

import gradio as gr
import pytest

from playground.core.errors import InvalidInputError
from playground.core.settings import Settings
from playground.finetune.events import append_event
from playground.finetune.runner import JobRunner
from playground.pretrain.config import PretrainConfig
from playground.pretrain.lab import PretrainLab
from playground.pretrain.scaling import ScalingLaw
from tabs.pretrain.page import (
    ModelForm,
    RunView,
    ScalingView,
    config_from,
    fit_outputs,
    objectives_markdown,
    plan_outputs,
    refresh_outputs,
    size_markdown,
    sweep_settings,
)
from tests.unit.test_pretrain_runs import write_points


def model_form() -> ModelForm:
    return ModelForm(**{field.name: getattr(gr, str(field.type).removeprefix("gr."))() for field in fields(ModelForm)})


def scaling_view() -> ScalingView:
    return ScalingView(**{f.name: getattr(gr, str(f.type).removeprefix("gr."))() for f in fields(ScalingView)})


def form_values(form: ModelForm, **changes: object) -> dict[object, object]:
    chosen = {**PretrainConfig().to_dict(), "text": "", **changes}
    return {widget: chosen[name] for name, widget in form.settings.items()}


def test_the_form_becomes_a_config_the_lab_accepts():
    form = model_form()
    config = config_from(form, form_values(form, family="encoder", text="left over", layers=3.0))
    assert config["objective"] == "mlm" and config["text"] == "" and config["layers"] == 3.0
    assert PretrainConfig.from_dict(config).layers == 3
    assert "**235,264 parameters**" in size_markdown(form, form_values(form))[form.size_info]
    assert size_markdown(form, form_values(form, width=50, heads=4))[form.size_info].startswith("⚠️ Width 50")


def test_objective_views_read_as_markdown(tmp_path):
    lab = PretrainLab(JobRunner(tmp_path), Settings(cache_dir=tmp_path))
    shown = objectives_markdown(lab.objectives("Now is the winter of our discontent made glorious summer"))
    assert "### clm" in shown and "### mlm" in shown and "<extra_id_0>" in shown


def leftover(runner: JobRunner, run_id: str) -> None:
    folder = runner.runs_dir / run_id
    folder.mkdir(parents=True)
    PretrainConfig(steps=40).save(folder / "config.json")
    append_event(folder, "model", method="pretrain", non_embedding=1000)
    append_event(folder, "started", max_steps=40)
    sample = {"kind": "continuation", "prompt": "A", "completion": "b"}
    append_event(folder, "eval", step=0, eval_loss=7.0, samples=[sample])
    append_event(folder, "cancelled", step=4, eval_loss=6.0, tokens_seen=2048, message="Stopped at step 4.")


def test_a_poll_lists_pretraining_runs_only_and_opens_the_one_chosen(tmp_path):
    runner = JobRunner(tmp_path)
    lab = PretrainLab(runner, Settings(cache_dir=tmp_path))
    leftover(runner, "20200101-000000-pre")
    from playground.finetune.config import FinetuneConfig

    (tmp_path / "20200101-000100-tune").mkdir()
    FinetuneConfig().save(tmp_path / "20200101-000100-tune" / "config.json")
    view = RunView(gr.Dropdown(), gr.Markdown(), gr.Plot(), gr.Dataframe(), gr.State())
    first = refresh_outputs(lab, view, {view.run_choice: None, view.shown: None})
    assert first[view.run_choice].choices == [("20200101-000000-pre", "20200101-000000-pre")]
    assert first[view.samples] == []  # a leftover run is not opened
    picked = refresh_outputs(lab, view, {view.run_choice: "20200101-000000-pre", view.shown: None})
    assert "cancelled" in picked[view.status] and picked[view.samples] == [["0 (base)", "A", "b"]]
    again = refresh_outputs(lab, view, {view.run_choice: "20200101-000000-pre", view.shown: picked[view.shown]})
    assert again == {view.shown: picked[view.shown]}


def test_the_finetune_page_lists_a_pretraining_run_without_breaking(tmp_path):
    from tabs.finetune.translation import shown_method

    runner = JobRunner(tmp_path)
    leftover(runner, "20200101-000000-pre")
    [summary] = runner.runs()
    assert shown_method(runner, summary) is None and runner.config(summary.run_id)["kind"] == "pretrain"
    from playground.finetune.compare import run_row

    with pytest.raises(InvalidInputError, match="This is a pre-training run"):
        run_row(runner, summary.run_id)  # the trade-off table, the evaluation, the export say so, not "Unknown setting"


def test_sweep_settings_the_plan_and_the_fit(tmp_path):
    lab = PretrainLab(JobRunner(tmp_path), Settings(cache_dir=tmp_path))
    scaling = scaling_view()
    values = {scaling.sizes: '[{"layers": 2, "width": 32, "heads": 2}]', scaling.budgets: "1e10; 3e10"}
    assert sweep_settings(scaling, values) == {"sizes": [{"layers": 2, "width": 32, "heads": 2}],
                                               "budgets": [1e10, 3e10]}
    assert "2 runs" in plan_outputs(lab, scaling, values)[scaling.plan]
    with pytest.raises(InvalidInputError, match="JSON list"):
        sweep_settings(scaling, {**values, scaling.sizes: "[{"})
    with pytest.raises(InvalidInputError, match="Budgets must be numbers"):
        sweep_settings(scaling, {**values, scaling.budgets: "lots"})
    write_points(tmp_path / "20200101-000000-sweep", ScalingLaw(2.0, 50.0, 80.0, 0.4, 0.35))
    fitted = fit_outputs(lab, scaling, {scaling.fit_runs: ["20200101-000000-sweep"], scaling.budget: 1e12})
    assert "| alpha |" in fitted[scaling.summary] and "scale gap" in fitted[scaling.summary]
    too_few = fit_outputs(lab, scaling, {scaling.fit_runs: [], scaling.budget: 0})
    assert too_few[scaling.summary].startswith("⚠️ Name the runs")
