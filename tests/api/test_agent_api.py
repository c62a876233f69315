"""Tools and ReAct through gradio_client: ``/run_agent``'s contract on the real embedded model, and a clear
error for bad input."""

from __future__ import annotations

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

MODEL = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_run_agent_returns_steps_answer_and_finish_reason(client):
    result = client.predict("What is 2 + 2?", MODEL, ["calculator"], 1, api_name="/run_agent")
    assert set(result) >= {"steps", "answer", "finish_reason"}
    assert result["finish_reason"] in ("answer", "max_steps")
    for step in result["steps"]:
        assert set(step) == {"thought", "tool", "arguments", "observation"}
    with pytest.raises(AppError, match="Type a question for the agent"):
        client.predict("  ", MODEL, ["calculator"], 2, api_name="/run_agent")
    with pytest.raises(AppError, match="Unknown tool"):
        client.predict("What is 2 + 2?", MODEL, ["shell"], 2, api_name="/run_agent")
