"""Ballots from the real engine: both answers decoded together and streamed in the order shown, held until a
vote, and the vote page's translation called with dicts keyed by component."""

from __future__ import annotations

import random
from dataclasses import replace

import gradio as gr
import pytest

from playground.core.errors import InvalidInputError, PlaygroundError
from playground.generation.engine import Ask
from playground.generation.sampling import SamplingSettings
from playground.preferences.arena import BallotRequest, Contender, make_ballot
from playground.preferences.votes import Ballot, VoteStore
from tabs.prompt_lab import vote as vote_page

MODEL = "smollm2-135m-instruct"
PROMPT = "Name a colour."


def test_a_ballot_holds_both_answers_in_the_order_it_streamed_them(workspace, tmp_path):
    votes = VoteStore(tmp_path)
    request = BallotRequest(PROMPT, Contender(MODEL, 0.0), Contender(MODEL, 1.5), max_new_tokens=8, seed=11)
    states = list(make_ballot(workspace.generation, votes, request, random.Random(0)))
    ballot = states[-1].ballot
    assert ballot is not None and all(state.ballot is None for state in states[:-1])
    assert states[-1].answers == ballot.answers and set(ballot.systems) == {
        f"{MODEL} · temperature 0", f"{MODEL} · temperature 1.5"}
    greedy = ballot.answers[ballot.systems.index(f"{MODEL} · temperature 0")]
    alone = list(workspace.generation.stream_many([Ask(MODEL, PROMPT, SamplingSettings(max_new_tokens=8))]))[-1][0]
    assert greedy == alone.text  # decoded in one batch, the greedy answer is the greedy answer
    vote = votes.cast_by_id(ballot.id, "A")
    assert vote.ballot == ballot and votes.pairs()[0]["chosen"] == ballot.answers[0]
    with pytest.raises(InvalidInputError, match="No open ballot"):
        votes.cast_by_id(ballot.id, "B")


def test_two_empty_answers_are_not_put_to_the_vote(workspace, tmp_path):
    """Fed as raw text, the instruct model ends its turn at once on this prompt (greedy): no ballot is held."""
    votes = VoteStore(tmp_path)
    request = BallotRequest("What is 2+2?", Contender(MODEL, 0.0), Contender(MODEL, 0.0), max_new_tokens=8,
                            chat=False, seed=0)
    streamed = []
    with pytest.raises(PlaygroundError, match="Both answers came back empty"):
        streamed.extend(make_ballot(workspace.generation, votes, request, random.Random(0)))
    assert all(state.ballot is None for state in streamed)
    chatted = list(make_ballot(workspace.generation, votes, replace(request, chat=True), random.Random(0)))
    assert chatted[-1].ballot is not None and all(answer.strip() for answer in chatted[-1].answers)


def test_bad_ballot_requests_are_refused():
    with pytest.raises(InvalidInputError, match="Type a prompt"):
        BallotRequest(" ", Contender(MODEL), Contender(MODEL))
    with pytest.raises(InvalidInputError, match="Choose a model"):
        Contender("")
    with pytest.raises(InvalidInputError, match="temperature"):
        Contender(MODEL, 5)


@pytest.fixture
def view() -> vote_page.VoteView:
    return vote_page.VoteView(gr.Dropdown(), gr.Textbox(), gr.Textbox(), gr.Slider(), gr.Textbox(),
                              gr.Slider(), gr.Slider(), gr.Button(), gr.Textbox(), gr.Textbox(), gr.State(),
                              {c: gr.Button() for c in vote_page.BUTTONS}, gr.Markdown(), gr.Dataframe(), gr.Plot(),
                              gr.Button(), gr.File())


def test_the_page_votes_reveals_and_ranks(workspace, view, tmp_path):
    votes = VoteStore(tmp_path)
    values = {view.lab_model: MODEL, view.prompt: PROMPT, view.model_a: "", view.model_b: " ",
              view.temperature_a: 0.0, view.temperature_b: 1.0, view.max_new_tokens: 6.0}
    request = vote_page.ballot_request(view, values)
    assert request.first.model == request.second.model == MODEL and request.max_new_tokens == 6 and request.chat
    with pytest.raises(InvalidInputError, match="Generate two answers first"):
        vote_page.vote_outputs(votes, view, "A", {view.ballot: None})
    outputs = list(vote_page.ballot_outputs(workspace.generation, votes, view, values))
    ballot_id = outputs[-1][view.ballot]
    assert ballot_id and view.answer_a in outputs[-1] and view.answer_b in outputs[-1]
    after = vote_page.vote_outputs(votes, view, "tie", {view.ballot: ballot_id})
    assert "A was **" in after[view.reveal] and "not as a pair" in after[view.reveal]
    board = after[view.board]
    assert board["headers"] == ["System", "Elo", "95% interval", "Wins", "Votes"]
    assert [row[0] for row in board["data"]] == [s.system for s in votes.leaderboard()] and len(board["data"]) == 2
    assert after[view.ballot] is None and votes.pairs() == []


def test_the_board_names_groups_no_vote_links(view, tmp_path):
    votes = VoteStore(tmp_path)
    for first, second, choice in (("cold", "hot", "A"), ("cold", "hot", "B"), ("cold", "hot", "A"),
                                  ("small", "big", "B")):
        votes.cast(Ballot.blind("q", (first, f"by {first}"), (second, f"by {second}")), choice)
    board = vote_page.board_outputs(votes, view)
    table = board[view.board]
    assert table["headers"] == ["System", "Group", "Elo", "95% interval", "Wins", "Votes"]
    assert sorted(row[:2] for row in table["data"]) == [["big", 2], ["cold", 1], ["hot", 1], ["small", 2]]
    assert "2 groups that no vote links" in board[view.board_plot].layout.title.text
    votes.cast(Ballot.blind("q", ("hot", "by hot"), ("big", "by big")), "A")  # a vote between them joins them
    joined = vote_page.board_outputs(votes, view)
    assert "Group" not in joined[view.board]["headers"] and all(len(row) == 5 for row in joined[view.board]["data"])
    assert "groups" not in joined[view.board_plot].layout.title.text
