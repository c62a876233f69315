"""What a run shows beside the usual curves when its method has more to show (the registry says which): GRPO's
rewards, KL and the latest step's groups; a reward model's accuracy and its held-out score distributions.

Layout (``layout_method_views``) and translation (``method_view_outputs``, from a run and its method to
``{component: value}``); the page's poll wires them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from playground.finetune.events import RunSummary
from playground.finetune.method_registry import TrainingMethod
from tabs.finetune import plots

GROUP_HEADERS = ["Group", "Prompt", "Answer", "Advantage"]
"""The groups table without its reward columns (one per reward, named as the run's rewards are)."""


@dataclass(frozen=True)
class MethodViews:
    """Shown only for the methods they apply to: hidden for SFT, DPO and distillation runs."""

    reward_plot: gr.Plot
    """GRPO: mean reward ± std, each reward's mean, KL. Reward model: accuracy and margin over the steps."""
    scores_plot: gr.Plot
    """Reward model: the held-out chosen and rejected scores, with the accuracy and its interval."""
    groups_note: gr.Markdown
    groups: gr.Dataframe
    """GRPO: the latest step's groups, one row per answer."""

    @property
    def outputs(self) -> set[Any]:
        return {self.reward_plot, self.scores_plot, self.groups_note, self.groups}


def reward_names(groups: list[dict[str, Any]]) -> list[str]:
    """Every reward named in the groups' answers, in the order first met."""
    names: list[str] = []
    for group in groups:
        for answer in group.get("answers", []):
            names.extend(name for name in answer.get("rewards", {}) if name not in names)
    return names


def group_headers(groups: list[dict[str, Any]]) -> list[str]:
    return [*GROUP_HEADERS[:3], *reward_names(groups), GROUP_HEADERS[3]]


def group_rows(groups: list[dict[str, Any]]) -> list[list[Any]]:
    """One row per answer: its group's number, the prompt on the group's first row only, the answer, each
    reward's score and the advantage (its weighted reward against the group's mean, over the group's spread)."""
    names = reward_names(groups)
    rows = []
    for number, group in enumerate(groups, start=1):
        for index, answer in enumerate(group.get("answers", [])):
            scores = answer.get("rewards", {})
            rows.append([number, group.get("prompt", "") if index == 0 else "", answer.get("text", ""),
                         *[scores.get(name) for name in names], answer.get("advantage")])
    return rows


def groups_caption(latest: dict[str, Any] | None) -> str:
    if not latest or not latest.get("groups"):
        return "*The groups of the latest step appear after the first step.*"
    return (f"**Step {latest['step']}: each prompt's answers, their rewards and advantages.** An answer above its "
            "group's mean (advantage > 0) is made more likely, one below less; a group whose answers all score "
            "the same teaches nothing (every advantage 0).")


def hidden_outputs(views: MethodViews) -> dict[Any, Any]:
    return {views.reward_plot: gr.Plot(visible=False), views.scores_plot: gr.Plot(visible=False),
            views.groups_note: gr.Markdown(visible=False), views.groups: gr.Dataframe(visible=False)}


def method_view_outputs(views: MethodViews, run: RunSummary | None, method: TrainingMethod | None) -> dict[Any, Any]:
    """The views that apply to the run's method, drawn; the others hidden."""
    shown = hidden_outputs(views)
    if run is None or method is None:
        return shown
    if method.data == "prompts":
        latest = run.groups or {}
        groups = latest.get("groups", [])
        shown.update({views.reward_plot: gr.Plot(plots.grpo_figure(run), visible=True),
                      views.groups_note: gr.Markdown(groups_caption(latest), visible=True),
                      views.groups: gr.Dataframe(value=group_rows(groups), headers=group_headers(groups),
                                                 visible=bool(groups))})
    elif method.scorer:
        shown.update({views.reward_plot: gr.Plot(plots.reward_accuracy_figure(run), visible=True),
                      views.scores_plot: gr.Plot(plots.reward_scores_figure(run.reward_eval), visible=True)})
    return shown


def layout_method_views() -> MethodViews:
    with gr.Row():
        reward_plot = gr.Plot(label="Rewards", elem_id="ft-reward-plot", visible=False)
        scores_plot = gr.Plot(label="Held-out scores", elem_id="ft-reward-scores", visible=False)
    groups_note = gr.Markdown(visible=False, elem_id="ft-groups-note")
    groups = gr.Dataframe(headers=group_headers([]), interactive=False, wrap=True, visible=False, max_height=420,
                          elem_id="ft-groups", label="GRPO groups (latest step)")
    return MethodViews(reward_plot, scores_plot, groups_note, groups)
