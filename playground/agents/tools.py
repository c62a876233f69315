"""The shipped tools: each one a JSON schema (the OpenAI / transformers function format, what a chat
template's ``tools=`` and an endpoint's ``tools`` take) and a Python function over checked arguments.

Every tool is safe by construction: none runs code, touches files or reaches the network. Arguments
are checked against the schema here, and a refusal is an :class:`InvalidInputError` whose message becomes
the Observation the model reads next, so it can correct its call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from playground.agents.calculator import calculate, formatted
from playground.agents.units import UNITS, convert
from playground.core.errors import InvalidInputError

SEARCH_TOP_K = 2
SEARCH_PASSAGE_CHARS = 400
"""Each passage the search tool returns is cut here: a 135M model loses the thread in long observations."""
NO_DOCUMENTS = ("No documents are indexed in this session: index some on the RAG tab first "
                "(or answer without searching).")


@dataclass(frozen=True)
class ToolContext:
    """What a tool may read about the request it serves: the session's RAG index and today's date.

    ``search`` is the session's retrieval (query -> passages), None where no documents are indexed."""

    search: Callable[[str, int], list[tuple[str, str]]] | None = None
    """(query, top_k) -> [(source, text)]."""
    today: Callable[[], dt.date] = dt.date.today


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: Mapping[str, Mapping[str, Any]]
    """Each argument's JSON schema (type and description); every argument is required."""
    run: Callable[[Mapping[str, Any], ToolContext], str]

    @property
    def schema(self) -> dict[str, Any]:
        """The function schema as transformers' chat templates and the OpenAI API take it."""
        return {"type": "function", "function": {
            "name": self.name, "description": self.description,
            "parameters": {"type": "object", "properties": {k: dict(v) for k, v in self.parameters.items()},
                           "required": list(self.parameters)}}}

    def __call__(self, arguments: Any, context: ToolContext) -> str:
        return self.run(checked_arguments(self, arguments), context)


def checked_arguments(tool: Tool, arguments: Any) -> dict[str, Any]:
    """The arguments as the schema asks (numbers written as text are read as numbers), or a refusal
    that names what is missing or wrong."""
    if not isinstance(arguments, Mapping):
        raise InvalidInputError(f"The arguments of {tool.name} must be an object such as "
                                f"{example_arguments(tool)}, not {arguments!r}.")
    unknown = sorted(set(arguments) - set(tool.parameters))
    missing = [name for name in tool.parameters if name not in arguments]
    if unknown or missing:
        parts = ([f"unknown argument(s) {', '.join(unknown)}"] if unknown else []) + (
            [f"missing {', '.join(missing)}"] if missing else [])
        raise InvalidInputError(f"{tool.name}: {'; '.join(parts)}. It takes {example_arguments(tool)}.")
    checked = {}
    for name, spec in tool.parameters.items():
        value = arguments[name]
        if spec.get("type") == "number":
            try:
                value = float(str(value).replace(",", "")) if not isinstance(value, bool) else None
            except ValueError:
                value = None
            if value is None:
                raise InvalidInputError(f"{tool.name}: {name} must be a number, got {arguments[name]!r}.")
        elif not isinstance(value, str):
            value = str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
            if value is None:
                raise InvalidInputError(f"{tool.name}: {name} must be text, got {arguments[name]!r}.")
        checked[name] = value
    return checked


def example_arguments(tool: Tool) -> str:
    return "{" + ", ".join(f'"{name}": <{spec.get("type", "string")}>' for name, spec in tool.parameters.items()) + "}"


def _calculator(arguments: Mapping[str, Any], context: ToolContext) -> str:
    return formatted(calculate(arguments["expression"]))


def _search(arguments: Mapping[str, Any], context: ToolContext) -> str:
    query = arguments["query"].strip()
    if not query:
        raise InvalidInputError("search_documents needs a query: a few words about what to look for.")
    if context.search is None:
        return NO_DOCUMENTS
    passages = context.search(query, SEARCH_TOP_K)
    if not passages:
        return "Nothing in the indexed documents matches that query."
    return "\n".join(f"[{number}] ({source}) {' '.join(text.split())[:SEARCH_PASSAGE_CHARS]}"
                     for number, (source, text) in enumerate(passages, start=1))


def _date(arguments: Mapping[str, Any], context: ToolContext) -> str:
    today = context.today()
    return f"{today.isoformat()} ({today.strftime('%A')})"


def _convert(arguments: Mapping[str, Any], context: ToolContext) -> str:
    value = convert(arguments["value"], arguments["from_unit"], arguments["to_unit"])
    given = f"{formatted(arguments['value'])} {arguments['from_unit']}"
    return f"{given} = {formatted(round(value, 10))} {arguments['to_unit']}"


TOOLS: tuple[Tool, ...] = (
    Tool("calculator", "Evaluate an arithmetic expression exactly (numbers, + - * / // % ** and parentheses).",
         {"expression": {"type": "string", "description": "The expression, for example 1234 * 5678."}},
         _calculator),
    Tool("search_documents", "Search the documents indexed in this session and return the best passages.",
         {"query": {"type": "string", "description": "What to look for."}}, _search),
    Tool("current_date", "Today's date (year-month-day) and weekday.", {}, _date),
    Tool("convert_units", "Convert a value between units of length, mass, time, volume or temperature.",
         {"value": {"type": "number", "description": "The amount to convert."},
          "from_unit": {"type": "string", "description": f"The unit it is in: one of {', '.join(UNITS)}."},
          "to_unit": {"type": "string", "description": "The unit wanted."}}, _convert),
)
BY_NAME: Mapping[str, Tool] = {tool.name: tool for tool in TOOLS}
TOOL_NAMES = tuple(BY_NAME)


def chosen_tools(names: Sequence[str] | None) -> tuple[Tool, ...]:
    """The tools a request names, in the shipped order; an unknown name is refused with the list."""
    if names is None or isinstance(names, str):
        raise InvalidInputError(f"tools must be a list of tool names, chosen from {', '.join(TOOL_NAMES)}.")
    unknown = [name for name in names if name not in BY_NAME]
    if unknown:
        raise InvalidInputError(f"Unknown tool(s) {', '.join(map(repr, unknown))}: choose from "
                                f"{', '.join(TOOL_NAMES)}.")
    return tuple(tool for tool in TOOLS if tool.name in names)
