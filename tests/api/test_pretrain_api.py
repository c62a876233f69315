"""Pre-training endpoints through gradio_client: a tiny run to the end on the fine-tuning status endpoint, the
objective views, the size count, and bad requests answered with clear messages."""

from __future__ import annotations

import time

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

TINY = {"layers": 1, "width": 32, "heads": 2, "context": 32, "vocab_size": 512, "steps": 20, "batch_size": 8,
        "eval_every": 10, "eval_sequences": 8, "sample_tokens": 6, "learning_rate": 1e-2, "run_name": "api-pretrain"}


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_a_tiny_run_ends_on_the_shared_status_endpoint(client, workspace):
    run_id = client.predict(TINY, api_name="/pretrain_start")["run_id"]
    deadline = time.monotonic() + 120
    status = client.predict(run_id, api_name="/finetune_status")
    while status["status"] not in ("finished", "failed", "cancelled") and time.monotonic() < deadline:
        time.sleep(1)
        status = client.predict(run_id, api_name="/finetune_status")
    assert status["status"] == "finished", status["message"]
    assert status["step"] == status["max_steps"] == 20 and [s for s, _ in status["eval_losses"]] == [0, 10, 20]
    assert status["eval_losses"][-1][1] < status["eval_losses"][0][1]
    assert run_id in [run["run_id"] for run in client.predict(api_name="/finetune_runs")]
    assert client.predict(run_id, api_name="/finetune_cancel")["status"] == "finished"  # nothing to stop
    assert (workspace.finetune.run_dir(run_id) / "model" / "config.json").is_file()
    with pytest.raises(AppError, match="no finished pre-training results|A scaling law has 5 numbers"):
        client.predict([run_id], 0, api_name="/scaling_fit")


def test_objective_views_and_size_counts(client):
    views = client.predict("To be, or not to be, that is the question: whether 'tis nobler in the mind", "all", 0,
                           api_name="/pretrain_objectives")
    assert [view["objective"] for view in views] == ["clm", "mlm", "span"]
    assert views[1]["counts"]["chosen"] >= 1 and views[0]["counts"]["scored"] == views[0]["counts"]["tokens"] - 1
    [span] = client.predict("", "span", 3, api_name="/pretrain_objectives")
    assert span["spans"] and "<extra_id_0>" in span["input_text"]
    counted = client.predict("decoder", 2, 64, 2, 64, 2048, api_name="/pretrain_size")
    assert counted["non_embedding"] == 100_096 and counted["flops_per_token"] == 600_576


def test_bad_requests(client):
    with pytest.raises(AppError, match="encoder family trains with 'mlm'"):
        client.predict({"family": "encoder", "objective": "clm"}, api_name="/pretrain_start")
    with pytest.raises(AppError, match="Unknown setting"):
        client.predict({"epochs": 2}, api_name="/pretrain_start")
    with pytest.raises(AppError, match="does not split into"):
        client.predict({"width": 50, "heads": 4}, api_name="/pretrain_start")
    with pytest.raises(AppError, match="Objective must be"):
        client.predict("some text to look at here", "gan", 0, api_name="/pretrain_objectives")
    with pytest.raises(AppError, match="not a run id"):
        client.predict(["../../etc"], 0, api_name="/scaling_fit")
    with pytest.raises(AppError, match="Name the runs"):
        client.predict([], 0, api_name="/scaling_fit")
    with pytest.raises(AppError, match=r"sizes\[0\]"):
        client.predict([{"layers": 2, "width": 30, "heads": 4}], [1e10], None, api_name="/scaling_sweep_start")


def test_a_tiny_sweep_and_its_fit(client):
    sizes = [{"layers": 1, "width": 16, "heads": 2}, {"layers": 1, "width": 32, "heads": 2}]
    started = client.predict(sizes, [3e7, 1e8, 3e8], {"context": 32, "batch_size": 4, "vocab_size": 512,
                                                      "eval_sequences": 4}, api_name="/scaling_sweep_start")
    assert len(started["points"]) == 6 and started["total_steps"] == sum(p["steps"] for p in started["points"])
    deadline = time.monotonic() + 180
    status = client.predict(started["run_id"], api_name="/finetune_status")
    while status["status"] not in ("finished", "failed", "cancelled") and time.monotonic() < deadline:
        time.sleep(1)
        status = client.predict(started["run_id"], api_name="/finetune_status")
    assert status["status"] == "finished", status["message"]
    assert status["step"] == status["max_steps"] == started["total_steps"]
    law = client.predict([started["run_id"]], 1e12, api_name="/scaling_fit")
    assert {"E", "A", "B", "alpha", "beta", "points", "chinchilla", "frontier", "recommended"} <= set(law)
    assert len(law["points"]) == 6 and law["recommended"]["budget_flops"] == 1e12 and len(law["frontier"]) == 3
