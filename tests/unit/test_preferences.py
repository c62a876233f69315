"""Blind votes and the leaderboard: concurrent votes all kept and none twice, ties never pairs, Bradley-Terry
against closed forms and its own likelihood equations."""

from __future__ import annotations

import json
import math
import random
import threading

import numpy as np
import pytest

from playground.core.errors import InvalidInputError
from playground.preferences.ranking import Outcome, bradley_terry
from playground.preferences.votes import Ballot, VoteStore


def ballot(prompt: str = "Why is the sky blue?", first: str = "model-1", second: str = "model-2") -> Ballot:
    return Ballot.blind(prompt, (first, f"answer by {first}"), (second, f"answer by {second}"))


def test_two_systems_match_the_closed_form_and_its_interval():
    outcomes = [Outcome("a", "b", 1.0)] * 3 + [Outcome("a", "b", 0.0)]
    standings = {s.system: s for s in bradley_terry(outcomes)}
    assert standings["a"].strength - standings["b"].strength == pytest.approx(math.log(3), abs=1e-2)
    assert standings["a"].strength == pytest.approx(-standings["b"].strength)
    # Fisher information of the difference is n p (1 - p) = 4 * 3/4 * 1/4; each strength is half of it
    half_width = 1.96 * math.sqrt(1 / 0.75) / 2
    assert standings["a"].high - standings["a"].strength == pytest.approx(half_width, rel=1e-2)
    assert (standings["a"].wins, standings["a"].games) == (3.0, 4)


def test_systems_never_linked_by_votes_are_ranked_in_separate_groups():
    """Two students each compare a pair of their own: each pair is its own closed form, not one board whose
    unknown offset between the pairs made every interval about 10,000 Elo points wide."""
    outcomes = ([Outcome("a", "b", 1.0)] * 3 + [Outcome("a", "b", 0.0)]
                + [Outcome("c", "d", 1.0)] * 2 + [Outcome("c", "d", 0.0)] * 2 + [Outcome("d", "c", 0.5)] * 2)
    standings = bradley_terry(outcomes)
    assert [(s.system, s.group) for s in standings] == [("c", 1), ("d", 1), ("a", 2), ("b", 2)]  # 6 votes, then 4
    alone = {s.system: s for s in bradley_terry(outcomes[:4])}
    for standing in standings[2:]:
        assert standing.strength == pytest.approx(alone[standing.system].strength, abs=1e-6)
        assert standing.high - standing.low == pytest.approx(alone[standing.system].high - alone[standing.system].low,
                                                             rel=1e-6)
    rows = [s.to_dict() for s in standings]
    assert all(row["elo_high"] - row["elo_low"] < 1000 for row in rows)
    assert all(type(row[key]) is float for row in rows for key in ("elo", "elo_low", "elo_high"))  # JSON numbers


def test_the_fit_solves_the_likelihood_equations_on_a_hand_made_table():
    table = {("a", "b"): (5, 2), ("b", "c"): (4, 3), ("a", "c"): (6, 1), ("c", "d"): (2, 2), ("a", "d"): (3, 1)}
    outcomes = [Outcome(x, y, s) for (x, y), (won, lost) in table.items()
                for s in [1.0] * won + [0.0] * lost] + [Outcome("b", "d", 0.5)]
    strength = {s.system: s.strength for s in bradley_terry(outcomes)}
    assert sum(strength.values()) == pytest.approx(0, abs=1e-9)
    for system in strength:  # expected wins equal actual wins, system by system (a tie is half a win)
        expected = actual = 0.0
        for o in outcomes:
            if system in (o.first, o.second):
                other = o.second if o.first == system else o.first
                expected += 1 / (1 + math.exp(strength[other] - strength[system]))
                actual += o.score if o.first == system else 1 - o.score
        assert expected == pytest.approx(actual, abs=0.02)
    assert [s.system for s in bradley_terry(outcomes)][0] == "a"


def test_thirty_voters_at_once_are_all_kept_and_a_ballot_counts_once(tmp_path):
    stores = [VoteStore(tmp_path), VoteStore(tmp_path)]  # two stores: as two server processes would
    ballots = [ballot(f"prompt {i}") for i in range(30)]
    refused = []

    def vote(index: int) -> None:
        for attempt in range(2):  # each voter double-clicks
            try:
                stores[(index + attempt) % 2].cast(ballots[index], random.choice(["A", "B", "tie", "both bad"]))
            except InvalidInputError as error:
                refused.append(str(error))

    threads = [threading.Thread(target=vote, args=(i,)) for i in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = stores[0].votes()
    assert sorted(v["id"] for v in stored) == sorted(b.id for b in ballots)
    assert len(refused) == 30 and all("already voted" in message for message in refused)


def test_ties_and_both_bad_never_become_pairs_but_ties_count_for_the_board(tmp_path):
    store = VoteStore(tmp_path)
    for choice in ("A", "B", "tie", "both bad"):
        store.cast(ballot(f"q {choice}"), choice)
    pairs = store.pairs()
    assert len(pairs) == 2 and all(set(p) == {"prompt", "chosen", "rejected"} for p in pairs)
    assert {p["prompt"] for p in pairs} == {"q A", "q B"}
    assert sum(s.games for s in store.leaderboard()) == 2 * 3  # A, B and the tie; "both bad" ranks neither
    exported = store.export(tmp_path / "out" / "pairs.jsonl")
    assert [json.loads(line) for line in exported.read_text().splitlines()] == pairs
    with pytest.raises(InvalidInputError, match="one of A, B, tie, both bad"):
        store.cast(ballot(), "C")


def test_a_ballot_hides_its_order_and_a_chosen_answer_is_the_one_shown(tmp_path):
    orders = {Ballot.blind("p", ("x", "from x"), ("y", "from y"), random.Random(seed)).systems for seed in range(20)}
    assert orders == {("x", "y"), ("y", "x")}
    shown = Ballot.blind("p", ("x", "from x"), ("y", "from y"), random.Random(3))
    assert set(shown.to_dict()) == {"id", "prompt", "a", "b"}  # no systems before the vote
    store = VoteStore(tmp_path)
    store.cast(shown, "B")
    assert store.pairs() == [{"prompt": "p", "chosen": shown.answers[1], "rejected": shown.answers[0]}]
    assert store.leaderboard()[0].system == shown.systems[1]


def test_a_damaged_line_is_skipped_and_the_rest_kept(tmp_path):
    store = VoteStore(tmp_path)
    store.cast(ballot(), "A")
    with open(store.path, "a", encoding="utf-8") as file:
        file.write("{not json\n")
    store.cast(ballot(), "B")
    assert len(store.votes()) == 2 and np.isfinite([s.strength for s in store.leaderboard()]).all()
