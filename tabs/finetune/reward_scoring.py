"""After a reward model's run: score answers to a prompt with it, on the page and as ``/reward_score``
(run_id, prompt, answers) -> {run_id, prompt, scores: [{answer, score}], best}."""

from __future__ import annotations

from functools import partial
from typing import Any

import gradio as gr

from playground.finetune.reward_scoring import Scored, score_answers
from playground.workspace import Workspace
from tabs.shared.common import event_handler

SCORE_HEADERS = ["#", "Answer", "Score", "Best"]
EXAMPLE_ANSWERS = ("Paris.\nThe capital of France is Paris, a city on the Seine known for the Eiffel Tower, its "
                   "museums, its cafés and much, much more that I could go on about.")


def score_rows(scored: Scored) -> list[list[Any]]:
    """The answers in the order given, each with its score (3 decimals) and a star on the highest."""
    return [[index + 1, answer, round(score, 3), "★" if index == scored.best else ""]
            for index, (answer, score) in enumerate(zip(scored.answers, scored.scores, strict=True))]


def score_outputs(ws: Workspace, run_id: str | None, prompt: str, answers: str) -> list[list[Any]]:
    return score_rows(score_answers(ws.finetune, run_id or "", prompt, answers, ws.reward_scorers))


def build_reward_scoring(ws: Workspace, run_choice: gr.Dropdown) -> None:
    with gr.Accordion("Score answers with a reward model (the run shown, trained with 'reward')", open=False):
        gr.Markdown("The reward model gives each answer one number. Only differences mean anything: it learnt "
                    "to put the chosen answer of each pair above the rejected one, not an absolute scale.")
        with gr.Row():
            prompt = gr.Textbox("What is the capital of France?", label="Prompt", scale=2, elem_id="ft-rm-prompt")
            answers = gr.Textbox(EXAMPLE_ANSWERS, label="Answers, one per line", lines=4, scale=3,
                                 elem_id="ft-rm-answers")
        score_button = gr.Button("Score the answers", elem_id="ft-rm-score")
        table = gr.Dataframe(headers=SCORE_HEADERS, interactive=False, wrap=True, elem_id="ft-rm-scores",
                             column_widths=["6%", "64%", "15%", "15%"])
    score_button.click(event_handler(partial(score_outputs, ws)), [run_choice, prompt, answers], table,
                       api_name="finetune_page_reward_score", api_visibility="undocumented")
    register_api(ws)


def register_api(ws: Workspace) -> None:
    @event_handler
    def reward_score(run_id: str, prompt: str, answers: list[str] | str) -> dict:
        """Score answers to ``prompt`` with a finished reward run (method ``reward`` or ``reward_full``):
        ``answers`` is a list of text or one answer per line. Returns {run_id, prompt, scores: [{answer,
        score}] in the order given, best: the highest's index}. Only score differences mean anything."""
        return score_answers(ws.finetune, run_id, prompt, answers, ws.reward_scorers).to_dict()

    gr.api(reward_score, api_name="reward_score")
