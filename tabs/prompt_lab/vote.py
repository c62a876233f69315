"""Which answer is better? Two answers to one prompt shown blind, a vote, the class's leaderboard and
preference data (playground.preferences). Layout, translation (keyed by component) and wiring.

Endpoints: ``/ballot``, ``/vote``, ``/leaderboard``, ``/preferences``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr
import plotly.graph_objects as go

from playground.core.errors import InvalidInputError
from playground.core.iterutil import last
from playground.generation.engine import GenerationEngine
from playground.preferences.arena import BallotRequest, Contender, make_ballot
from playground.preferences.votes import CHOICES, VoteStore
from playground.workspace import Workspace
from tabs.shared.common import event_handler
from tabs.shared.figures import waiting
from tabs.shared.queues import GENERATION_CONCURRENCY, GENERATION_QUEUE

QUEUE = dict(concurrency_id=GENERATION_QUEUE, concurrency_limit=GENERATION_CONCURRENCY)
BOARD_HEADERS = ["System", "Group", "Elo", "95% interval", "Wins", "Votes"]
GROUP_COLOURS = ["#4f46e5", "#ea580c", "#059669", "#db2777", "#0891b2"]
BUTTONS = {"A": "👈 A is better", "B": "B is better 👉", "tie": "🤝 Tie", "both bad": "👎 Both are bad"}


@dataclass(frozen=True)
class VoteView:
    lab_model: gr.Dropdown
    prompt: gr.Textbox
    model_a: gr.Textbox
    temperature_a: gr.Slider
    model_b: gr.Textbox
    temperature_b: gr.Slider
    max_new_tokens: gr.Slider
    generate: gr.Button
    answer_a: gr.Textbox
    answer_b: gr.Textbox
    ballot: gr.State
    buttons: dict[str, gr.Button]
    reveal: gr.Markdown
    board: gr.Dataframe
    board_plot: gr.Plot
    export: gr.Button
    download: gr.File

    @property
    def request_inputs(self) -> set[Any]:
        return {self.lab_model, self.prompt, self.model_a, self.temperature_a, self.model_b,
                self.temperature_b, self.max_new_tokens}


def ballot_request(view: VoteView, values: dict[Any, Any]) -> BallotRequest:
    """Blank model boxes mean the lab's model: two samples of it, or two temperatures. Each answer is a reply
    through the model's chat template, as in Chatbot Arena and as /ballot gives, whatever the lab's checkbox
    (set by Write a prompt's technique) says: fed raw, an instruct model often ends its turn at once."""
    lab = values[view.lab_model]
    model_a, model_b = ((values[box] or "").strip() or lab for box in (view.model_a, view.model_b))
    return BallotRequest(values[view.prompt], Contender(model_a, values[view.temperature_a]),
                         Contender(model_b, values[view.temperature_b]), values[view.max_new_tokens])


def ballot_outputs(engine: GenerationEngine, votes: VoteStore, view: VoteView,
                   values: dict[Any, Any]) -> Iterator[dict[Any, Any]]:
    """Both answers as they stream, then the ballot's id held for the vote."""
    yield {view.ballot: None, view.reveal: "Generating two answers, decoded together..."}
    for state in make_ballot(engine, votes, ballot_request(view, values)):
        outputs = {view.answer_a: state.answers[0], view.answer_b: state.answers[1]}
        if state.ballot is not None:
            outputs.update({view.ballot: state.ballot.id,
                            view.reveal: "Which answer is better? The models stay hidden until you vote."})
        yield outputs


def board_outputs(votes: VoteStore, view: VoteView) -> dict[Any, Any]:
    standings = [s.to_dict() for s in votes.leaderboard()]
    return {view.board: board_table(standings), view.board_plot: board_figure(standings) if standings else
            waiting("No votes yet: each system's score and interval appear here after the first.")}


def board_table(standings: list[dict[str, Any]]) -> dict[str, list]:
    """One row per system (Gradio's headers-and-data form). A Group column joins only when votes link the systems
    in more than one group: a "(group N)" suffix on the name pushed the interval out of view on a laptop."""
    grouped = group_count(standings) > 1
    headers = [h for h in BOARD_HEADERS if grouped or h != "Group"]
    rows = [[s["system"], *([s["group"]] if grouped else []), round(s["elo"]),
             f"{s['elo_low']:.0f} to {s['elo_high']:.0f}", s["wins"], s["games"]] for s in standings]
    return {"headers": headers, "data": rows}


def group_count(standings: list[dict[str, Any]]) -> int:
    return max((s["group"] for s in standings), default=0)


def board_name(standing: dict[str, Any], grouped: bool) -> str:
    """The system, and its group when votes link the systems in more than one."""
    return standing["system"] + (f" (group {standing['group']})" if grouped else "")


def vote_outputs(votes: VoteStore, view: VoteView, choice: str, values: dict[Any, Any]) -> dict[Any, Any]:
    """Record the vote, reveal who wrote which answer, refresh the board."""
    if not values[view.ballot]:
        raise InvalidInputError("Generate two answers first, then vote.")
    vote = votes.cast_by_id(values[view.ballot], choice)
    systems = vote.ballot.systems
    kept = ("kept as a preference pair" if choice in ("A", "B") else
            "kept for the board, not as a pair (it says nothing about which answer to prefer)")
    reveal = (f"**Your vote: {BUTTONS[choice]}**, {kept}. A was **{systems[0]}**, B was **{systems[1]}**. "
              f"The class has {len(votes.votes())} votes and {len(votes.pairs())} preference pairs (the Fine-tuning "
              "tab trains DPO on them as the *class votes* dataset, from 17 pairs on).")
    return {view.ballot: None, view.reveal: reveal, **board_outputs(votes, view)}


def board_figure(standings: list[dict[str, Any]]) -> go.Figure:
    """Each system's Elo with its 95% interval: overlapping bars mean the class cannot tell them apart yet. Groups
    of systems never compared with each other get their own colour: their scores do not compare."""
    groups = group_count(standings)
    figure = go.Figure()
    for group in range(1, groups + 1):
        members = [s for s in standings if s["group"] == group]
        figure.add_trace(go.Scatter(
            x=[s["elo"] for s in members], y=[board_name(s, groups > 1) for s in members], mode="markers",
            name=f"group {group}", marker=dict(size=10, color=GROUP_COLOURS[(group - 1) % len(GROUP_COLOURS)]),
            error_x=dict(type="data", symmetric=False, array=[s["elo_high"] - s["elo"] for s in members],
                         arrayminus=[s["elo"] - s["elo_low"] for s in members])))
    title = "Bradley-Terry scores (Elo scale) with 95% intervals"
    if groups > 1:
        title += f"<br><sup>{groups} groups that no vote links: compare scores within a group</sup>"
    figure.update_layout(title=title, height=140 + 40 * len(standings), showlegend=False,
                         margin=dict(l=10, r=10, t=60, b=10), yaxis=dict(autorange="reversed"))
    return figure


def export_pairs(votes: VoteStore) -> gr.File:
    folder = Path(tempfile.mkdtemp(prefix="preferences-"))
    return gr.File(str(votes.export(folder / "preferences.jsonl")), visible=True)


def layout(lab_model: gr.Dropdown) -> VoteView:
    gr.Markdown("Two answers to the same prompt, **shown blind** in a random order. Vote, and the class builds a "
                "preference dataset (prompt, chosen, rejected: what DPO and a reward model train on) and a "
                "leaderboard. Blank model boxes use the lab's model: two samples, or two temperatures. Each answer is "
                "the model's reply to your prompt through its chat template, as in Chatbot Arena.")
    prompt = gr.Textbox("Explain what a black hole is, in two sentences.", label="Prompt", elem_id="vote-prompt")
    with gr.Row():
        model_a = gr.Textbox(label="First model (blank = the lab's)", max_lines=1, elem_id="vote-model-a")
        temperature_a = gr.Slider(0, 2, value=0.7, step=0.05, label="Its temperature")
        model_b = gr.Textbox(label="Second model (blank = the lab's)", max_lines=1, elem_id="vote-model-b")
        temperature_b = gr.Slider(0, 2, value=1.2, step=0.05, label="Its temperature")
    max_new_tokens = gr.Slider(8, 512, value=96, step=8, label="New tokens per answer", elem_id="vote-tokens")
    generate = gr.Button("Generate two answers", variant="primary", elem_id="vote-generate")
    with gr.Row():
        answer_a = gr.Textbox(label="Answer A", lines=6, interactive=False, elem_id="vote-answer-a")
        answer_b = gr.Textbox(label="Answer B", lines=6, interactive=False, elem_id="vote-answer-b")
    with gr.Row():
        buttons = {choice: gr.Button(BUTTONS[choice], elem_id=f"vote-{choice.replace(' ', '-')}")
                   for choice in CHOICES}
    reveal = gr.Markdown(elem_id="vote-reveal")
    # one above the other: side by side, the systems' long names left the table half its columns in view
    board = gr.Dataframe(headers=board_table([])["headers"], interactive=False, elem_id="vote-board")
    board_plot = gr.Plot(show_label=False, elem_id="vote-board-plot")
    with gr.Row():
        export = gr.Button("Export the preference pairs (JSONL)", elem_id="vote-export")
        download = gr.File(visible=False, label="Preference pairs")
    return VoteView(lab_model, prompt, model_a, temperature_a, model_b, temperature_b, max_new_tokens,
                    generate, answer_a, answer_b, gr.State(None), buttons, reveal, board, board_plot, export,
                    download)


def wire(ws: Workspace, app: gr.Blocks, view: VoteView) -> None:
    hidden = dict(api_visibility="undocumented")
    view.generate.click(event_handler(partial(ballot_outputs, ws.generation, ws.votes, view)), view.request_inputs,
                        [view.ballot, view.reveal, view.answer_a, view.answer_b], api_name="vote_page_ballot",
                        show_progress="minimal", **hidden, **QUEUE)
    for choice, button in view.buttons.items():
        button.click(event_handler(partial(vote_outputs, ws.votes, view, choice)), {view.ballot},
                     [view.ballot, view.reveal, view.board, view.board_plot], api_name="vote_page_vote", **hidden)
    app.load(event_handler(partial(board_outputs, ws.votes, view)), None, [view.board, view.board_plot], **hidden)
    view.export.click(event_handler(partial(export_pairs, ws.votes)), None, view.download, **hidden)


def register_api(ws: Workspace) -> None:
    votes = ws.votes

    @event_handler
    def ballot(prompt: str, model_a: str, model_b: str, temperature_a: float = 0.7, temperature_b: float = 0.7,
               max_new_tokens: int = 96) -> dict:
        """Two answers to `prompt`, in a random order, systems hidden: `{id, prompt, a, b}`; vote with /vote."""
        request = BallotRequest(prompt, Contender(model_a, temperature_a), Contender(model_b, temperature_b),
                                max_new_tokens)
        return last(make_ballot(ws.generation, votes, request)).to_dict()

    @event_handler
    def vote(ballot_id: str, choice: str) -> dict:
        """Vote on an open ballot (`A`, `B`, `tie`, `both bad`); reveals which system wrote which answer."""
        cast = votes.cast_by_id(ballot_id, choice).to_dict()
        return {"choice": choice, "system_a": cast["system_a"], "system_b": cast["system_b"],
                "votes": len(votes.votes()), "pairs": len(votes.pairs())}

    def leaderboard() -> list:
        """Bradley-Terry standings of the voted systems, strongest first, with 95% intervals (Elo scale too)."""
        return [s.to_dict() for s in votes.leaderboard()]

    def preferences() -> list:
        """The class's preference pairs `{prompt, chosen, rejected}` (ties and "both bad" are not pairs)."""
        return votes.pairs()

    gr.api(ballot, api_name="ballot", **QUEUE)
    gr.api(vote, api_name="vote")
    gr.api(leaderboard, api_name="leaderboard")
    gr.api(preferences, api_name="preferences")


def build(ws: Workspace, app: gr.Blocks, lab_model: gr.Dropdown) -> None:
    wire(ws, app, layout(lab_model))
    register_api(ws)
