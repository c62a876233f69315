"""Scoring prompting techniques on a labelled set: accuracy with a confidence interval, cost.

Each answer is one generation that waits its turn on the model like any other request, so an
evaluation never starves the other users of a shared server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from playground.core.errors import InvalidInputError
from playground.core.paths import ASSETS
from playground.core.records import read_records, require_columns
from playground.generation.engine import GenerationEngine
from playground.generation.sampling import SamplingSettings
from playground.prompting.answers import is_correct, vote, wilson_interval
from playground.prompting.techniques import AnswerKind, Example, Task, Technique, render, technique

INPUT_COLUMNS = ("input", "question", "prompt", "text")
EXPECTED_COLUMNS = ("expected", "answer", "output", "label")
UPLOAD_EXAMPLES = 3
"""An uploaded set lends its first rows as few-shot examples; they are not scored."""


@dataclass(frozen=True)
class EvalItem:
    input: str
    expected: str


def shipped_items(task: Task) -> list[EvalItem]:
    rows = require_columns(read_records(ASSETS / "eval" / task.file),
                           {"input": INPUT_COLUMNS, "expected": EXPECTED_COLUMNS}, task.file)
    return [EvalItem(row["input"], row["expected"]) for row in rows]


def uploaded_task(path: str | Path, instruction: str) -> tuple[Task, list[EvalItem]]:
    """A task from a user's file: answer kind guessed from the expected values, as the page says."""
    name = Path(path).name
    rows = require_columns(read_records(path), {"input": INPUT_COLUMNS, "expected": EXPECTED_COLUMNS}, name)
    if len(rows) < UPLOAD_EXAMPLES + 1:
        raise InvalidInputError(f"{name} has {len(rows)} rows: give at least {UPLOAD_EXAMPLES + 1} "
                                f"(the first {UPLOAD_EXAMPLES} serve as few-shot examples).")
    expected = [row["expected"] for row in rows]
    kind, labels = guess_answer_kind(expected)
    examples = tuple(Example(row["input"], row["expected"]) for row in rows[:UPLOAD_EXAMPLES])
    task = Task(name="uploaded", title=name, description=f"Uploaded set {name}",
                instruction=(instruction or "").strip() or "Answer the question.",
                input_label="Input", output_label="Answer", answer=kind, file=name,
                sample=rows[0]["input"], labels=labels, examples=examples)
    return task, [EvalItem(row["input"], row["expected"]) for row in rows[UPLOAD_EXAMPLES:]]


def guess_answer_kind(expected: list[str]) -> tuple[AnswerKind, tuple[str, ...]]:
    """Numbers if every answer is one; labels if a few values repeat; free text otherwise."""
    def is_number(value: str) -> bool:
        try:
            float(value.replace(",", ""))
            return True
        except ValueError:
            return False

    if all(is_number(value) for value in expected):
        return "number", ()
    distinct = list(dict.fromkeys(value.strip().lower() for value in expected))
    if len(distinct) <= 10 and len(expected) >= 2 * len(distinct):
        return "label", tuple(distinct)
    return "text", ()


@dataclass
class ItemResult:
    input: str
    expected: str
    outputs: list[str]
    answer: str | None
    correct: bool


@dataclass
class TechniqueScore:
    """One technique's running score on one task."""

    technique: str
    title: str
    total: int
    items: list[ItemResult] = field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0

    @property
    def correct(self) -> int:
        return sum(item.correct for item in self.items)

    @property
    def accuracy(self) -> float | None:
        return self.correct / len(self.items) if self.items else None

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.correct, len(self.items))

    def to_dict(self, with_items: bool = True) -> dict[str, Any]:
        low, high = self.interval
        data = {"technique": self.technique, "title": self.title, "scored": len(self.items),
                "total": self.total, "correct": self.correct, "accuracy": self.accuracy,
                "ci_low": low, "ci_high": high, "tokens_in": self.tokens_in,
                "tokens_out": self.tokens_out, "seconds": round(self.seconds, 3)}
        if with_items:
            data["items"] = [asdict(item) for item in self.items]
        return data


@dataclass
class EvalRun:
    """The state of an evaluation, yielded after every answer."""

    task: str
    model: str
    scores: list[TechniqueScore]
    chat: bool = False
    done: bool = False

    @property
    def progress(self) -> tuple[int, int]:
        return (sum(len(s.items) for s in self.scores), sum(s.total for s in self.scores))

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "model": self.model, "chat_template": self.chat, "done": self.done,
                "scores": [score.to_dict() for score in self.scores]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


def evaluate(engine: GenerationEngine, model: str, task: Task, items: list[EvalItem],
             technique_names: list[str], base: SamplingSettings | None = None,
             chat: bool = False) -> Iterator[EvalRun]:
    """Score each technique on ``items``, yielding the running scores after every answer.

    ``chat`` off (the default) continues the prompt as plain text, which suits templates that
    end in "Answer:"; the small instruct model follows few-shot patterns far better that way.
    """
    if not items:
        raise InvalidInputError("No items to evaluate.")
    if not technique_names:
        raise InvalidInputError("Choose at least one technique to evaluate.")
    chosen = [technique(name) for name in technique_names]
    base = base or SamplingSettings()
    run = EvalRun(task.name, model, [TechniqueScore(t.name, t.title, len(items)) for t in chosen], chat)
    for method, score in zip(chosen, run.scores, strict=True):
        for item in items:
            score.items.append(answer_item(engine, model, task, method, item, base, score, chat))
            yield run
    run.done = True
    yield run


def answer_item(engine: GenerationEngine, model: str, task: Task, method: Technique, item: EvalItem,
                base: SamplingSettings, score: TechniqueScore, chat: bool) -> ItemResult:
    rendered = render(method, task.variables(item.input), list(task.examples))
    outputs = []
    for sample in range(method.samples):
        settings = replace(base, max_new_tokens=method.max_new_tokens, temperature=method.temperature,
                           top_k=0, top_p=1.0, seed=base.seed + sample, stop=rendered.stop, alternatives=0)
        generation = engine.generate(model, rendered.prompt, settings, system=rendered.system or None,
                                     chat=chat)
        score.tokens_in += generation.tokens_in
        score.tokens_out += generation.tokens_out
        score.seconds += generation.compute_seconds
        outputs.append(generation.text)
    answer = vote(outputs, task, method).answer
    return ItemResult(item.input, item.expected, outputs, answer, is_correct(answer, item.expected, task.answer))
