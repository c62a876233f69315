"""Prompting techniques as data: templates with ``{{variables}}``, few-shot examples, tasks.

The techniques live in ``assets/prompts/techniques.toml`` and the tasks in
``assets/eval/tasks.toml``, so a teacher adds one by editing a file, not the code.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from playground.core.errors import InvalidInputError
from playground.core.paths import ASSETS

TECHNIQUES_FILE = ASSETS / "prompts" / "techniques.toml"
TASKS_FILE = ASSETS / "eval" / "tasks.toml"

VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
MAX_EXAMPLES = 32
AnswerKind = Literal["label", "number", "text"]


@dataclass(frozen=True)
class Example:
    """One solved example for few-shot prompts; ``reasoning`` feeds worked chain-of-thought."""

    input: str
    output: str
    reasoning: str = ""


@dataclass(frozen=True)
class Technique:
    """A prompting technique: how the instruction, examples and input become a prompt."""

    name: str
    title: str
    description: str
    template: str
    system: str = ""
    example_format: str = ""
    samples: int = 1
    temperature: float = 0.0
    max_new_tokens: int = 64
    stop: tuple[str, ...] = ()
    chat: bool = True
    output: Literal["text", "json"] = "text"

    @property
    def uses_examples(self) -> bool:
        return "examples" in variables_in(self.template)


@dataclass(frozen=True)
class Task:
    """A labelled task: its instruction, labels, examples, and the file of items to score."""

    name: str
    title: str
    description: str
    instruction: str
    input_label: str
    output_label: str
    answer: AnswerKind
    file: str
    sample: str
    labels: tuple[str, ...] = ()
    examples: tuple[Example, ...] = field(default_factory=tuple)
    repetition_penalty: float = 1.0
    """Off for a labelled task: its answer repeats what the text already holds (a sum's digits, the label
    the reasoning just named), and a penalty on generated tokens turned a sure '4' (89%) into '5'. Its
    techniques' stop strings and token budgets already bound a loop; open-ended text keeps the penalty."""

    def variables(self, input_text: str) -> dict[str, str]:
        return {"instruction": self.instruction, "input": input_text,
                "input_label": self.input_label, "output_label": self.output_label,
                "output_key": self.output_label.lower()}


@dataclass(frozen=True)
class RenderedPrompt:
    """What is sent: the user prompt, (optionally) a system message, and the stop strings."""

    prompt: str
    system: str = ""
    stop: tuple[str, ...] = ()


def variables_in(template: str) -> list[str]:
    """The ``{{names}}`` a template uses, in order of first use."""
    return list(dict.fromkeys(VARIABLE.findall(template)))


def fill(template: str, values: Mapping[str, str]) -> str:
    """Replace every ``{{name}}``; a name without a value is an error that lists what exists.

    Single braces are left alone, so JSON in a template needs no escaping.
    """
    missing = [name for name in variables_in(template) if name not in values]
    if missing:
        raise InvalidInputError(
            f"The template uses {', '.join('{{' + m + '}}' for m in missing)} but no value was given. "
            f"Available: {', '.join('{{' + v + '}}' for v in sorted(values))}.")
    return VARIABLE.sub(lambda match: str(values[match.group(1)]), template)


def render_examples(technique: Technique, examples: list[Example], values: Mapping[str, str]) -> str:
    if len(examples) > MAX_EXAMPLES:
        raise InvalidInputError(f"At most {MAX_EXAMPLES} examples; got {len(examples)}.")
    if technique.uses_examples and not examples:
        raise InvalidInputError(f"{technique.title} needs at least one example: add one to the list.")
    form = technique.example_format or "{{input}}\n{{output}}"
    return "\n\n".join(fill(form, {**values, "input": e.input, "output": e.output,
                                   "reasoning": e.reasoning or e.output})
                       for e in examples)


def render(technique: Technique, values: Mapping[str, str], examples: list[Example] | None = None,
           template: str | None = None, system: str | None = None) -> RenderedPrompt:
    """The prompt for ``technique`` with ``values``; ``template``/``system`` override its text."""
    body = technique.template if template is None else template
    values = dict(values)
    if "examples" in variables_in(body):
        values["examples"] = render_examples(technique, list(examples or []), values)
    system_text = technique.system if system is None else system
    return RenderedPrompt(prompt=fill(body, values).strip(),
                          system=fill(system_text, values).strip() if system_text else "",
                          stop=tuple(fill(stop, values) for stop in technique.stop))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise InvalidInputError(f"Could not read {path.name}: {error}") from error


@cache
def techniques(path: Path = TECHNIQUES_FILE) -> Mapping[str, Technique]:
    """Every technique in the file, by name, in file order (read once: the file is data)."""
    table = _read_toml(path)
    return MappingProxyType({name: Technique(name=name, **{**fields, "stop": tuple(fields.get("stop", ()))})
                             for name, fields in table.items()})


@cache
def tasks(path: Path = TASKS_FILE) -> Mapping[str, Task]:
    table = _read_toml(path)
    loaded = {}
    for name, fields in table.items():
        fields = dict(fields)
        examples = tuple(Example(**example) for example in fields.pop("examples", []))
        loaded[name] = Task(name=name, labels=tuple(fields.pop("labels", ())), examples=examples, **fields)
    return MappingProxyType(loaded)


def technique(name: str) -> Technique:
    known = techniques()
    if name not in known:
        raise InvalidInputError(f"Unknown technique '{name}'. Known: {', '.join(known)}.")
    return known[name]


def task(name: str) -> Task:
    known = tasks()
    if name not in known:
        raise InvalidInputError(f"Unknown task '{name}'. Known: {', '.join(known)}.")
    return known[name]


def prompt_for(technique_name: str, task_name: str, input_text: str) -> RenderedPrompt:
    """The technique's prompt for one input of a shipped task, with the task's own examples."""
    chosen, labelled = technique(technique_name), task(task_name)
    return render(chosen, labelled.variables(input_text), list(labelled.examples))
