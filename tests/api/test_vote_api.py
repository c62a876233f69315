"""Blind votes through gradio_client: a ballot, a vote that reveals the systems, once only, and the data."""

from __future__ import annotations

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

MODEL = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_a_ballot_a_vote_and_the_preference_data(client):
    pairs_before = len(client.predict(api_name="/preferences"))
    ballot = client.predict("Name a fruit.", MODEL, MODEL, 0.0, 1.3, 8, api_name="/ballot")
    assert set(ballot) == {"id", "prompt", "a", "b"}
    result = client.predict(ballot["id"], "B", api_name="/vote")
    assert {result["system_a"], result["system_b"]} == {f"{MODEL} · temperature 0", f"{MODEL} · temperature 1.3"}
    pairs = client.predict(api_name="/preferences")
    assert len(pairs) == pairs_before + 1
    assert pairs[-1] == {"prompt": "Name a fruit.", "chosen": ballot["b"], "rejected": ballot["a"]}
    board = client.predict(api_name="/leaderboard")
    assert {row["system"] for row in board} >= {result["system_a"], result["system_b"]}
    assert all(row["low"] <= row["strength"] <= row["high"] for row in board)
    assert all(isinstance(row[key], float) for row in board for key in ("elo", "elo_low", "elo_high"))  # not "1035.2"
    assert all(row["elo_low"] <= row["elo"] <= row["elo_high"] and row["group"] >= 1 for row in board)
    with pytest.raises(AppError, match="No open ballot"):
        client.predict(ballot["id"], "A", api_name="/vote")
    with pytest.raises(AppError, match="one of A, B, tie, both bad"):
        other = client.predict("Name a fruit.", MODEL, MODEL, 0.0, 0.0, 4, api_name="/ballot")
        client.predict(other["id"], "maybe", api_name="/vote")
