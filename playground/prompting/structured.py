"""Structured output, shown: one request held to a JSON schema, a regex or a choice list, beside the same
request left free, in one batch. The page and ``/generate_structured`` both call :func:`run_structured`.

The free side is there for the comparison the lesson needs: how often a model's own output parses
(``free_samples`` draws, their parse rate) against the constrained output, which parses by construction
when it finishes (a row cut by ``max_new_tokens`` may stop mid-value: ``valid`` says so).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from playground.core.errors import InvalidInputError
from playground.generation.constraints import Constraint
from playground.generation.engine import EMPTY_PROMPT, Ask, GenerationEngine
from playground.generation.request import Generation
from playground.generation.sampling import SamplingSettings
from playground.prompting.json_schema import schema_errors, unchecked_keywords

MAX_FREE_SAMPLES = 8
EXAMPLE_SCHEMA = json.dumps({
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 40},
                   "age": {"type": "integer", "minimum": 0, "maximum": 150},
                   "languages": {"type": "array", "items": {"type": "string", "maxLength": 20}, "maxItems": 3}},
    "required": ["name", "age", "languages"], "additionalProperties": False}, indent=2)
EXAMPLE_PROMPT = ("Describe Ada Lovelace as JSON with her name, her age when she died and the languages "
                  "she wrote in.")
IGNORED = ("The endpoint's output does not match the schema although `response_format` was sent: this server "
           "may ignore the structured-output field.")


def constraint_of(kind: str, text: str) -> Constraint:
    """The constraint a page or API caller typed. ``kind`` "" guesses: a JSON object is a schema, a JSON
    list of strings a choice list, anything else a regex (text opening with "{" is taken for a schema even when
    it is broken, so its JSON error is what the caller reads); ``choice`` takes one answer per line too."""
    text = (text or "").strip()
    kind = (kind or "").strip().lower().replace(" ", "_")
    if not text:
        raise InvalidInputError("Give a JSON schema, a regex or a list of choices for the output to match.")
    if kind in ("", "auto"):
        kind = "regex"
        if text[0] in "{[":
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                parsed = None
            kind = ("json_schema" if isinstance(parsed, dict) or text[0] == "{"
                    else "choice" if isinstance(parsed, list) else "regex")
    if kind in ("schema", "json"):
        kind = "json_schema"
    if kind == "choice":
        return Constraint("choice", choices=_choices(text))
    if kind not in ("json_schema", "regex"):
        raise InvalidInputError(f"Unknown constraint kind '{kind}': use json_schema, regex or choice.")
    return Constraint(kind, text)  # type: ignore[arg-type]


def _choices(text: str) -> tuple[str, ...]:
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as error:
            raise InvalidInputError(f"The choice list is not valid JSON: {error.msg}.") from error
        if not isinstance(parsed, list) or not all(isinstance(c, str) for c in parsed):
            raise InvalidInputError("A choice list is a JSON list of strings, or one answer per line.")
        return tuple(parsed)
    return tuple(line.strip() for line in text.splitlines() if line.strip())


@dataclass(frozen=True)
class StructuredRequest:
    """One prompt, its constraint, and how many free draws to compare it with (0: none)."""

    model: str
    prompt: str
    constraint: Constraint
    settings: SamplingSettings = SamplingSettings()
    free_samples: int = 1
    system: str | None = None
    chat: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise InvalidInputError("Choose a model.")
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise InvalidInputError(EMPTY_PROMPT)
        if not isinstance(self.free_samples, int) or not 0 <= self.free_samples <= MAX_FREE_SAMPLES:
            raise InvalidInputError(f"free_samples is a whole number from 0 to {MAX_FREE_SAMPLES}.")


@dataclass(frozen=True)
class Check:
    """Whether a text parses (JSON for a schema; for a regex or choices, parsing is matching) and fits."""

    parses: bool
    valid: bool
    errors: tuple[str, ...] = ()


def check(text: str, constraint: Constraint) -> Check:
    """Parse ``text`` and check it against ``constraint``, independently of the grammar engine."""
    if constraint.kind == "choice":
        ok = text in constraint.choices
        return Check(ok, ok, () if ok else (f"{text!r} is not one of the choices",))
    if constraint.kind == "regex":
        try:
            ok = re.fullmatch(constraint.source, text) is not None
        except re.error as error:  # Rust syntax Python does not read: unknown, said so
            return Check(False, False, (f"not checked here: Python cannot read the regex ({error})",))
        return Check(ok, ok, () if ok else ("does not match the regex",))
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        return Check(False, False, (f"not JSON: {error.msg} at character {error.pos}",))
    errors = schema_errors(value, constraint.schema)
    unchecked = unchecked_keywords(constraint.schema)
    notes = (f"not checked: {', '.join(sorted(unchecked))}",) if unchecked else ()
    return Check(True, not errors, tuple(errors) + notes)


@dataclass
class StructuredState:
    """The constrained generation and the free ones, as they grow (the same objects after every step)."""

    request: StructuredRequest
    constrained: Generation
    free: list[Generation]

    @property
    def done(self) -> bool:
        return self.constrained.done and all(g.done for g in self.free)

    def result(self) -> dict[str, Any]:
        """The ``/generate_tokens`` result of the constrained request, plus what the grammar did and the
        free side: ``{valid, parses, allowed_counts, removed, grammar_seconds, constraint, free}``."""
        constraint = self.request.constraint
        verdict = check(self.constrained.text, constraint)
        data = self.constrained.to_dict()
        notices = list(data["notices"])
        if (self.constrained.done and self.constrained.endpoint is not None and not verdict.valid
                and constraint.response_format() is not None and self.constrained.finish_reason != "error"
                and not any("refused the structured-output" in notice for notice in notices)):
            notices.append(IGNORED)
        frees = [(g, check(g.text, constraint)) for g in self.free]
        parsed = sum(c.parses for _, c in frees)
        data.update({
            "notices": notices, "valid": verdict.valid, "parses": verdict.parses, "errors": list(verdict.errors),
            "allowed_counts": [step.allowed for step in self.constrained.grammar_steps],
            "removed": [[{"id": a.id, "text": a.text, "prob": a.prob} for a in step.removed]
                        for step in self.constrained.grammar_steps],
            "grammar_seconds": round(self.constrained.grammar_seconds, 6),
            "grammar_accepting": self.constrained.grammar_accepting,
            "constraint": constraint.to_dict(),
            "free": [{**g.to_dict(with_tokens=False), "parses": c.parses, "valid": c.valid,
                      "errors": list(c.errors)} for g, c in frees],
            "free_parse_rate": parsed / len(frees) if frees else None,
            "free_valid_rate": sum(c.valid for _, c in frees) / len(frees) if frees else None,
        })
        return data


def free_settings(settings: SamplingSettings, index: int) -> SamplingSettings:
    """The ``index``-th free draw: its own seed, so sampled draws differ (greedy ones cannot)."""
    return replace(settings, seed=(settings.seed + index) % 2**63)


def run_structured(engine: GenerationEngine, request: StructuredRequest) -> Iterator[StructuredState]:
    """Decode the constrained request and its free twins in one batch, yielding after every step."""
    constraint = request.constraint
    asks = [Ask(request.model, request.prompt, request.settings, request.system, request.chat, constraint)]
    asks += [Ask(request.model, request.prompt, free_settings(request.settings, i), request.system, request.chat)
             for i in range(request.free_samples)]
    for generations in engine.stream_many(asks):
        if generations[0].finish_reason == "error" and not generations[0].tokens and not generations[0].text:
            raise InvalidInputError(generations[0].error or "Structured generation failed.")
        yield StructuredState(request, generations[0], generations[1:])
