"""Reading a model's tool calls out of its text, leniently, and saying clearly what could not be read.

SmolLM2 was trained (on function-calling data) to answer ``<tool_call>[{"name": ..., "arguments":
{...}}]</tool_call>``; other templates use one object per tag. Small models slip: single quotes,
a missing closing tag, ``arguments`` as a JSON string, ``parameters`` for ``arguments``. Those are read;
what cannot be read becomes a :class:`CallError`, which the loop shows the model as an Observation.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any

OPEN, CLOSE = "<tool_call>", "</tool_call>"
CALL_BLOCK = re.compile(re.escape(OPEN) + r"(.*?)(?:" + re.escape(CLOSE) + r"|$)", re.DOTALL)
FORMAT_HINT = f'{OPEN}[{{"name": "calculator", "arguments": {{"expression": "2 + 3"}}}}]{CLOSE}'


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: Any
    """As the model wrote them (checked against the tool's schema only when it runs)."""
    id: str | None = None
    """The endpoint's call id (OpenAI tools API), which its result message must quote; None for text calls."""


@dataclass(frozen=True)
class CallError:
    """A tool call that was attempted but could not be read: ``message`` is what the model is told."""

    message: str
    text: str = ""


@dataclass(frozen=True)
class ParsedReply:
    thought: str
    """The text outside the tool-call blocks: the model's reasoning, or its final answer when it calls nothing."""
    calls: list[ToolCall] = field(default_factory=list)
    errors: list[CallError] = field(default_factory=list)

    @property
    def is_final(self) -> bool:
        return not self.calls and not self.errors


def parse_reply(text: str) -> ParsedReply:
    """The thought and the tool calls in one model turn."""
    blocks = list(CALL_BLOCK.finditer(text))
    thought = CALL_BLOCK.sub(" ", text).strip() if blocks else text.strip()
    calls: list[ToolCall] = []
    errors: list[CallError] = []
    for block in blocks:
        body = block.group(1).strip()
        try:
            calls += calls_in(load_lenient(body))
        except ValueError as error:
            errors.append(CallError(f"Could not read the tool call: {error}. Write it as {FORMAT_HINT}.", body))
    return ParsedReply(thought, calls, errors)


def load_lenient(body: str) -> Any:
    """JSON, or a Python literal (single quotes, True/None) read without running anything."""
    if not body:
        raise ValueError("the tool-call block is empty")
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        pass
    try:
        return ast.literal_eval(body)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        pass
    trimmed = body[:body.rfind("}") + 1] if "}" in body else body  # text after the last brace
    try:
        return json.loads(trimmed + ("]" if trimmed.lstrip().startswith("[") else ""))
    except json.JSONDecodeError as error:
        raise ValueError(f"it is not JSON ({error.msg} at character {error.pos})") from None


def calls_in(data: Any) -> list[ToolCall]:
    """Calls from a list of objects or one object; an empty list means "no call"."""
    items = data if isinstance(data, list) else [data]
    calls = []
    for item in items:
        if not isinstance(item, dict):
            raise ValueError(f"each call must be an object with a name and arguments, not {item!r}")
        if isinstance(item.get("function"), dict):  # the OpenAI shape, written out as text
            item = item["function"]
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ValueError("the call has no tool name")
        arguments = item.get("arguments", item.get("parameters", {}))
        if isinstance(arguments, str):
            arguments = arguments_from_text(arguments)
        calls.append(ToolCall(name.strip(), arguments))
    return calls


def arguments_from_text(text: str) -> Any:
    """Arguments sent as a JSON string (the OpenAI API's own shape); blank means none."""
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"its arguments are not JSON ({error.msg})") from None
