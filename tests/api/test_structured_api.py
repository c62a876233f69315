"""Structured output through gradio_client: ``/generate_structured`` on the real embedded model, held to the
Prompt lab's example schema beside a free draw, and clear errors for a bad schema or regex."""

from __future__ import annotations

import json

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from playground.prompting.json_schema import schema_errors
from playground.prompting.structured import EXAMPLE_PROMPT, EXAMPLE_SCHEMA

MODEL = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_generate_structured_returns_valid_json_with_the_grammar_steps_and_the_free_side(client):
    result = client.predict(EXAMPLE_PROMPT, MODEL, EXAMPLE_SCHEMA, 96, api_name="/generate_structured")
    assert result["finish_reason"] == "eos" and result["valid"] is True and result["parses"] is True
    assert schema_errors(json.loads(result["output"]), json.loads(EXAMPLE_SCHEMA)) == []
    assert len(result["allowed_counts"]) == len(result["tokens"]) == len(result["removed"])
    assert result["allowed_counts"][0] < 10 and max(result["allowed_counts"]) > 1000  # "{" forced; a string is open
    assert {"id", "text", "prob"} <= set(result["tokens"][0]) and result["constraint"]["kind"] == "json_schema"
    assert len(result["free"]) == 1 and result["free_parse_rate"] in (0.0, 1.0)
    regex = client.predict("The date of the moon landing:", MODEL, r"[0-9]{4}-[0-9]{2}-[0-9]{2}", 16,
                           api_name="/generate_structured")
    assert regex["valid"] and len(regex["output"]) == 10


@pytest.mark.parametrize("spec, words", [('{"type": "object",', "not valid JSON"),
                                         ('{"type": "strin"}', "Invalid type"), ("a(b", "unclosed group")])
def test_bad_schemas_and_regexes_are_refused_with_a_clear_message(client, spec, words):
    with pytest.raises(AppError, match=words):
        client.predict("Hi", MODEL, spec, 16, api_name="/generate_structured")
