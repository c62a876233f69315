"""One model turn of the agent: the conversation and the tools in, what the model wrote (and called) out.

A local model reads the conversation through its own chat template with ``tools=``; where the template
ignores the tools (SmolLM2-135M-Instruct's does), they are described in a system prompt in the format
SmolLM2 was trained on for function calling. An endpoint model gets the OpenAI ``tools`` API and answers
with ``tool_calls``. The generating part is injectable (``generate``), so a test can script what the model
says while the rendering, parsing and tool running stay real.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from playground.agents.calls import CLOSE, ParsedReply, ToolCall, parse_reply
from playground.agents.tools import Tool
from playground.core.errors import PlaygroundError
from playground.core.iterutil import last
from playground.generation.engine import GenerationEngine
from playground.generation.queueing import wait_in_line
from playground.generation.remote_errors import explain
from playground.generation.sampling import SamplingSettings

TURN_TOKENS = 160
TOOLS_SYSTEM_PROMPT = "\n".join((
    "You are an expert in composing functions. You are given a question and a set of possible functions.",
    "Based on the question, you will need to make one or more function/tool calls to achieve the purpose.",
    "If none of the functions can be used, point it out and refuse to answer.",
    "If the given question lacks the parameters required by the function, also point it out.",
    "",
    "You have access to the following tools:",
    "<tools>{tools}</tools>",
    "",
    "The output MUST strictly adhere to the following format, and NO other text MUST be included.",
    "The example format is as follows. Please make sure the parameter type is correct. If no function call is "
    "needed, please make the tool calls an empty list '[]'.",
    "<tool_call>[",
    '{{"name": "func_name1", "arguments": {{"argument1": "value1", "argument2": "value2"}}}},',
    "... (more tool calls as required)",
    "]</tool_call>",
    "",
    "Once the tool results are given, answer the question in plain text, without a tool call.",
))
"""SmolLM2's function-calling system prompt (from its model card), with the last line added: the card's
format is one call per question, and a ReAct loop needs the model to answer once it has the result."""


@dataclass(frozen=True)
class Reply:
    prompt: str
    """What the model read this turn: the rendered text, or the messages sent to the endpoint."""
    parsed: ParsedReply
    message: dict[str, Any]
    """The assistant message to append to the conversation, in the shape this model's side expects."""


class ModelTurn(Protocol):
    def __call__(self, messages: list[dict[str, Any]], tools: Sequence[Tool]) -> Reply: ...


def render_conversation(tokenizer: Any, messages: list[dict[str, Any]], tools: Sequence[Tool]) -> str:
    """The conversation as the model reads it: its template with ``tools=``, or, where the template
    ignores tools, the tools in a system prompt of SmolLM2's function-calling format."""
    schemas = [tool.schema for tool in tools]
    plain = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    if not schemas:
        return plain
    with_tools = tokenizer.apply_chat_template(messages, tools=schemas, tokenize=False, add_generation_prompt=True)
    if with_tools != plain:
        return with_tools
    listed = json.dumps([schema["function"] for schema in schemas])
    system = TOOLS_SYSTEM_PROMPT.format(tools=listed)
    if messages and messages[0]["role"] == "system":
        system = f"{messages[0]['content']}\n\n{system}"
        messages = messages[1:]
    return tokenizer.apply_chat_template([{"role": "system", "content": system}, *messages], tokenize=False,
                                         add_generation_prompt=True)


def turn_settings(max_new_tokens: int = TURN_TOKENS) -> SamplingSettings:
    """Greedy, stopping after a call (so the model cannot invent its result), no repetition penalty (it
    would punish the quotes and braces a JSON call repeats)."""
    return SamplingSettings(max_new_tokens=max_new_tokens, repetition_penalty=1.0, stop=(CLOSE,))


@dataclass(frozen=True)
class LocalTurn:
    engine: GenerationEngine
    model: str
    settings: SamplingSettings
    generate: Callable[[str], str] | None = None
    """Rendered prompt -> the model's text; the app's generation path (the model's batch) by default."""

    def __call__(self, messages: list[dict[str, Any]], tools: Sequence[Tool]) -> Reply:
        tokenizer = self.engine.load(self.model)[1]
        prompt = render_conversation(tokenizer, messages, tools)
        text = (self.generate or self._generate)(prompt)
        parsed = parse_reply(text)
        if parsed.calls or parsed.errors:  # the stop string was cut off: the model's own turn ends with it
            text = text if text.rstrip().endswith(CLOSE) else text + CLOSE
        return Reply(prompt, parsed, {"role": "assistant", "content": text})

    def _generate(self, prompt: str) -> str:
        generation = last(self.engine.stream_rendered(self.model, prompt, self.settings))
        assert generation is not None  # a stream yields at least once
        return generation.text


@dataclass(frozen=True)
class EndpointTurn:
    """The OpenAI tools API on an endpoint model, behind the endpoint's first-come-first-served line."""

    engine: GenerationEngine
    model: str
    settings: SamplingSettings

    def __call__(self, messages: list[dict[str, Any]], tools: Sequence[Tool]) -> Reply:
        located = self.engine.locate(self.model)
        assert located is not None  # chosen for endpoint models only
        endpoint, model_id = located
        args: dict[str, Any] = {"model": model_id, "messages": messages, "max_tokens": self.settings.max_new_tokens,
                                "temperature": self.settings.temperature}
        if tools:
            args["tools"] = [tool.schema for tool in tools]
        gate = self.engine.endpoint_line(endpoint)
        ticket = gate.join()
        try:
            for _ in wait_in_line(gate, ticket):
                pass
            response = endpoint.client().chat.completions.create(**args)
        except Exception as error:  # noqa: BLE001 - the server's failure, said in words
            raise PlaygroundError(explain(error, endpoint, model_id)) from error
        finally:
            gate.leave(ticket)
        return endpoint_reply(json.dumps(messages, ensure_ascii=False, indent=1), response.choices[0].message)


def endpoint_reply(prompt: str, message: Any) -> Reply:
    """A chat completion's message as a reply: its ``tool_calls`` (arguments arrive as a JSON string), or
    tool calls it wrote as text where the server did not parse them."""
    content = getattr(message, "content", None) or ""
    native = list(getattr(message, "tool_calls", None) or [])
    if not native:
        return Reply(prompt, parse_reply(content), {"role": "assistant", "content": content})
    calls = [ToolCall(call.function.name, _arguments(call.function.arguments), call.id) for call in native]
    echoed = [{"id": call.id, "type": "function",
               "function": {"name": call.function.name, "arguments": call.function.arguments or "{}"}}
              for call in native]
    return Reply(prompt, ParsedReply(content.strip(), calls), {"role": "assistant", "content": content or None,
                                                               "tool_calls": echoed})


def _arguments(text: str | None) -> Any:
    """Parsed arguments, or the raw text (the tool then refuses it with a message the model reads)."""
    try:
        return json.loads(text or "{}")
    except json.JSONDecodeError:
        return text
