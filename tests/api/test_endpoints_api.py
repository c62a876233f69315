"""Endpoint models against a real ``transformers serve`` of the embedded model (the ``served_model``
fixture): the prompt lab, side by side with a local model in the same run, evaluation, and the API.

Greedy decoding with the repetition penalty off is what both sides can honour, so there the
endpoint's answer must equal the local model's, token for token.
"""

from __future__ import annotations

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from playground.core.iterutil import last
from playground.generation.sampling import SamplingSettings
from playground.generation.side_by_side import Variant, compare
from playground.prompting import techniques as prompts
from playground.prompting.evaluation import evaluate, shipped_items
from playground.rag.index import Document

MODEL = "smollm2-135m-instruct"
PLAIN = SamplingSettings(max_new_tokens=16, repetition_penalty=1.0)


@pytest.fixture(scope="module")
def client(app_url, served_model):
    return Client(app_url, verbose=False)


def test_endpoint_greedy_answer_equals_the_local_models(workspace, served_model):
    engine = workspace.generation
    remote = engine.generate(served_model, "What is the capital of France?", PLAIN)
    local = engine.generate(MODEL, "What is the capital of France?", PLAIN)
    assert remote.endpoint == "served" and remote.finish_reason in ("eos", "length")
    assert remote.text and remote.text == local.text
    assert remote.tokens_out == local.tokens_out  # the server's usage figure
    assert remote.tokens_in == local.tokens_in  # same chat template, applied on the server


def test_side_by_side_runs_local_and_endpoint_models_in_one_run(workspace, served_model):
    question = "Name a colour."
    final = last(compare(workspace.generation, [Variant(question, MODEL), Variant(question, served_model)], PLAIN))
    local, remote = (run.generation for run in final.runs)
    assert local.endpoint is None and remote.endpoint == "served"
    assert local.text == remote.text != ""
    assert local.has_probabilities and not remote.has_probabilities


def test_evaluation_on_an_endpoint_scores_like_the_local_model(workspace, served_model):
    task = prompts.task("sentiment")
    items = shipped_items(task)[:3]
    settings = SamplingSettings(max_new_tokens=8, repetition_penalty=1.0)
    on_endpoint = last(evaluate(workspace.generation, served_model, task, items, ["few-shot"], settings))
    here = last(evaluate(workspace.generation, MODEL, task, items, ["few-shot"], settings))
    assert [item.outputs for item in on_endpoint.scores[0].items] == [item.outputs for item in here.scores[0].items]
    assert on_endpoint.scores[0].correct == here.scores[0].correct
    assert on_endpoint.scores[0].tokens_out > 0


def test_generate_tokens_on_an_endpoint_names_what_it_could_not_honour(client, served_model):
    data = client.predict("Say hello.", served_model, 8, 0.0, 1.0, 0, api_name="/generate_tokens")
    assert data["endpoint"] == "served" and data["output"]
    assert data["probabilities"] is False and data["tokens"] == []
    notices = " ".join(data["notices"])
    assert "repetition penalty (1.2)" in notices  # /generate's default, which the OpenAI API has no field for
    assert "no per-token probabilities" in notices
    streamed = client.predict("Say hello.", served_model, 8, 0.0, 1.0, 0, api_name="/generate")
    assert streamed == data["output"]


def test_endpoints_lists_a_server_whose_model_listing_fails_with_the_reason(client, served_model):
    listed = {entry["name"]: entry for entry in client.predict(api_name="/endpoints")}
    served = listed["served"]
    assert served["key"] == "none" and served["base_url"].endswith("/v1")
    assert served["models"] == [] and "answered 500" in served["error"]  # transformers serve fails /v1/models
    assert "may still generate" in served["error"] and "served:<model id>" in served["error"]


def test_an_unknown_model_id_and_an_unknown_endpoint_are_clear_errors(client, served_model):
    with pytest.raises(AppError, match="refused the request.*pinned"):
        client.predict("Hi", "served:some/other-model", 4, 0.0, 1.0, 0, api_name="/generate_tokens")
    with pytest.raises(AppError, match="endpoint 'nowhere', which this server does not know"):
        client.predict("Hi", "nowhere:model", 4, 0.0, 1.0, 0, api_name="/generate")


def test_tabs_that_need_weights_say_an_endpoint_model_cannot_be_used(client, served_model):
    with pytest.raises(AppError, match="needs the model's weights in this process"):
        client.predict("The cat sat.", served_model, 0, 0, api_name="/attention")
    with pytest.raises(AppError, match="needs the model's weights in this process"):
        client.predict("The cat sat.", served_model, api_name="/tokenize")


def test_rag_answers_with_an_endpoint_model_and_chunks_with_the_local_tokenizer(workspace, served_model):
    owner = "endpoint-test"
    workspace.rag.index.index(owner, [Document("notes.md", "The spare key is under the third flowerpot by the door.")],
                              served_model, 64, 8)
    hits = workspace.rag.retrieve(owner, "Where is the spare key?", 1, served_model)
    assert "flowerpot" in hits[0].chunk.text
    result = last(workspace.rag.answer("Where is the spare key?", hits, served_model, PLAIN))
    assert result.answer and result.answer_without_retrieval
    assert all(run.generation.endpoint == "served" for run in result.comparison.runs)


def test_the_agent_loop_sends_the_tools_to_a_real_server_and_gets_an_answer(workspace, served_model):
    from playground.agents.react import AgentRequest, run_agent
    from playground.agents.tools import ToolContext

    request = AgentRequest("What is 12 * 34?", served_model, ("calculator",), 2, max_new_tokens=24)
    final = last(run_agent(workspace.generation, request, ToolContext()))
    assert final.error is None, final.error  # the server took the tools and the conversation
    assert final.finish_reason in ("answer", "max_steps") and final.turns >= 1
    assert '"What is 12 * 34?"' in final.prompt  # the page shows the messages the endpoint was sent
    if final.finish_reason == "answer":
        assert final.answer.strip()
