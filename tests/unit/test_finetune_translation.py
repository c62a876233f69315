"""The Fine-tuning page's translation, called with values keyed by component (no Gradio app launched): the form
to a config whatever the order of its values, presets and methods to the widgets they change, the estimate on
the real embedded model, and a poll of the runs to what the page draws."""

from __future__ import annotations

from dataclasses import fields

import gradio as gr
import pytest

from playground.core.errors import InvalidInputError
from playground.finetune.config import PRESETS, WHOLE_NUMBERS, FinetuneConfig
from playground.finetune.events import append_event
from playground.finetune.method_registry import REGISTRY, training_method
from playground.finetune.progress import NO_RUN, WatchRequest, watch_runs
from playground.finetune.runner import JobRunner
from playground.preferences.votes import Ballot, VoteStore
from tabs.finetune.layout import CLASS_VOTES, UPLOAD, RunsView, SettingsForm, rewards_text
from tabs.finetune.method_views import MethodViews
from tabs.finetune.translation import (
    config_from,
    data_file,
    estimate_outputs,
    method_outputs,
    preset_outputs,
    refresh_outputs,
    stop_status,
    uploaded_file,
)

MODEL = "smollm2-135m-instruct"
WHOLE = {name for name, *_ in WHOLE_NUMBERS}


def settings_form() -> SettingsForm:
    """Each widget of the kind the layout builds (whole numbers with precision 0), outside any Blocks."""
    widgets = {}
    for field in fields(SettingsForm):
        kind = getattr(gr, str(field.type).removeprefix("gr."))
        widgets[field.name] = kind(precision=0) if field.name in WHOLE else kind()
    return SettingsForm(**widgets)


def form_values(form: SettingsForm, **changes: object) -> dict[object, object]:
    """What the page sends for the default settings (the adapted layers by name), with ``changes``."""
    chosen = {**FinetuneConfig(base_model=MODEL).to_dict(), "target_modules": "attention", **changes}
    return {form.upload: changes.get("upload"),
            **{widget: chosen[name] for name, widget in form.settings.items()}}


def runs_view() -> RunsView:
    return RunsView(gr.Markdown(), gr.Dropdown(), gr.Checkbox(), gr.Slider(), gr.Plot(), gr.Plot(), gr.Dataframe(),
                    gr.Dataframe(), gr.Dropdown(multiselect=True), gr.Plot(), gr.Markdown(), gr.Dataframe(),
                    gr.State(), MethodViews(gr.Plot(), gr.Plot(), gr.Markdown(), gr.Dataframe()))


def leftover_run(runner: JobRunner, run_id: str, **settings: object) -> None:
    """A run from an earlier visit, as its folder holds it: stopped at step 4 of 40."""
    folder = runner.runs_dir / run_id
    folder.mkdir(parents=True)
    FinetuneConfig(max_steps=40, **settings).save(folder / "config.json")
    append_event(folder, "started", max_steps=40, step=0)
    append_event(folder, "cancelled", message="Stopped at step 4; adapter saved.", step=4)


def test_the_form_becomes_a_config_whatever_the_order_of_its_values():
    form = settings_form()
    values = form_values(form, method="dpo", dataset="concise", max_steps=12.0, run_name="  mine ",
                         chosen_column=" chosen ", target_modules="all-linear")
    config = config_from(form, dict(reversed(values.items())))
    assert config == config_from(form, values) == FinetuneConfig(
        base_model=MODEL, method="dpo", dataset="concise", max_steps=12, run_name="mine",
        target_modules=("all-linear",))
    assert isinstance(config.max_steps, int) and uploaded_file(form, values) is None


def test_an_uploaded_dataset_is_read_only_once_a_file_is_given(tmp_path):
    form = settings_form()
    with pytest.raises(InvalidInputError, match="Upload a JSONL"):
        config_from(form, form_values(form, dataset=UPLOAD))
    data = tmp_path / "mine.jsonl"
    values = form_values(form, dataset=UPLOAD, upload=str(data))
    assert config_from(form, values).dataset == str(data) == uploaded_file(form, values)


def test_the_class_votes_become_a_dpo_dataset_the_runner_accepts(tmp_path):
    form, votes = settings_form(), VoteStore(tmp_path / "votes")
    values = form_values(form, method="dpo", dataset=CLASS_VOTES)
    with pytest.raises(InvalidInputError, match="no A/B votes yet"):
        data_file(votes, form, values)
    for index, choice in enumerate(["A", "B"] * 10 + ["tie", "both bad"]):  # DPO holds 16 pairs out
        votes.cast(Ballot.blind(f"Question {index}?", ("x", f"short {index}"), ("y", f"long answer {index}")), choice)
    file = data_file(votes, form, values)
    config = config_from(form, values, file)
    assert config.dataset == file and config.method == "dpo"
    runner = JobRunner(tmp_path / "runs")
    assert runner._validated(config).dataset == file  # prompt, chosen, rejected: read as DPO reads them
    from playground.finetune.preference import load_triples

    assert len(load_triples(config)) == 20  # the tie and "both bad" are not pairs


def test_a_preset_fills_its_settings_and_keeps_the_model_the_columns_and_the_run_name():
    form = settings_form()
    dpo = preset_outputs(form, "DPO: concise answers on CPU")
    assert (dpo[form.method], dpo[form.dataset], dpo[form.batch_size]) == ("dpo", "concise", 2)
    assert dpo[form.target_modules] == "attention" and dpo[form.config_name] == ""  # the rest: the defaults
    assert not {form.base_model, form.prompt_column, form.response_column, form.run_name} & set(dpo)
    assert preset_outputs(form, "QLoRA on GPU")[form.target_modules] == "all-linear"
    assert set(preset_outputs(form, next(iter(PRESETS)))) == form.preset_targets


def test_the_adapter_settings_show_for_the_methods_the_registry_says_train_one():
    form = settings_form()
    shown = {name: method_outputs(form, name)[form.lora_settings].visible for name in REGISTRY}
    assert shown == {name: method.trains == "adapter" for name, method in REGISTRY.items()}
    assert {name for name, visible in shown.items() if visible} >= {"lora", "qlora", "dpo", "reward", "grpo"}
    assert not shown["full"] and not shown["distill"] and not shown["reward_full"]
    grpo = {name for name in REGISTRY if method_outputs(form, name)[form.grpo_settings].visible}
    assert grpo == {name for name, method in REGISTRY.items() if method.data == "prompts"} == {"grpo"}


def test_the_grpo_preset_fills_its_settings_and_the_form_starts_that_run():
    form = settings_form()
    preset = "GRPO: 'Answer: <number>' on CPU"
    filled = preset_outputs(form, preset)
    assert filled[form.rewards] == rewards_text(PRESETS[preset]["rewards"]) and filled[form.rewards].count("\n") == 3
    values = {**form_values(form), **filled}
    config = config_from(form, values)
    assert config.method == "grpo" and config.dataset == "arithmetic_answers"
    assert [spec["kind"] for spec in config.rewards] == ["regex", "exact_match"]
    assert (config.group_size, config.kl_beta, config.completion_tokens, config.temperature, config.learning_rate) == (
        4, 0.04, 32, 0.7, 1e-3)
    edited = config_from(form, {**values, form.group_size: 8.0, form.kl_beta: 0.0, form.rewards: rewards_text(
        [{"kind": "length", "min_chars": 5, "max_chars": 40, "weight": 0.5}])})
    assert edited.group_size == 8 and edited.kl_beta == 0 and edited.rewards == (
        {"kind": "length", "weight": 0.5, "min_chars": 5, "max_chars": 40},)
    # another method's run keeps no rewards, whatever the (hidden) editor holds
    assert config_from(form, {**values, form.method: "lora", form.dataset: "pirate"}).rewards == ()
    assert training_method(config.method).data == "prompts"


def test_a_bad_reward_shows_the_librarys_message_in_place(workspace):
    form = settings_form()
    values = {**form_values(form), **preset_outputs(form, "GRPO: 'Answer: <number>' on CPU")}
    bad = {**values, form.rewards: '[{"kind": "exact_match"}, {"kind": "regex", "pattern": "Answer: ("}]'}
    with pytest.raises(InvalidInputError, match=r"rewards\[1\]\.pattern is not a valid regular expression"):
        config_from(form, bad)
    assert estimate_outputs(workspace, form, bad)[form.estimate].startswith(
        "⚠️ rewards[1].pattern is not a valid regular expression")
    assert "GRPO needs at least one reward" in estimate_outputs(workspace, form, {**values, form.rewards: "[]"})[
        form.estimate]
    assert "not valid JSON" in estimate_outputs(workspace, form, {**values, form.rewards: "[{kind"})[form.estimate]


def test_the_estimate_reads_the_real_model_and_says_what_is_wrong_in_place(workspace):
    form = settings_form()
    text = estimate_outputs(workspace, form, form_values(form))[form.estimate]
    assert text.startswith("**Estimate:** ≈") and "trainable parameters" in text and "LoRA adapts" in text
    assert estimate_outputs(workspace, form, form_values(form, lora_r=0))[form.estimate].startswith(
        "⚠️ lora_r must be")


def test_a_poll_draws_the_runs_and_an_unchanged_one_sends_nothing(tmp_path):
    runner, view = JobRunner(tmp_path), runs_view()
    leftover_run(runner, "20200101-000000-earlier")
    leftover_run(runner, "20200101-000100-earlier", learning_rate=5e-4)
    values = {view.run_choice: None, view.log_scale: False, view.smoothing: 0.6, view.compare_runs: []}
    first = refresh_outputs(runner, view, values)
    assert first[view.status] == NO_RUN and first[view.probes] == []  # a leftover run is not opened
    assert [row[0] for row in first[view.history]] == ["20200101-000100-earlier", "20200101-000000-earlier"]
    assert "Pick two" in first[view.diff_text]
    assert refresh_outputs(runner, view, {**values, view.shown: first[view.shown]}) == {view.shown: first[view.shown]}
    picked = refresh_outputs(runner, view, {**values, view.run_choice: "20200101-000000-earlier",
                                            view.compare_runs: ["20200101-000000-earlier",
                                                                "20200101-000100-earlier"]})
    assert "**20200101-000000-earlier**: cancelled" in picked[view.status] and picked[view.diff_text] == ""
    for plot, nothing_shown, no_step_logged in ((view.loss_plot, "Start a run: its loss", "The loss appears"),
                                                (view.schedule_plot, "Start a run: its learning rate",
                                                 "The learning rate and gradient norm appear")):
        assert not first[plot].data and first[plot].layout.annotations[0].text.startswith(nothing_shown)
        assert not picked[plot].data and picked[plot].layout.annotations[0].text.startswith(no_step_logged)
    assert picked[view.diff].value["data"] == [["learning_rate", "0.0005", "0.001"]]


def test_the_watch_request_is_validated_and_its_state_is_plain_data(tmp_path):
    runner = JobRunner(tmp_path)
    leftover_run(runner, "20200101-000000-earlier")
    with pytest.raises(InvalidInputError, match="list of run ids"):
        WatchRequest(None, "20200101-000000-earlier")  # type: ignore[arg-type]
    state = watch_runs(runner, WatchRequest("20200101-000000-earlier", ("20200101-000000-earlier",)))
    data = state.to_dict()
    assert data["shown"] == "20200101-000000-earlier" and data["picked"] == ["20200101-000000-earlier"]
    assert "Pick two" in data["diff_note"] and data["runs"][0]["status"] == "cancelled"
    with pytest.raises(InvalidInputError, match="No run selected"):
        stop_status(runner, None)
