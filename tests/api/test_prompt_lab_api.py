"""Prompt lab endpoints through gradio_client, on the real embedded model."""

from __future__ import annotations

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

MODEL = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_generate_streams_and_ends_with_the_whole_completion(client, workspace):
    job = client.submit("Name three colours.", MODEL, 24, 0.0, 1.0, 0, api_name="/generate")
    final = job.result(timeout=120)
    streamed = [text for text in job.outputs() if text]
    assert final and streamed[-1] == final
    assert all(later.startswith(earlier) for earlier, later in zip(streamed, streamed[1:], strict=False))
    assert len(streamed) > 1  # it did stream
    from playground.generation.sampling import SamplingSettings

    expected = workspace.generation.generate(MODEL, "Name three colours.", SamplingSettings(max_new_tokens=24))
    assert final == expected.text


def test_seeded_sampling_is_reproducible_through_the_api(client):
    first = client.predict("Tell me a short story.", MODEL, 16, 0.9, 0.95, 42, api_name="/generate")
    again = client.predict("Tell me a short story.", MODEL, 16, 0.9, 0.95, 42, api_name="/generate")
    assert first == again


def test_generate_tokens_has_probabilities(client):
    data = client.predict("Say hello.", MODEL, 8, 0.0, 1.0, 0, api_name="/generate_tokens")
    assert data["tokens_out"] == len(data["tokens"]) > 0
    for token in data["tokens"]:
        assert 0 < token["prob"] <= 1 and sum(a["prob"] for a in token["alternatives"]) <= 1 + 1e-5
    assert data["first_token_seconds"] > 0


def test_generate_takes_the_pages_technique_stop_strings_and_penalty(client, workspace):
    """The optional arguments run the page's own path (playground.prompting.lab): the same text as the library."""
    from playground.generation.sampling import SamplingSettings
    from playground.prompting.lab import api_request, final_text, run_prompt

    question = "What is 12 plus 30?"
    args = (question, MODEL, 24, 0.0, 1.0, 0)
    cot = client.predict(*args, "chain-of-thought", ["\n\n"], 1.0, api_name="/generate")
    request = api_request(question, MODEL, SamplingSettings(max_new_tokens=24, repetition_penalty=1.0),
                          "chain-of-thought", ["\n\n"])
    *_, expected = run_prompt(workspace.generation, request)
    assert cot == final_text(expected) and "\n\n" not in cot
    assert cot != client.predict(*args, api_name="/generate")  # the template changed what the model read
    data = client.predict(question, MODEL, 8, 0.0, 1.0, 0, "self-consistency", api_name="/generate_tokens")
    assert len(data["paths"]) == 5 and len(data["answers"]) == 5 and data["temperature"] > 0
    assert [path["seed"] for path in data["paths"]] == [0, 1, 2, 3, 4]
    with pytest.raises(AppError, match="Unknown technique"):
        client.predict(*args, "no-such-technique", api_name="/generate")


def test_compare_prompts_contract(client):
    rows = client.predict(["Name a colour.", "Name an animal."], MODEL, 8, api_name="/compare_prompts")
    assert [row["prompt"] for row in rows] == ["Name a colour.", "Name an animal."]
    for row in rows:
        assert {"prompt", "output", "tokens_in", "tokens_out", "seconds"} <= set(row)
        assert row["output"] and 0 < row["tokens_out"] <= 8 and row["tokens_in"] > 3 and row["seconds"] > 0


def test_techniques_render_and_evaluate(client):
    names = [t["name"] for t in client.predict(api_name="/prompt_techniques")]
    assert "few-shot" in names and "self-consistency" in names
    rendered = client.predict("few-shot", "sentiment", "Awful.", api_name="/render_prompt")
    assert rendered["prompt"].endswith("Review: Awful.\nSentiment:") and rendered["stop"] == ["\n"]
    result = client.predict("sentiment", ["few-shot"], MODEL, 2, api_name="/evaluate_prompts")
    score = result["scores"][0]
    assert score["scored"] == 2 and score["ci_low"] <= score["accuracy"] <= score["ci_high"]


@pytest.mark.parametrize(("args", "message"), [
    (("", MODEL, 8, 0.0, 1.0, 0), "prompt is empty"),
    (("Hi", MODEL, 0, 0.0, 1.0, 0), "max_new_tokens must be a whole number from 1"),
    (("Hi", MODEL, 100_000, 0.0, 1.0, 0), "from 1 to 2,048"),
    (("Hi", MODEL, 8, -1.0, 1.0, 0), "temperature must be at least 0"),
    (("Hi", "minilm-l6", 8, 0.0, 1.0, 0), "encoder"),
    (("Hi", "nobody/nothing", 8, 0.0, 1.0, 0), "Could not load"),
])
def test_bad_input_is_a_clear_error(client, args, message):
    with pytest.raises(AppError, match=message):
        client.predict(*args, api_name="/generate")


def test_missing_variable_and_bad_compare_input(client):
    with pytest.raises(AppError, match="Unknown technique"):
        client.predict("telepathy", "sentiment", "x", api_name="/render_prompt")
    with pytest.raises(AppError, match="1 to 4"):
        client.predict(["a"] * 5, MODEL, 4, api_name="/compare_prompts")


def test_cancelling_a_generation_frees_the_model(client, workspace):
    """A stopped request (the page's Stop button, or a client's cancel) must give back its place
    in the model's line, or two stopped students would block the model for everyone."""
    import time

    job = client.submit("Write a very long essay about the sea.", MODEL, 600, 0.0, 1.0, 0, api_name="/generate")
    engine = workspace.generation
    deadline = time.monotonic() + 60
    while not any(job.outputs()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert engine.busy(MODEL)[0] == 1
    job.cancel()
    deadline = time.monotonic() + 15
    while engine.busy(MODEL) != (0, 0) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert engine.busy(MODEL) == (0, 0)


def test_speculative_decoding_endpoint_gives_greedys_tokens_in_fewer_forwards(client):
    text = ("Copy this list exactly, then stop: apples, pears, plums, cherries, grapes, lemons, limes, "
            "oranges, peaches, apricots.")
    result = client.predict(text, "smollm2-135m-instruct", "prompt lookup", "", 32, api_name="/generate_speculative")
    assert result["same_as_greedy"] and result["new_tokens"] > result["forwards"]
    assert 0 < result["acceptance"] <= 1 and result["plain_seconds"] > 0
    with pytest.raises(AppError, match="only used by method 'draft model'"):
        client.predict(text, "smollm2-135m-instruct", "prompt lookup", "tiny-draft", 8,
                       api_name="/generate_speculative")
    with pytest.raises(AppError, match="needs a draft model"):
        client.predict(text, "smollm2-135m-instruct", "draft model", "", 8, api_name="/generate_speculative")


def test_a_model_drafting_for_itself_has_every_guess_accepted(client):
    """The only draft offline is the embedded model itself: no speed-up (the draft costs as much), but every
    guess agrees, and the tokens are greedy's."""
    result = client.predict("Name three colours.", MODEL, "draft model", MODEL, 16, api_name="/generate_speculative")
    assert result["method"] == "draft model" and result["same_as_greedy"] and result["acceptance"] == 1
    assert result["forwards"] < result["new_tokens"] and result["draft_forwards"] > 0
