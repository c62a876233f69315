"""Side-by-side generation and prompt evaluation on the real embedded model."""

from __future__ import annotations

import pytest

from playground.core.errors import InvalidInputError
from playground.generation.sampling import SamplingSettings
from playground.generation.side_by_side import Variant, compare
from playground.prompting import techniques as prompts
from playground.prompting.evaluation import ask_for, evaluate, guess_answer_kind, shipped_items, uploaded_task

MODEL = "smollm2-135m-instruct"


def test_variants_run_together_and_match_single_runs(workspace):
    engine = workspace.generation
    settings = SamplingSettings(max_new_tokens=12)
    variants = [Variant("Name a colour, any colour.", MODEL), Variant("Name a fruit.", MODEL, system="Be brief.")]
    alone = [engine.generate(MODEL, variants[0].prompt, settings)]  # now kept: its last token alone is left
    states = [[(run.generation.tokens_out if run.generation else 0) for run in state.runs]
              for state in compare(engine, variants, settings)]
    alone.append(engine.generate(MODEL, variants[1].prompt, settings, system=variants[1].system))
    final = state = None
    for state in compare(engine, variants, settings):
        final = state
    assert final is not None and final.done
    assert [run.generation.text for run in final.runs] == [generation.text for generation in alone]
    # the columns fill together (one batch), the kept prompt's too: when the first token shows, both have it
    first = next(state for state in states if any(state))
    assert first[0] == first[1] >= 1
    rows = [run.to_dict() for run in final.runs]
    assert {"prompt", "output", "tokens_in", "tokens_out", "seconds"} <= set(rows[0])
    assert engine.busy(MODEL) == (0, 0)


def test_a_failing_variant_does_not_stop_the_others(workspace):
    variants = [Variant("", MODEL), Variant("Say hi.", MODEL)]
    *_, final = compare(workspace.generation, variants, SamplingSettings(max_new_tokens=4))
    assert "empty" in final.runs[0].error
    assert final.runs[1].error is None and final.runs[1].generation.tokens_out > 0


def test_compare_refuses_too_many_variants(workspace):
    with pytest.raises(InvalidInputError, match="1 to 4"):
        next(compare(workspace.generation, [Variant("a", MODEL)] * 5))


def test_evaluate_scores_each_technique_with_an_interval(workspace):
    task = prompts.task("sentiment")
    items = shipped_items(task)[:4]
    progress = [run.progress[0] for run in evaluate(workspace.generation, MODEL, task, items,
                                                    ["zero-shot", "few-shot"])]
    assert 2 <= len(progress) <= 9 and progress == sorted(progress)  # scores fill in as items finish
    final = list(evaluate(workspace.generation, MODEL, task, items, ["zero-shot", "few-shot"]))[-1]
    assert final.done and final.progress == (8, 8)
    for score in final.scores:
        assert len(score.items) == 4 and score.tokens_out > 0 and score.seconds > 0
        low, high = score.interval
        assert low <= score.accuracy <= high
        assert all(item.answer in (None, "positive", "negative") for item in score.items)
    data = final.to_dict()
    assert data["scores"][1]["technique"] == "few-shot" and len(data["scores"][1]["items"]) == 4
    # decoded as one batch, each answer is the one the item gets alone
    method = prompts.technique("few-shot")
    for item, result in zip(items, final.scores[1].items, strict=True):
        ask = ask_for(MODEL, task, method, item, SamplingSettings(), 0, False)
        alone = workspace.generation.generate(MODEL, ask.prompt, ask.settings, system=ask.system, chat=False)
        assert (result.input, result.outputs) == (item.input, [alone.text])


def test_shipped_sets_have_at_least_30_items_per_task():
    for task in prompts.tasks().values():
        items = shipped_items(task)
        assert len(items) >= 30, task.name
        if task.labels:
            assert {item.expected for item in items} == set(task.labels)


def test_uploaded_set_lends_examples_and_guesses_the_answer_kind(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("question,answer\n" + "".join(f"{i} plus 1?,{i + 1}\n" for i in range(6)), encoding="utf-8")
    task, items = uploaded_task(path, "")
    assert task.answer == "number" and len(task.examples) == 3 and len(items) == 3
    assert guess_answer_kind(["yes", "no", "yes", "no"]) == ("label", ("yes", "no"))
    assert guess_answer_kind(["Paris", "Rome", "Oslo"]) == ("text", ())
    (tmp_path / "short.jsonl").write_text('{"input": "a", "expected": "b"}\n', encoding="utf-8")
    with pytest.raises(InvalidInputError, match="at least 4"):
        uploaded_task(tmp_path / "short.jsonl", "")
