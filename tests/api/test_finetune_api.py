"""Fine-tuning endpoints through gradio_client."""

from __future__ import annotations

import time

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_start_poll_and_list(client):
    started = client.predict({"max_steps": 3, "eval_every": 3, "save_every": 3, "eval_size": 4, "probe_tokens": 8,
                              "run_name": "api"}, api_name="/finetune_start")
    run_id = started["run_id"]
    deadline = time.monotonic() + 300
    status = client.predict(run_id, api_name="/finetune_status")
    while status["status"] not in ("finished", "failed", "cancelled") and time.monotonic() < deadline:
        time.sleep(1)
        status = client.predict(run_id, api_name="/finetune_status")
    assert status["status"] == "finished", status["message"]
    assert status["step"] == status["max_steps"] == 3
    assert [step for step, _ in status["losses"]] == [1, 2, 3] and status["eval_losses"][0][0] == 3
    runs = client.predict(api_name="/finetune_runs")
    assert run_id in [run["run_id"] for run in runs]
    assert client.predict(run_id, api_name="/finetune_cancel")["status"] == "finished"  # nothing to stop
    [row] = client.predict([run_id], api_name="/finetune_compare")
    assert row["method"] == "lora" and 0 < row["trainable_pct"] < 1 and row["saved_mb"] > 0
    assert row["seconds_per_step"] > 0 and row["final_loss"] == round(status["losses"][-1][1], 4)
    scores = client.predict(run_id, "sentiment", None, 3, api_name="/finetune_evaluate")
    assert scores["labelled"]["base"]["scored"] == scores["labelled"]["tuned"]["scored"] == 3
    assert 0 <= scores["labelled"]["tuned"]["ci_low"] <= scores["labelled"]["tuned"]["ci_high"] <= 1
    assert scores["perplexity"]["rows"] == 4 and scores["perplexity"]["base"] > 1


def test_bad_requests(client):
    with pytest.raises(AppError, match="lora_r must be"):
        client.predict({"lora_r": 0}, api_name="/finetune_start")
    with pytest.raises(AppError, match="Unknown setting"):
        client.predict({"epochs": 2}, api_name="/finetune_start")
    with pytest.raises(AppError, match="not a run id"):
        client.predict("../../etc", api_name="/finetune_status")
    with pytest.raises(AppError, match="not a run id"):
        client.predict(["../../etc"], api_name="/finetune_compare")
    with pytest.raises(AppError, match="Unknown method 'ppo'"):
        client.predict({"method": "ppo"}, api_name="/finetune_start")
