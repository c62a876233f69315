"""What the Fine-tuning page shows for a GRPO run (rewards, KL, the latest groups) and a reward model's run
(accuracy, held-out score distributions), and scoring answers with a reward run: translation functions called
with plain data, no Gradio app launched; the library's refusals without loading any model."""

from __future__ import annotations

import gradio as gr
import pytest

from playground.core.errors import InvalidInputError
from playground.finetune.config import FinetuneConfig
from playground.finetune.events import RunSummary, append_event
from playground.finetune.method_registry import training_method
from playground.finetune.reward_scoring import RewardScorers, Scored, score_answers
from playground.finetune.runner import JobRunner
from tabs.finetune import plots
from tabs.finetune.layout import RunsView
from tabs.finetune.method_views import MethodViews, group_headers, group_rows, method_view_outputs
from tabs.finetune.reward_scoring import score_rows
from tabs.finetune.translation import refresh_outputs

GROUPS = [{"prompt": "What is 2 + 3?", "answers": [
              {"text": "Answer: 5", "rewards": {"regex": 1.0, "exact_match": 1.0}, "advantage": 1.15},
              {"text": "five", "rewards": {"regex": 0.0, "exact_match": 0.0}, "advantage": -0.87}]},
          {"prompt": "What is 4 - 1?", "answers": [
              {"text": "Answer: 3", "rewards": {"regex": 1.0, "exact_match": 1.0}, "advantage": 0.0},
              {"text": "Answer: 3.", "rewards": {"regex": 1.0, "exact_match": 1.0}, "advantage": 0.0}]}]
REWARD_EVAL = {"pairs": 14, "accuracy": 12 / 14, "low": 0.6, "high": 0.96, "chosen": [1.2, 0.8, 2.0],
               "rejected": [-0.5, 0.9, -1.1]}


def grpo_run() -> RunSummary:
    return RunSummary("20200101-000000-grpo", status="running", step=2, max_steps=40,
                      losses=[[1, 0.01], [2, 0.02]],
                      measures={"reward_mean": [[1, 0.5], [2, 1.25]], "reward_std": [[1, 0.5], [2, 0.75]],
                                "kl": [[1, 0.0], [2, 0.003]]},
                      reward_means={"regex": [[1, 0.5], [2, 0.75]], "exact_match": [[1, 0.0], [2, 0.5]]},
                      groups={"step": 2, "groups": GROUPS})


def reward_run() -> RunSummary:
    return RunSummary("20200101-000000-rm", status="finished", step=30, max_steps=30,
                      measures={"reward_accuracy": [[1, 0.5], [2, 0.75]], "reward_margin": [[1, 0.1], [2, 0.4]],
                                "eval_accuracy": [[2, 0.7]]}, reward_eval=REWARD_EVAL)


def method_views() -> MethodViews:
    return MethodViews(gr.Plot(), gr.Plot(), gr.Markdown(), gr.Dataframe())


def test_the_groups_table_has_a_row_per_answer_and_a_column_per_reward():
    assert group_headers(GROUPS) == ["Group", "Prompt", "Answer", "regex", "exact_match", "Advantage"]
    assert group_rows(GROUPS) == [[1, "What is 2 + 3?", "Answer: 5", 1.0, 1.0, 1.15],
                                  [1, "", "five", 0.0, 0.0, -0.87],
                                  [2, "What is 4 - 1?", "Answer: 3", 1.0, 1.0, 0.0],
                                  [2, "", "Answer: 3.", 1.0, 1.0, 0.0]]
    assert group_rows([]) == [] and group_headers([]) == ["Group", "Prompt", "Answer", "Advantage"]


def test_the_grpo_figure_draws_the_mean_its_band_each_reward_and_the_kl_on_its_own_axis():
    figure = plots.grpo_figure(grpo_run())
    traces = {trace.name: trace for trace in figure.data}
    assert set(traces) == {"± std", "mean reward (weighted sum)", "regex", "exact_match", "KL to the reference"}
    assert list(traces["± std"].y) == [1.0, 2.0, 0.5, 0.0]  # mean + std going out, mean - std coming back
    assert traces["KL to the reference"].yaxis == "y2" and traces["regex"].yaxis in (None, "y")
    empty = plots.grpo_figure(RunSummary("20200101-000000-grpo"))
    assert not empty.data and "after the first step" in empty.layout.annotations[0].text


def test_the_reward_figures_show_the_accuracy_and_the_two_score_distributions():
    accuracy = plots.reward_accuracy_figure(reward_run())
    assert [trace.name for trace in accuracy.data] == ["accuracy (training batch)", "accuracy (held out)",
                                                        "margin r(chosen) − r(rejected)"]
    scores = plots.reward_scores_figure(REWARD_EVAL)
    assert [(trace.type, trace.name) for trace in scores.data] == [("histogram", "chosen answers"),
                                                                   ("histogram", "rejected answers")]
    assert list(scores.data[0].x) == REWARD_EVAL["chosen"] and scores.layout.barmode == "overlay"
    assert scores.layout.title.text == "Held out: chosen above rejected in 86% of 14 pairs (95% interval 60%–96%)"
    assert "when the run finishes" in plots.reward_scores_figure(None).layout.annotations[0].text


def test_each_method_shows_only_its_own_views():
    views = method_views()
    grpo = method_view_outputs(views, grpo_run(), training_method("grpo"))
    assert grpo[views.reward_plot].visible and grpo[views.groups].visible and grpo[views.groups_note].visible
    assert not grpo[views.scores_plot].visible and "Step 2" in grpo[views.groups_note].value
    assert grpo[views.groups].value["data"][0] == [1, "What is 2 + 3?", "Answer: 5", 1.0, 1.0, 1.15]
    scorer = method_view_outputs(views, reward_run(), training_method("reward"))
    assert scorer[views.reward_plot].visible and scorer[views.scores_plot].visible
    assert not scorer[views.groups].visible and not scorer[views.groups_note].visible
    for name in ("lora", "dpo", "distill"):
        assert not any(update.visible for update in method_view_outputs(views, reward_run(),
                                                                        training_method(name)).values())
    assert not any(update.visible for update in method_view_outputs(views, None, None).values())


def test_a_poll_shows_a_grpo_runs_groups_as_soon_as_they_arrive(tmp_path):
    runner = JobRunner(tmp_path)
    view = RunsView(gr.Markdown(), gr.Dropdown(), gr.Checkbox(), gr.Slider(), gr.Plot(), gr.Plot(), gr.Dataframe(),
                    gr.Dataframe(), gr.Dropdown(multiselect=True), gr.Plot(), gr.Markdown(), gr.Dataframe(),
                    gr.State(), method_views())
    folder = tmp_path / "20200101-000000-grpo"
    folder.mkdir()
    FinetuneConfig(method="grpo", dataset="arithmetic_answers", rewards=[{"kind": "exact_match"}]).save(
        folder / "config.json")
    append_event(folder, "started", max_steps=40, step=0)
    append_event(folder, "step", step=1, loss=0.0, reward_mean=0.5, reward_std=0.5, kl=0.0, rewards={"regex": 0.5})
    append_event(folder, "cancelled", message="Stopped at step 1; adapter saved.", step=1)
    values = {view.run_choice: folder.name, view.log_scale: False, view.smoothing: 0.6, view.compare_runs: []}
    first = refresh_outputs(runner, view, values)
    assert first[view.methods.reward_plot].visible and not first[view.methods.groups].visible
    append_event(folder, "groups", step=1, groups=GROUPS)  # after its step: the step count does not change
    second = refresh_outputs(runner, view, {**values, view.shown: first[view.shown]})
    assert second[view.methods.groups].visible and len(second[view.methods.groups].value["data"]) == 4


def test_scores_are_listed_in_the_order_given_with_the_best_starred():
    scored = Scored("20200101-000000-rm", "Capital of France?", ("Paris.", "Lyon, I think."), (1.23456, -0.5))
    assert scored.best == 0 and scored.to_dict() == {
        "run_id": "20200101-000000-rm", "prompt": "Capital of France?", "best": 0,
        "scores": [{"answer": "Paris.", "score": 1.23456}, {"answer": "Lyon, I think.", "score": -0.5}]}
    assert score_rows(scored) == [[1, "Paris.", 1.235, "★"], [2, "Lyon, I think.", -0.5, ""]]


def saved_run(runner: JobRunner, run_id: str, **settings: object) -> None:
    folder = runner.runs_dir / run_id
    (folder / "adapter").mkdir(parents=True)
    FinetuneConfig(**settings).save(folder / "config.json")
    (folder / "adapter" / "adapter_config.json").write_text("{}", encoding="utf-8")


def test_scoring_refuses_what_it_cannot_score_before_loading_anything(tmp_path, monkeypatch):
    runner = JobRunner(tmp_path)
    saved_run(runner, "20200101-000000-rm", method="reward", dataset="concise")
    saved_run(runner, "20200101-000000-lora")
    loads = []
    monkeypatch.setattr("playground.finetune.reward_model.load_reward_model",
                        lambda folder: loads.append(folder) or FakeModel())
    with pytest.raises(InvalidInputError, match="No run '20200101-000000-gone'"):
        score_answers(runner, "20200101-000000-gone", "Hi?", ["Hello."])
    with pytest.raises(InvalidInputError, match="trained with lora, not a reward model"):
        score_answers(runner, "20200101-000000-lora", "Hi?", ["Hello."])
    with pytest.raises(InvalidInputError, match="Choose a reward model's run"):
        score_answers(runner, "", "Hi?", ["Hello."])
    with pytest.raises(InvalidInputError, match="at least one answer"):
        score_answers(runner, "20200101-000000-rm", "Hi?", [])
    with pytest.raises(InvalidInputError, match="at least one answer"):
        score_answers(runner, "20200101-000000-rm", "Hi?", "\n  \n")
    assert loads == []
    scorers = RewardScorers()
    scored = score_answers(runner, "20200101-000000-rm", "Hi?", "Hello.\nHi there, how are you today?", scorers)
    assert scored.answers == ("Hello.", "Hi there, how are you today?") and scored.scores == (6.0, 28.0)
    assert score_answers(runner, "20200101-000000-rm", "Hi?", ["a"], scorers).best == 0
    assert len(loads) == 1 and len(scorers) == 1  # loaded once per run folder


class FakeModel:
    """Scores an answer by its length: enough to see which answer is which."""

    def score(self, prompts: list[str], answers: list[str]) -> list[float]:
        return [float(len(answer)) for answer in answers]
