"""Scoring prompting techniques on a labelled set: accuracy with a confidence interval, cost.

Each answer is one generation that waits its turn on the model like any other request, so an
evaluation never starves the other users of a shared server.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from playground.core.errors import InvalidInputError
from playground.core.paths import ASSETS
from playground.core.records import read_records, require_columns
from playground.core.validation import whole_number
from playground.generation.engine import Ask, Generation, GenerationEngine
from playground.generation.request import raise_if_failed
from playground.generation.sampling import SamplingSettings
from playground.prompting.answers import is_correct, vote, wilson_interval
from playground.prompting.self_consistency import path_settings
from playground.prompting.techniques import AnswerKind, Example, Task, Technique, render, technique
from playground.prompting.techniques import task as named_task

INPUT_COLUMNS = ("input", "question", "prompt", "text")
EXPECTED_COLUMNS = ("expected", "answer", "output", "label")
UPLOAD_EXAMPLES = 3
"""An uploaded set lends its first rows as few-shot examples; they are not scored."""
UPLOAD = "upload"
"""The set name that means "the user's uploaded file" rather than a shipped set."""
MAX_ITEMS = 100_000


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
    """Score each technique on ``items``, yielding the running scores as answers come in.

    Every sample of every item of every technique is one batch submission: the model decodes them
    together (the few-shot prefix they share is read once), and the scores fill in as items finish,
    listed in item order. ``chat`` off (the default) continues the prompt as plain text, which suits
    templates that end in "Answer:"; the small instruct model follows few-shot patterns far better.
    """
    if not items:
        raise InvalidInputError("No items to evaluate.")
    if not technique_names:
        raise InvalidInputError("Choose at least one technique to evaluate.")
    chosen = [technique(name) for name in technique_names]
    base = base or SamplingSettings()
    run = EvalRun(task.name, model, [TechniqueScore(t.name, t.title, len(items)) for t in chosen], chat)
    slots = [(t_index, i_index, sample) for t_index, method in enumerate(chosen)
             for i_index in range(len(items)) for sample in range(method.samples)]
    asks = [ask_for(model, task, chosen[t], items[i], base, sample, chat) for t, i, sample in slots]
    scored: list[dict[int, ItemResult]] = [{} for _ in chosen]
    for generations in engine.stream_many(asks):
        if record_finished(run, chosen, task, items, slots, generations, scored):
            yield run
    run.done = True
    yield run


def ask_for(model: str, task: Task, method: Technique, item: EvalItem, base: SamplingSettings,
            sample: int, chat: bool) -> Ask:
    """One sampled path of one item: the technique's own length, temperature and stop strings, and the
    task's repetition penalty (off for labelled answers, which a penalty corrupts)."""
    rendered = render(method, task.variables(item.input), list(task.examples))
    fixed = replace(base, max_new_tokens=method.max_new_tokens, temperature=0.0, top_k=0, top_p=1.0,
                    stop=rendered.stop, alternatives=0, repetition_penalty=task.repetition_penalty)
    settings = path_settings(fixed, method, sample)
    return Ask(model, rendered.prompt, settings, system=rendered.system or None, chat=chat)


def record_finished(run: EvalRun, chosen: list[Technique], task: Task, items: list[EvalItem],
                    slots: list[tuple[int, int, int]], generations: list[Generation],
                    scored: list[dict[int, ItemResult]]) -> bool:
    """Score every item whose samples have all finished and was not scored yet; True if any was."""
    paths: dict[tuple[int, int], list[Generation]] = {}
    for (t_index, i_index, _), generation in zip(slots, generations, strict=True):
        paths.setdefault((t_index, i_index), []).append(generation)
    changed = False
    for (t_index, i_index), samples in paths.items():
        if i_index in scored[t_index] or not all(g.done for g in samples):
            continue
        raise_if_failed(samples)
        score, item = run.scores[t_index], items[i_index]
        for generation in samples:
            score.tokens_in += generation.tokens_in
            score.tokens_out += generation.tokens_out
            score.seconds += generation.compute_seconds
        outputs = [generation.text for generation in samples]
        answer = vote(outputs, task, chosen[t_index]).answer
        scored[t_index][i_index] = ItemResult(item.input, item.expected, outputs, answer,
                                              is_correct(answer, item.expected, task.answer))
        score.items = [scored[t_index][index] for index in sorted(scored[t_index])]
        changed = True
    return changed


@dataclass(frozen=True)
class EvalRequest:
    """One evaluation: a shipped set by name (or ``UPLOAD`` with the file and its instruction), the first
    ``limit`` items, the techniques to score, and how the answers are sampled."""

    model: str
    task: str
    techniques: Sequence[str]
    limit: int
    settings: SamplingSettings | None = None
    chat: bool = False
    upload: str | None = None
    instruction: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise InvalidInputError("Choose a model.")
        if isinstance(self.techniques, str) or not all(isinstance(name, str) for name in self.techniques or ()):
            raise InvalidInputError("Techniques must be a list of technique names.")
        object.__setattr__(self, "techniques", tuple(self.techniques or ()))
        object.__setattr__(self, "limit", whole_number("limit", self.limit, 1, MAX_ITEMS,
                                                       "how many items from the start of the set to score"))
        if self.uploaded and not self.upload:
            raise InvalidInputError("Upload a .jsonl or .csv file with input and expected columns first.")

    @property
    def uploaded(self) -> bool:
        return self.task == UPLOAD


@dataclass(frozen=True)
class EvalUpdate:
    """One step of an evaluation as the page reports it: the running scores, the set they are on, how many
    items were taken from it and the wall time so far."""

    run: EvalRun
    task: Task
    items: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {**self.run.to_dict(), "task_title": self.task.title, "items": self.items,
                "seconds": round(self.seconds, 3)}


def labelled_items(request: EvalRequest) -> tuple[Task, list[EvalItem]]:
    """The request's set (shipped, or the uploaded file) and the items to score from its start."""
    if request.uploaded:
        labelled, items = uploaded_task(str(request.upload), request.instruction)
    else:
        labelled = named_task(request.task)
        items = shipped_items(labelled)
    return labelled, items[: request.limit]


def run_evaluation(engine: GenerationEngine, request: EvalRequest) -> Iterator[EvalUpdate]:
    """Load the request's set and score its techniques, yielding the running scores with the time taken."""
    labelled, items = labelled_items(request)
    started = time.perf_counter()
    for run in evaluate(engine, request.model, labelled, items, list(request.techniques), request.settings,
                        request.chat):
        yield EvalUpdate(run, labelled, len(items), time.perf_counter() - started)
