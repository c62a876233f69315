"""The ReAct loop (Yao et al., 2022): the model thinks, calls a tool (Action), reads its result
(Observation), and goes on until it answers or the step limit stops it.

Each model turn is one step of the limit. A turn without a tool call is the final answer. A call that
cannot be read, names an unknown tool or has bad arguments is not a crash: its error becomes the
Observation, so the model can correct itself on the next turn. The state is yielded after every model
turn and every tool result, so a page draws each Thought / Action / Observation as it happens.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from playground.agents.calls import ToolCall
from playground.agents.tools import BY_NAME, TOOL_NAMES, Tool, ToolContext, chosen_tools
from playground.agents.turns import EndpointTurn, LocalTurn, ModelTurn, turn_settings
from playground.core.errors import InvalidInputError, PlaygroundError
from playground.core.validation import whole_number
from playground.generation.engine import GenerationEngine
from playground.text.analysis import sanitize_text

MAX_STEPS = 8
MAX_QUESTION_CHARS = 2000
OBSERVATION_CHARS = 1200
"""An observation longer than this is cut (with a note): it would crowd out the conversation."""

AgentFinish = Literal["answer", "max_steps", "error"]


@dataclass
class AgentStep:
    thought: str
    tool: str | None
    arguments: Any
    observation: str | None = None
    """None while the tool runs."""

    def to_dict(self) -> dict[str, Any]:
        return {"thought": self.thought, "tool": self.tool, "arguments": self.arguments,
                "observation": self.observation}


@dataclass
class AgentState:
    """The run so far; the last state yielded is the result."""

    steps: list[AgentStep] = field(default_factory=list)
    answer: str = ""
    finish_reason: AgentFinish | None = None
    error: str | None = None
    prompt: str = ""
    """What the model read at its latest turn (the chat template's rendering, tools included)."""
    turns: int = 0

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"steps": [step.to_dict() for step in self.steps], "answer": self.answer,
                                "finish_reason": self.finish_reason}
        if self.error is not None:
            data["error"] = self.error
        return data


@dataclass(frozen=True)
class AgentRequest:
    question: str
    model: str
    tools: tuple[str, ...] = TOOL_NAMES
    max_steps: int = 4
    max_new_tokens: int = 160

    def __post_init__(self) -> None:
        question, _ = sanitize_text(self.question if isinstance(self.question, str) else None)
        if not question.strip():
            raise InvalidInputError("Type a question for the agent.")
        if len(question) > MAX_QUESTION_CHARS:
            raise InvalidInputError(f"The question has {len(question):,} characters; the limit is "
                                    f"{MAX_QUESTION_CHARS:,}.")
        if not isinstance(self.model, str) or not self.model.strip():
            raise InvalidInputError("Choose a model.")
        object.__setattr__(self, "question", question.strip())
        object.__setattr__(self, "tools", tuple(tool.name for tool in chosen_tools(self.tools)))
        object.__setattr__(self, "max_steps", whole_number("max_steps", self.max_steps, 1, MAX_STEPS,
                                                           "model turns before the loop stops"))
        turn_settings(self.max_new_tokens)  # the same bounds and messages as any generation


def react(turn: ModelTurn, question: str, tools: Sequence[Tool], max_steps: int,
          context: ToolContext) -> Iterator[AgentState]:
    """Run the loop, yielding the state (one object, updated in place) when a model turn starts, after it,
    and after each tool result."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
    state = AgentState()
    enabled = {tool.name: tool for tool in tools}
    while state.turns < max_steps:
        state.turns += 1
        yield state  # the page says the model is writing
        try:
            reply = turn(messages, tools)
        except PlaygroundError as error:
            state.finish_reason, state.error = "error", str(error)
            yield state
            return
        state.prompt = reply.prompt
        messages.append(reply.message)
        parsed = reply.parsed
        if parsed.is_final:
            state.answer, state.finish_reason = parsed.thought, "answer"
            yield state
            return
        thought = parsed.thought
        for error in parsed.errors:
            state.steps.append(AgentStep(thought, None, error.text, f"Error: {error.message}"))
            messages.append(tool_message(None, state.steps[-1].observation or ""))
            thought = ""
        for call in parsed.calls:
            step = AgentStep(thought, call.name, call.arguments)
            state.steps.append(step)
            thought = ""
            yield state  # the Action shows before its Observation arrives
            step.observation = observe(call, enabled, context)
            messages.append(tool_message(call, step.observation))
        yield state
    state.finish_reason = "max_steps"
    yield state


def observe(call: ToolCall, enabled: dict[str, Tool], context: ToolContext) -> str:
    """The tool's result, or the error the model should read (never an exception out of the loop)."""
    tool = enabled.get(call.name)
    if tool is None:
        offered = ", ".join(enabled) or "none"
        where = " (it is switched off for this run)" if call.name in BY_NAME else ""
        return f"Error: unknown tool {call.name!r}{where}. The tools you can call: {offered}."
    try:
        result = tool(call.arguments, context)
    except PlaygroundError as error:
        return f"Error: {error}"
    if len(result) > OBSERVATION_CHARS:
        result = result[:OBSERVATION_CHARS] + f" … (cut at {OBSERVATION_CHARS} characters)"
    return result


def tool_message(call: ToolCall | None, observation: str) -> dict[str, Any]:
    """A tool's result as the conversation carries it (the endpoint's call id where there is one)."""
    message: dict[str, Any] = {"role": "tool", "content": observation}
    if call is not None:
        message["name"] = call.name
        if call.id is not None:
            message["tool_call_id"] = call.id
    return message


def model_turn(engine: GenerationEngine, request: AgentRequest) -> ModelTurn:
    """The endpoint's tools API for an endpoint model, the chat template and the model's batch otherwise."""
    settings = turn_settings(request.max_new_tokens)
    if engine.locate(request.model) is not None:
        return EndpointTurn(engine, request.model, settings)
    return LocalTurn(engine, request.model.strip(), settings)


def run_agent(engine: GenerationEngine, request: AgentRequest, context: ToolContext,
              turn: ModelTurn | None = None) -> Iterator[AgentState]:
    """The page's and ``/run_agent``'s action: the request's question through the loop on its model."""
    turn = turn or model_turn(engine, request)
    yield from react(turn, request.question, chosen_tools(request.tools), request.max_steps, context)


def arguments_text(arguments: Any) -> str:
    """Arguments as a page shows them: JSON where they are JSON, else as written."""
    return arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
