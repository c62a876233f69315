"""GRPO's rewards: a registry of safe, declarative scorers, combined with weights; no user code runs.

A run's ``rewards`` setting is a list of objects, each naming a ``kind`` and its fields::

    [{"kind": "regex", "pattern": "Answer: -?\\d+", "weight": 1},
     {"kind": "exact_match", "weight": 1},
     {"kind": "length", "min_chars": 1, "max_chars": 200, "weight": 0.5},
     {"kind": "reward_model", "run": "20261206-101500-rm", "weight": 1}]

- ``exact_match``: 1 when the answer read from the completion (after its last "Answer:", as the Prompt lab
  reads it; a number compares as a number) equals the row's answer, else 0.
- ``regex``: 1 when the pattern is found in the completion (``full``: when it matches the whole, stripped).
- ``length``: 1 inside [min_chars, max_chars], falling linearly to 0 at twice the distance outside.
- ``reward_model``: a finished ``reward`` run's score of (prompt, completion), the scalar head's output.

TRL calls each scorer with the batch's prompts, completions and the dataset's other columns, and sums the
scores with the weights. Every field is checked when the config is read: a mistake names its position
and field (``rewards[1].pattern``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from playground.core.errors import InvalidInputError

KINDS = ("exact_match", "regex", "length", "reward_model")
FIELDS = {"exact_match": (), "regex": ("pattern", "full"), "length": ("min_chars", "max_chars"),
          "reward_model": ("run",)}
MAX_PATTERN = 300
MAX_CHARS = 100_000
ANSWER_LABEL = "Answer"


@dataclass(frozen=True)
class RewardSpec:
    """One scorer and its weight in the sum."""

    kind: str
    weight: float = 1.0
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The scorer's name in the curves and the groups table (``regex``, ``length``...), numbered when repeated."""
        return self.kind

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "weight": self.weight, **self.settings}


def parse_rewards(value: Any) -> tuple[RewardSpec, ...]:
    """The ``rewards`` setting (a list of objects, or its JSON text) checked field by field."""
    if isinstance(value, str):
        import json

        try:
            value = json.loads(value) if value.strip() else []
        except ValueError as error:
            raise InvalidInputError(f"rewards is not valid JSON: {error}.") from error
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise InvalidInputError(f"rewards must be a list of objects such as {{\"kind\": \"regex\", \"pattern\": "
                                f"\"Answer: \\\\d+\"}}, got {value!r}.")
    if len(value) > 8:
        raise InvalidInputError("rewards: at most 8 scorers.")
    return tuple(_spec(index, item) for index, item in enumerate(value))


def _spec(index: int, item: Any) -> RewardSpec:
    where = f"rewards[{index}]"
    if isinstance(item, RewardSpec):
        item = item.to_dict()
    if not isinstance(item, dict):
        raise InvalidInputError(f"{where} must be an object with a 'kind', got {item!r}.")
    kind = item.get("kind")
    if kind not in KINDS:
        raise InvalidInputError(f"{where}.kind must be one of {', '.join(KINDS)}, got {kind!r}.")
    unknown = sorted(str(key) for key in item if key not in ("kind", "weight", *FIELDS[kind]))
    if unknown:
        raise InvalidInputError(f"{where}: unknown field(s) {', '.join(unknown)} for kind {kind!r} (its fields: "
                                f"{', '.join(('weight', *FIELDS[kind]))}).")
    weight = item.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not -100 <= weight <= 100:
        raise InvalidInputError(f"{where}.weight must be a number from -100 to 100, got {weight!r}.")
    settings = {name: item[name] for name in FIELDS[kind] if name in item}
    CHECKS[kind](where, settings)
    return RewardSpec(kind, float(weight), settings)


def _check_regex(where: str, settings: dict[str, Any]) -> None:
    pattern = settings.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        raise InvalidInputError(f"{where}.pattern: give the regular expression the answer must match.")
    if len(pattern) > MAX_PATTERN:
        raise InvalidInputError(f"{where}.pattern is {len(pattern)} characters; at most {MAX_PATTERN}.")
    try:
        re.compile(pattern)
    except re.error as error:
        raise InvalidInputError(f"{where}.pattern is not a valid regular expression: {error}.") from error
    if not isinstance(settings.get("full", False), bool):
        raise InvalidInputError(f"{where}.full must be true or false.")


def _check_length(where: str, settings: dict[str, Any]) -> None:
    low, high = settings.get("min_chars", 0), settings.get("max_chars")
    for name, number in (("min_chars", low), ("max_chars", high)):
        if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= MAX_CHARS:
            raise InvalidInputError(f"{where}.{name} must be a whole number from 0 to {MAX_CHARS}, got {number!r}.")
    if low > high:
        raise InvalidInputError(f"{where}: min_chars ({low}) is above max_chars ({high}).")
    settings["min_chars"] = low


def _check_run(where: str, settings: dict[str, Any]) -> None:
    run = settings.get("run")
    if not isinstance(run, str) or not run.strip():
        raise InvalidInputError(f"{where}.run: name a finished reward-model run (its id or folder).")


CHECKS: dict[str, Callable[[str, dict[str, Any]], None]] = {
    "exact_match": lambda where, settings: None, "regex": _check_regex, "length": _check_length,
    "reward_model": _check_run}


def text_of(completion: Any) -> str:
    """A completion's text: TRL passes plain text, or a conversational completion's assistant turn(s)."""
    if isinstance(completion, str):
        return completion
    return "".join(str(turn.get("content", "")) for turn in completion if isinstance(turn, dict))


def exact_match(completion: str, answer: str) -> float:
    from playground.prompting.answers import extract, is_correct

    kind = "number" if re.fullmatch(r"\s*-?\d[\d,]*(?:\.\d+)?\s*", answer or "") else "text"
    return float(is_correct(extract(completion, kind, ANSWER_LABEL), answer, kind))


def regex_reward(completion: str, pattern: str, full: bool = False) -> float:
    compiled = re.compile(pattern)
    return float(bool(compiled.fullmatch(completion.strip()) if full else compiled.search(completion)))


def length_reward(completion: str, min_chars: int, max_chars: int) -> float:
    """1 inside the bounds; outside, 1 minus the distance over the width the bounds allow (at least 1)."""
    size = len(completion)
    if min_chars <= size <= max_chars:
        return 1.0
    distance = min_chars - size if size < min_chars else size - max_chars
    return max(0.0, 1.0 - distance / max(max_chars - min_chars, min_chars, 1))


Scorer = Callable[..., list[float]]


def scorers(specs: Sequence[RewardSpec], reward_model: Callable[[str], Callable[[list[Any], list[str]], list[float]]]
            | None = None) -> tuple[list[Scorer], list[float]]:
    """TRL reward functions (``f(prompts, completions, **columns) -> scores``) and their weights.

    ``reward_model(run)`` loads a reward run's scorer; only needed when a spec names one.
    """
    functions: list[Scorer] = []
    for index, spec in enumerate(specs):
        function = _scorer(spec, reward_model)
        function.__name__ = spec.name if sum(s.kind == spec.kind for s in specs) == 1 else f"{spec.name}_{index}"
        functions.append(function)
    return functions, [spec.weight for spec in specs]


def _scorer(spec: RewardSpec, reward_model: Any) -> Scorer:
    settings = spec.settings
    if spec.kind == "exact_match":
        def score(prompts: list[Any], completions: list[Any], answer: list[str] | None = None,
                  **_: Any) -> list[float]:
            if answer is None:
                raise InvalidInputError("exact_match needs an answer column in the data (response_column).")
            return [exact_match(text_of(c), str(a)) for c, a in zip(completions, answer, strict=True)]
    elif spec.kind == "regex":
        def score(prompts: list[Any], completions: list[Any], **_: Any) -> list[float]:
            return [regex_reward(text_of(c), settings["pattern"], settings.get("full", False)) for c in completions]
    elif spec.kind == "length":
        def score(prompts: list[Any], completions: list[Any], **_: Any) -> list[float]:
            return [length_reward(text_of(c), settings["min_chars"], settings["max_chars"]) for c in completions]
    else:
        if reward_model is None:
            raise InvalidInputError("A reward_model reward needs the reward run's model loaded.")
        model_scores = reward_model(settings["run"])

        def score(prompts: list[Any], completions: list[Any], **_: Any) -> list[float]:
            return model_scores(prompts, [text_of(c) for c in completions])
    return score


ARITHMETIC_REWARDS = ({"kind": "regex", "pattern": r"Answer: -?\d+", "weight": 1.0},
                      {"kind": "exact_match", "weight": 1.0})
"""The shipped GRPO preset's rewards: the answer line's format, and its correctness."""
