"""Fine-tuning endpoints through gradio_client (and /reward_score on a tiny reward run trained here)."""

from __future__ import annotations

import json
import math
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


TOPICS = ["rain", "cats", "tea", "maps", "bread", "snow", "ships", "clocks", "bees", "stars", "roads", "lamps"]


@pytest.fixture(scope="module")
def reward_run(workspace, tmp_path_factory):
    """A reward model's run in the app's runs folder, trained by the worker's own entry point (in this process)
    for 4 steps on a 2-layer random Llama over the embedded tokenizer: seconds, not a real reward model."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from playground.finetune.config import FinetuneConfig
    from playground.finetune.events import read_events
    from playground.finetune.train import train

    tokenizer = workspace.store.hf_tokenizer("smollm2-135m-instruct")
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                         eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id))
    base = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(base)
    tokenizer.save_pretrained(base)
    data = tmp_path_factory.mktemp("pairs") / "pairs.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"Tell me about {t}.", "chosen": f"{t.title()} are nice.",
                                        "rejected": f"Well, {t}, hmm, where to begin, I could talk for hours."}) + "\n"
                            for t in TOPICS), encoding="utf-8")
    run_dir = workspace.settings.runs_dir / "20200102-000000-api-reward"
    run_dir.mkdir(parents=True)
    FinetuneConfig(method="reward", base_model=str(base), dataset=str(data), max_steps=4, batch_size=2,
                   max_seq_length=64, eval_size=4, eval_every=4, save_every=4, warmup_steps=0,
                   learning_rate=5e-3).save(run_dir / "config.json")
    assert train(run_dir) == 0, read_events(run_dir)[-1]
    return run_dir.name


def test_reward_score_scores_each_answer_with_a_reward_run(client, reward_run):
    answers = ["Rain is nice.", "Well, rain, hmm, where to begin, I could talk for hours.", "Rain."]
    scored = client.predict(reward_run, "Tell me about rain.", answers, api_name="/reward_score")
    assert scored["run_id"] == reward_run and scored["prompt"] == "Tell me about rain."
    assert [row["answer"] for row in scored["scores"]] == answers
    values = [row["score"] for row in scored["scores"]]
    assert all(math.isfinite(value) for value in values) and values[scored["best"]] == max(values)
    lines = client.predict(reward_run, "Tell me about rain.", "\n".join(answers), api_name="/reward_score")
    assert [row["score"] for row in lines["scores"]] == pytest.approx(values, abs=1e-4)  # one answer per line
    status = client.predict(reward_run, api_name="/finetune_status")
    assert status["reward_eval"]["pairs"] == 4 and len(status["reward_eval"]["chosen"]) == 4


def test_reward_score_refuses_clearly(client, reward_run, workspace):
    from playground.finetune.config import FinetuneConfig

    with pytest.raises(AppError, match="at least one answer"):
        client.predict(reward_run, "Tell me about rain.", [], api_name="/reward_score")
    with pytest.raises(AppError, match="No run '20200102-000000-nothing'"):
        client.predict("20200102-000000-nothing", "Hi?", ["Hello."], api_name="/reward_score")
    lora = workspace.settings.runs_dir / "20200102-000000-api-lora"
    lora.mkdir(parents=True, exist_ok=True)
    FinetuneConfig(max_steps=3).save(lora / "config.json")
    (lora / "events.jsonl").write_text(json.dumps({"event": "cancelled", "message": "never ran"}) + "\n",
                                       encoding="utf-8")
    with pytest.raises(AppError, match="trained with lora, not a reward model"):
        client.predict(lora.name, "Hi?", ["Hello."], api_name="/reward_score")
