"""The ReAct loop on a tiny random model: a scripted model turn (what the model says) with real template
rendering, call parsing, tool running and observation appending; the step limit; errors the model reads;
an unscripted turn end to end; the request's checks and the evaluation's shape."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from playground.agents import calls, react
from playground.agents.evaluation import AgentEvalRequest, evaluate_agent
from playground.agents.tools import TOOL_NAMES, ToolContext, chosen_tools
from playground.agents.turns import LocalTurn, endpoint_reply, turn_settings
from playground.core.errors import InvalidInputError
from playground.core.iterutil import last

CALL = '<tool_call>[{"name": "calculator", "arguments": {"expression": "1234 * 5678"}}]'


class Script:
    """The model's turns, in order (the last one repeats); keeps every prompt it was shown."""

    def __init__(self, *replies: str) -> None:
        self.replies, self.prompts = list(replies), []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        return self.replies[min(len(self.prompts), len(self.replies)) - 1]


@pytest.fixture(scope="module")
def model(tiny_folder) -> str:
    return str(tiny_folder)


def scripted_run(workspace, model, script, tools=TOOL_NAMES, max_steps=4):
    """The final state and, at every yield, each step's observation then (the state is updated in place)."""
    turn = LocalTurn(workspace.generation, model, turn_settings(), generate=script)
    seen, state = [], None
    for state in react.react(turn, "What is 1234 * 5678?", chosen_tools(tools), max_steps, ToolContext()):
        seen.append([step.observation for step in state.steps])
    return state, seen


def test_a_scripted_call_runs_the_tool_and_its_observation_reaches_the_next_prompt(workspace, model):
    script = Script(f"I need the calculator.\n{CALL}", "The answer is 7006652.")
    final, seen = scripted_run(workspace, model, script)
    assert final.finish_reason == "answer" and final.answer == "The answer is 7006652."
    assert [step.to_dict() for step in final.steps] == [{"thought": "I need the calculator.", "tool": "calculator",
                                                         "arguments": {"expression": "1234 * 5678"},
                                                         "observation": "7006652"}]
    first, second = script.prompts
    assert '"name": "calculator"' in first and "<tools>" in first  # the schemas, in SmolLM2's trained format
    assert first.endswith("<|im_start|>user\nWhat is 1234 * 5678?<|im_end|>\n<|im_start|>assistant\n")
    assert second.startswith(first)  # the conversation only grows
    assert second[len(first):] == (f"I need the calculator.\n{CALL}</tool_call><|im_end|>\n"
                                   "<|im_start|>tool\n7006652<|im_end|>\n<|im_start|>assistant\n")
    assert seen == [[], [None], ["7006652"], ["7006652"], ["7006652"]]  # the Action shows before its result


def test_a_model_that_always_calls_stops_at_the_step_limit(workspace, model):
    script = Script(CALL)
    final, _ = scripted_run(workspace, model, script, max_steps=3)
    assert final.finish_reason == "max_steps" and final.answer == "" and final.turns == 3
    assert len(script.prompts) == 3 and len(final.steps) == 3
    assert script.prompts[-1].count("<|im_start|>tool\n7006652<|im_end|>") == 2


def test_bad_calls_become_observations_the_model_reads(workspace, model):
    script = Script('<tool_call>[{"name": "shell", "arguments": {"cmd": "ls"}}]</tool_call>'
                    '<tool_call>[{"name": "calculator", oops</tool_call>'
                    '<tool_call>[{"name": "current_date", "arguments": {}}]</tool_call>'
                    "<tool_call>[{'name': 'calculator', 'arguments': {'expression': 'os.system(1)'}}]",
                    "I give up.")
    final, _ = scripted_run(workspace, model, script, tools=("calculator",))
    observations = [step.observation for step in final.steps]
    assert observations[0].startswith("Error: Could not read the tool call")  # unreadable calls come first
    assert observations[1] == "Error: unknown tool 'shell'. The tools you can call: calculator."
    assert "switched off" in observations[2]
    assert observations[3] == "Error: The calculator refuses function calls: it takes only numbers, + - * / // % ** " \
                              "and parentheses."
    assert all(observation in script.prompts[1] for observation in observations)
    assert final.finish_reason == "answer" and final.answer == "I give up."


def test_parsing_is_lenient_where_small_models_slip():
    reply = calls.parse_reply("Thinking. <tool_call>{'name': 'calculator', 'parameters': {'expression': '1+1'}}")
    assert reply.thought == "Thinking." and reply.calls == [calls.ToolCall("calculator", {"expression": "1+1"})]
    as_text = calls.parse_reply('<tool_call>[{"name": "calculator", "arguments": "{\\"expression\\": \\"2\\"}"}]'
                                '</tool_call>')
    assert as_text.calls[0].arguments == {"expression": "2"}
    trailing = calls.parse_reply('<tool_call>[{"name": "current_date", "arguments": {}}] and more')
    assert trailing.calls == [calls.ToolCall("current_date", {})]
    assert calls.parse_reply("<tool_call>[]</tool_call>").is_final
    assert calls.parse_reply("Just 42.").is_final
    assert "no tool name" in calls.parse_reply('<tool_call>[{"arguments": {}}]</tool_call>').errors[0].message


def test_an_unscripted_tiny_model_runs_end_to_end_on_the_apps_generation_path(workspace, model):
    request = react.AgentRequest("What is 2 + 2?", model, ("calculator",), max_steps=2, max_new_tokens=8)
    states = list(react.run_agent(workspace.generation, request, ToolContext()))
    final = states[-1]
    assert final.finish_reason in ("answer", "max_steps") and 1 <= final.turns <= 2
    assert final.prompt.endswith("<|im_start|>assistant\n") and '"calculator"' in final.prompt
    assert json.loads(json.dumps(final.to_dict()))["finish_reason"] == final.finish_reason
    rendered = final.prompt
    generation = last(workspace.generation.stream_rendered(model, rendered, turn_settings(4)))
    assert list(generation.prompt.ids) == workspace.store.hf_tokenizer(model)(
        rendered, add_special_tokens=False)["input_ids"]  # the template's special tokens, none added twice


def test_an_endpoint_reply_keeps_its_call_ids_for_the_tool_messages():
    call = SimpleNamespace(id="call_1", function=SimpleNamespace(name="calculator",
                                                                 arguments='{"expression": "6*7"}'))
    reply = endpoint_reply("[]", SimpleNamespace(content=None, tool_calls=[call]))
    assert reply.parsed.calls == [calls.ToolCall("calculator", {"expression": "6*7"}, "call_1")]
    assert reply.message["tool_calls"][0]["id"] == "call_1" and reply.message["content"] is None
    assert react.tool_message(reply.parsed.calls[0], "42") == {"role": "tool", "content": "42",
                                                                "name": "calculator", "tool_call_id": "call_1"}
    text_only = endpoint_reply("[]", SimpleNamespace(content="Forty-two.", tool_calls=None))
    assert text_only.parsed.is_final and text_only.message == {"role": "assistant", "content": "Forty-two."}


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(question="  "), "Type a question"), (dict(model=""), "Choose a model"),
    (dict(max_steps=0), "max_steps must be a whole number from 1 to 8"), (dict(max_steps=9), "max_steps"),
    (dict(tools=("shell",)), "Unknown tool"), (dict(tools="calculator"), "must be a list"),
    (dict(max_new_tokens=0), "max_new_tokens"), (dict(question="x" * 2001), "limit is 2,000"),
])
def test_bad_requests_get_clear_messages(kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        react.AgentRequest(**{"question": "What is 2 + 2?", "model": "m", **kwargs})


def test_the_evaluation_asks_each_question_with_the_tool_and_alone(workspace, model):
    request = AgentEvalRequest(model, limit=1, max_steps=1, max_new_tokens=8)
    run = last(evaluate_agent(workspace.generation, request)).to_dict()
    assert run["done"] and run["total"] == 1 and len(run["items"]) == 1
    item = run["items"][0]
    assert item["expected"].isdigit() and {"with_tools", "alone"} <= set(item)
    for key in ("with_tools", "alone"):
        assert run[key]["scored"] == 1 and run[key]["ci_low"] <= run[key]["accuracy"] <= run[key]["ci_high"]
    with pytest.raises(InvalidInputError, match="limit must be a whole number from 1 to 20"):
        AgentEvalRequest(model, limit=21)


def test_an_endpoint_model_calls_through_the_tools_api_and_answers_from_the_observation():
    """The tests' server calls the calculator like a function-calling model and refuses (400) a tool
    message that does not answer its call by id, so the whole OpenAI round trip is checked."""
    from playground.core.settings import Settings
    from playground.generation.endpoints import Endpoints
    from playground.generation.engine import GenerationEngine
    from playground.models.store import ModelStore
    from tests.openai_replies import replies_server

    with replies_server() as (_, url):
        engine = GenerationEngine(ModelStore(Settings.from_env()), endpoints=Endpoints.parse(f"test={url}", {}))
        request = react.AgentRequest("What is 1234 * 5678?", "test:tool-caller", ("calculator",), 3)
        final = last(react.run_agent(engine, request, ToolContext()))
        alone = last(react.run_agent(engine, react.AgentRequest("What is 2 * 3?", "test:tool-caller", (), 3),
                                     ToolContext()))
    assert final.error is None and final.finish_reason == "answer"
    assert [(step.tool, step.arguments, step.observation) for step in final.steps] == [
        ("calculator", {"expression": "1234 * 5678"}, "7006652")]
    assert final.answer == "The result is 7006652." and final.turns == 2
    assert alone.steps == [] and alone.answer == "I have no tool to call."
