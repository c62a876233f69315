"""Templates are data: every technique renders for every task, variables are checked."""

from __future__ import annotations

import json

import pytest

from playground.core.errors import InvalidInputError
from playground.prompting import techniques as prompts
from playground.prompting.techniques import Example, fill, render, technique, techniques, variables_in


@pytest.mark.parametrize("task_name", list(prompts.tasks()))
@pytest.mark.parametrize("technique_name", list(techniques()))
def test_every_technique_renders_for_every_task(technique_name, task_name):
    task = prompts.task(task_name)
    rendered = prompts.prompt_for(technique_name, task_name, task.sample)
    assert task.sample in rendered.prompt
    assert "{{" not in rendered.prompt + rendered.system
    assert all("{{" not in stop for stop in rendered.stop)


def test_the_library_has_the_issue_techniques():
    names = set(techniques())
    assert {"zero-shot", "few-shot", "chain-of-thought", "chain-of-thought-exemplars",
            "self-consistency", "role", "json"} <= names
    assert technique("self-consistency").samples > 1 and technique("self-consistency").temperature > 0
    assert technique("role").system


def test_few_shot_shows_each_example_and_worked_reasoning():
    examples = [Example("2 + 2?", "4", "Two and two make 4."), Example("3 + 1?", "4", "")]
    values = {"instruction": "Add.", "input": "5 + 5?", "input_label": "Q", "output_label": "A",
              "output_key": "a"}
    few = render(technique("few-shot"), values, examples).prompt
    assert "Q: 2 + 2?\nA: 4" in few and few.endswith("Q: 5 + 5?\nA:")
    worked = render(technique("chain-of-thought-exemplars"), values, examples).prompt
    assert "Reasoning: Two and two make 4." in worked


def test_missing_variable_names_it_and_lists_the_known_ones():
    with pytest.raises(InvalidInputError) as error:
        fill("Translate {{text}} into {{language}}.", {"text": "hi"})
    assert "{{language}}" in str(error.value) and "{{text}}" in str(error.value)


def test_single_braces_are_left_for_json():
    rendered = prompts.prompt_for("json", "sentiment", "Great!")
    assert '{"sentiment": "..."}' in rendered.prompt
    assert json.loads('{"sentiment": "..."}')


def test_few_shot_without_examples_is_a_clear_error():
    values = prompts.task("sentiment").variables("ok")
    with pytest.raises(InvalidInputError, match="at least one example"):
        render(technique("few-shot"), values, [])


def test_an_edited_template_overrides_the_technique():
    values = prompts.task("sentiment").variables("Lovely.")
    rendered = render(technique("zero-shot"), values, template="Review: {{input}} ->")
    assert rendered.prompt == "Review: Lovely. ->"
    assert variables_in("{{a}} {{ b }} {{a}}") == ["a", "b"]
