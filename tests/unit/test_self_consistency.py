"""Self-consistency's vote is counted once, in the library; the page and the evaluation both use it."""

from __future__ import annotations

import html
from dataclasses import replace

import pytest

from playground.generation.sampling import SamplingSettings
from playground.prompting import techniques as prompts
from playground.prompting.answers import Vote, read_answer, vote
from playground.prompting.evaluation import evaluate, shipped_items
from tabs.prompt_lab.page import self_consistency, vote_summary

MODEL = "smollm2-135m-instruct"


def test_the_vote_keeps_each_paths_answer_and_the_first_most_frequent():
    task, technique = prompts.task("arithmetic"), prompts.technique("self-consistency")
    outputs = ["3 + 4 is 7.\nAnswer: 7", "Answer: 8", "I am not sure.", "So the answer is 7", "Answer: 8"]
    result = vote(outputs, task, technique)
    assert result.answers == ("7", "8", None, "7", "8")
    assert result.answer == "7"  # a tie: the answer seen first wins
    assert result.counts == {"7": 2, "8": 2, None: 1}
    assert Vote((None, None)).answer is None and Vote(()).counts == {}


def test_a_json_technique_reads_its_answer_from_the_json():
    task, technique = prompts.task("sentiment"), prompts.technique("json")
    assert read_answer('{"sentiment": "negative"} positive', task, technique) == "negative"
    assert vote(['{"sentiment": "positive"}', "not json"], task, technique).answers == ("positive", None)


def test_the_evaluation_scores_the_librarys_vote(workspace):
    task = prompts.task("sentiment")
    *_, final = evaluate(workspace.generation, MODEL, task, shipped_items(task)[:2], ["zero-shot"])
    technique = prompts.technique("zero-shot")
    for item in final.scores[0].items:
        assert item.answer == vote(item.outputs, task, technique).answer


@pytest.mark.slow
def test_the_page_shows_the_librarys_vote_of_the_same_paths(workspace):
    """The page streams the paths; generating them again with the same seeds gives the same vote."""
    engine, task, technique = workspace.generation, prompts.task("arithmetic"), prompts.technique("self-consistency")
    rendered = prompts.prompt_for(technique.name, task.name, "What is 12 plus 30?")
    settings = SamplingSettings(max_new_tokens=8, seed=3, alternatives=0)
    *_, (page, snippet) = self_consistency(engine, MODEL, False, rendered, settings, technique, task, "code")
    paths = [replace(settings, temperature=technique.temperature, seed=settings.seed + index)
             for index in range(technique.samples)]
    outputs = [engine.generate(MODEL, rendered.prompt, path, system=rendered.system or None, chat=False).text
               for path in paths]
    expected = vote(outputs, task, technique)
    assert page.startswith(vote_summary(expected, technique.temperature)) and snippet == "code"
    assert f"Majority answer: <b>{html.escape(str(expected.answer))}</b>" in page
    for index, answer in enumerate(expected.answers):
        assert f"Path {index + 1}: answer <b>{html.escape(str(answer))}</b>" in page
