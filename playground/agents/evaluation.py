"""Does the tool help? The shipped calculator questions (answers only a calculator gets right, such as
4-digit multiplications) asked through the loop with the calculator, and to the same model alone.

"Alone" is the same loop with no tools: the same chat template, greedy decoding and answer reading, so
the two accuracies differ only by the tool. Answers are read and scored by the prompt lab's rules
(:mod:`playground.prompting.answers`), with a 95% interval: on 20 questions that is wide.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from playground.agents.react import AgentRequest, AgentState, run_agent
from playground.agents.tools import ToolContext
from playground.core.errors import InvalidInputError
from playground.core.iterutil import last
from playground.core.paths import ASSETS
from playground.core.records import read_records, require_columns
from playground.core.validation import whole_number
from playground.generation.engine import GenerationEngine
from playground.prompting.answers import extract, is_correct, wilson_interval

QUESTIONS = ASSETS / "agents" / "calculator_questions.jsonl"
EVAL_TOOLS = ("calculator",)


def shipped_questions() -> list[tuple[str, str]]:
    rows = require_columns(read_records(QUESTIONS), {"input": ("input",), "expected": ("expected",)}, QUESTIONS.name)
    return [(row["input"], row["expected"]) for row in rows]


@dataclass(frozen=True)
class AgentEvalRequest:
    model: str
    limit: int = 20
    """The first ``limit`` questions of the shipped set."""
    max_steps: int = 3
    max_new_tokens: int = 160
    """Per model turn."""

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise InvalidInputError("Choose a model.")
        total = len(shipped_questions())
        object.__setattr__(self, "limit", whole_number("limit", self.limit, 1, total, "questions to ask"))
        AgentRequest("?", self.model, EVAL_TOOLS, self.max_steps, self.max_new_tokens)  # the same bounds and messages


@dataclass(frozen=True)
class Scored:
    answer: str
    read: str | None
    correct: bool
    tool_calls: int
    finish_reason: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"answer": self.answer, "read": self.read, "correct": self.correct, "tool_calls": self.tool_calls,
                "finish_reason": self.finish_reason}


@dataclass
class AgentEvalRun:
    total: int
    items: list[dict[str, Any]] = field(default_factory=list)

    def score(self, key: str) -> dict[str, Any]:
        correct = sum(item[key]["correct"] for item in self.items)
        done = len(self.items)
        low, high = wilson_interval(correct, done)
        used = sum(item[key]["tool_calls"] > 0 for item in self.items)
        return {"accuracy": correct / done if done else 0.0, "correct": correct, "scored": done,
                "ci_low": low, "ci_high": high, "used_a_tool": used}

    def to_dict(self) -> dict[str, Any]:
        return {"with_tools": self.score("with_tools"), "alone": self.score("alone"), "total": self.total,
                "done": len(self.items) == self.total, "items": self.items}


def scored(state: AgentState | None, expected: str) -> Scored:
    if state is None:
        return Scored("", None, False, 0, None)
    read = extract(state.answer, "number", "Answer")
    calls = sum(step.tool is not None for step in state.steps)
    return Scored(state.answer, read, is_correct(read, expected, "number"), calls, state.finish_reason)


def evaluate_agent(engine: GenerationEngine, request: AgentEvalRequest) -> Iterator[AgentEvalRun]:
    """Each question with the calculator, then alone; the run so far after each question."""
    questions = shipped_questions()[:request.limit]
    run = AgentEvalRun(len(questions))
    yield run
    for question, expected in questions:
        results = {}
        for key, tools in (("with_tools", EVAL_TOOLS), ("alone", ())):
            agent = AgentRequest(question, request.model, tools, request.max_steps, request.max_new_tokens)
            results[key] = scored(last(run_agent(engine, agent, ToolContext())), expected).to_dict()
        run.items.append({"question": question, "expected": expected, **results})
        yield run
