"""Self-consistency's vote is counted once, in the library; the page and the evaluation both use it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from playground.core.errors import PlaygroundError
from playground.generation.sampling import SamplingSettings
from playground.prompting import techniques as prompts
from playground.prompting.answers import Vote, read_answer, vote
from playground.prompting.evaluation import evaluate, shipped_items
from playground.prompting.lab import PromptRequest, api_request, final_text, run_prompt
from playground.prompting.self_consistency import PathsState, self_consistency

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
def test_the_streamed_paths_vote_as_the_same_paths_generated_one_by_one(workspace):
    """The page and /generate stream the paths; generating them again with the same seeds gives the same vote."""
    engine, task, technique = workspace.generation, prompts.task("arithmetic"), prompts.technique("self-consistency")
    rendered = prompts.prompt_for(technique.name, task.name, "What is 12 plus 30?")
    settings = SamplingSettings(max_new_tokens=8, seed=3, alternatives=0)
    *streamed, final = self_consistency(engine, MODEL, rendered, settings, technique, task, False)
    assert all(state.vote is None for state in streamed) and final.vote is not None
    paths = [replace(settings, temperature=technique.temperature, seed=settings.seed + index)
             for index in range(technique.samples)]
    outputs = [engine.generate(MODEL, rendered.prompt, path, system=rendered.system or None, chat=False).text
               for path in paths]
    expected = vote(outputs, task, technique)
    assert final.vote == expected and final.temperature == technique.temperature
    assert [s.seed for s in final.settings] == [3 + index for index in range(technique.samples)]
    assert final.to_dict()["answers"] == list(expected.answers)
    request = PromptRequest(MODEL, rendered, settings, technique, task, chat=False)
    assert final_text(list(run_prompt(engine, request))[-1]) == ("" if expected.answer is None
                                                                 else str(expected.answer))


def test_an_api_request_fills_the_techniques_template_with_the_prompt_as_its_input():
    settings = SamplingSettings(max_new_tokens=8)
    plain = api_request("  Hello there", MODEL, settings)
    assert plain.rendered.prompt == "  Hello there" and plain.technique.samples == 1 and plain.settings.stop == ()
    cot = api_request("What is 2 plus 2?", MODEL, settings, "chain-of-thought")
    assert "What is 2 plus 2?" in cot.rendered.prompt and cot.rendered.prompt != "What is 2 plus 2?"
    assert cot.settings.stop == cot.rendered.stop  # the technique's own stop strings
    assert api_request("x", MODEL, settings, "chain-of-thought", ["END"]).settings.stop == ("END",)
    with pytest.raises(PlaygroundError, match="Unknown technique"):
        api_request("x", MODEL, settings, "no-such-technique")
    with pytest.raises(PlaygroundError, match="prompt is empty"):
        api_request("   ", MODEL, settings)
    assert isinstance(PathsState([], []).to_dict(), dict)
