"""Reading a final answer out of free text, and scoring it with a confidence interval.

Small models ramble: the answer is looked for after the last "Answer:"-style marker (or "the
answer is"), and in JSON when the technique asked for JSON. The rules are simple and stated
in the page, so a learner can see why an output counted as right or wrong.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from playground.prompting.techniques import AnswerKind, Task, Technique

NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
TEXT_ANSWER_WORDS = 6
"""A free-text answer is the first words of its first line: 'Tokyo (Japan)' counts, an essay does not."""
JSON_OBJECT = re.compile(r"\{[^{}]*\}", re.DOTALL)


def answer_segment(output: str, output_label: str) -> tuple[str, bool]:
    """The text after the last answer marker, and whether a marker was found."""
    marker = re.compile(rf"(?:\b{re.escape(output_label)}\s*[:：=]|\banswer is\s*:?)", re.IGNORECASE)
    matches = list(marker.finditer(output))
    if matches:
        return output[matches[-1].end():], True
    return output, False


def normalize(text: str) -> str:
    """Lower case, accents and punctuation dropped, spaces collapsed: 'São Paulo!' -> 'sao paulo'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w\s]", " ", letters).split())


def _number(text: str) -> str:
    value = float(text.replace(",", ""))
    return str(int(value)) if value.is_integer() else str(value)


def extract(output: str, kind: AnswerKind, output_label: str, labels: tuple[str, ...] = (),
            json_key: str | None = None) -> str | None:
    """The answer an output gives, or None when it gives none that can be read."""
    if json_key is not None:
        value = json_value(output, json_key)
        return None if value is None else extract(value, kind, output_label, labels)
    segment, marked = answer_segment(output, output_label)
    if kind == "label":
        hits = [(match.start(), label) for label in labels
                if (match := re.search(rf"\b{re.escape(label)}\b", segment, re.IGNORECASE))]
        return min(hits)[1] if hits else None
    if kind == "number":
        numbers = NUMBER.findall(segment if marked else output)
        if not numbers:
            return None
        return _number(numbers[0] if marked else numbers[-1])
    line = next((line for line in segment.splitlines() if line.strip()), "")
    return " ".join(normalize(line).split()[:TEXT_ANSWER_WORDS]) or None


def json_value(output: str, key: str) -> str | None:
    """``output``'s first JSON object's value for ``key`` (case-insensitive), as text."""
    for match in JSON_OBJECT.finditer(output):
        try:
            data = json.loads(match.group(0))
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict):
            for name, value in data.items():
                if str(name).casefold() == key.casefold():
                    return value if isinstance(value, str) else json.dumps(value)
    return None


def is_correct(answer: str | None, expected: str, kind: AnswerKind) -> bool:
    if answer is None:
        return False
    if kind == "number":
        try:
            return float(answer) == float(expected.replace(",", ""))
        except ValueError:
            return False
    if kind == "label":
        return answer.casefold() == expected.strip().casefold()
    wanted = normalize(expected)
    return bool(wanted) and re.search(rf"\b{re.escape(wanted)}\b", answer) is not None


def majority(answers: list[str | None]) -> str | None:
    """The most frequent readable answer; ties go to the one seen first."""
    counts = Counter(answer for answer in answers if answer is not None)
    if not counts:
        return None
    best = max(counts.values())
    return next(answer for answer in answers if answer is not None and counts[answer] == best)


def read_answer(output: str, task: Task, technique: Technique) -> str | None:
    """The answer one output gives by ``task``'s rules, read from JSON when ``technique`` asked for JSON."""
    json_key = task.output_label.lower() if technique.output == "json" else None
    return extract(output, task.answer, task.output_label, task.labels, json_key)


@dataclass(frozen=True)
class Vote:
    """Self-consistency's verdict on sampled paths: each path's answer, and the majority of them.

    The page (one prompt, paths streamed) and the evaluation (every item scored) both count
    votes here, so a learner sees the very answer the scores count.
    """

    answers: tuple[str | None, ...]

    @property
    def answer(self) -> str | None:
        return majority(list(self.answers))

    @property
    def counts(self) -> dict[str | None, int]:
        """Votes per answer in the order answers first appeared; None counts the unreadable paths."""
        return dict(Counter(self.answers))


def vote(outputs: Iterable[str], task: Task, technique: Technique) -> Vote:
    """The vote of sampled outputs (one per path) on ``task``'s answer."""
    return Vote(tuple(read_answer(output, task, technique) for output in outputs))


def wilson_interval(correct: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for an accuracy: honest at small n and near 0 or 1."""
    if total == 0:
        return 0.0, 1.0
    p = correct / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)
