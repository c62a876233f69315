"""The Prompt lab's Evaluate view: its translation called with values keyed by component, on the real model."""

from __future__ import annotations

import gradio as gr
import pytest

from playground.core.errors import InvalidInputError
from playground.generation.sampling import SamplingSettings
from playground.prompting.evaluation import UPLOAD, EvalRequest, labelled_items
from tabs.prompt_lab.evaluate import EvalChoices, EvalResults, EvaluateView, eval_request, evaluate_outputs
from tabs.shared.sampling_controls import SamplingControls

MODEL = "smollm2-135m-instruct"


def evaluate_view() -> EvaluateView:
    sampling = SamplingControls(gr.Slider(), gr.Slider(), gr.Slider(), gr.Slider(), gr.Slider(), gr.Number(),
                                gr.Textbox(), gr.Checkbox())
    choices = EvalChoices(gr.Dropdown(), gr.Slider(), gr.Row(), gr.File(), gr.Textbox(), gr.CheckboxGroup())
    results = EvalResults(gr.Markdown(), gr.Dataframe(), gr.Plot(), gr.Dataframe(), gr.State(), gr.Button(),
                          gr.File())
    return EvaluateView(gr.Dropdown(), gr.Checkbox(), gr.State(), sampling, choices, gr.Button(), gr.Button(),
                        results)


def page_values(view: EvaluateView, **choices: object) -> dict[object, object]:
    sampling = view.sampling
    values = {view.endpoints: None, view.model: MODEL, view.chat: False,
              view.choices.task: "sentiment", view.choices.limit: 2.0, view.choices.upload: None,
              view.choices.instruction: "Answer the question.", view.choices.techniques: ["zero-shot", "few-shot"],
              sampling.max_new_tokens: 96, sampling.temperature: 0, sampling.top_k: 0, sampling.top_p: 1,
              sampling.repetition_penalty: 1.0, sampling.seed: 0, sampling.stop: "", sampling.penalize_prompt: False}
    values.update({getattr(view.choices, name): value for name, value in choices.items()})
    return dict(reversed(values.items()))  # the order of the values does not matter


def test_the_request_reads_the_widgets_by_component():
    view = evaluate_view()
    request = eval_request(view, page_values(view))
    assert (request.model, request.task, request.techniques, request.limit) == (
        MODEL, "sentiment", ("zero-shot", "few-shot"), 2)
    assert request.settings == SamplingSettings(max_new_tokens=96, repetition_penalty=1.0)
    assert not request.uploaded and not request.chat


def test_the_page_streams_scores_and_keeps_only_the_finished_run_for_export(workspace):
    view = evaluate_view()
    results = view.results
    updates = list(evaluate_outputs(workspace.generation, view, page_values(view)))
    assert all(set(update) == set(results.outputs) for update in updates)
    final = updates[-1]
    assert final[results.status].startswith("✅ Scored 4 of 4 answers (Sentiment") and "2 items) in " in final[
        results.status]
    assert all(update[results.last] is None for update in updates[:-1])
    assert [row[0] for row in final[results.table]] == ["Zero-shot", "Few-shot"]
    assert final[results.last]["scores"][1]["scored"] == 2 and len(final[results.items]) == 4
    assert final[results.plot].data[0].x == ("Zero-shot", "Few-shot")


def test_an_uploaded_set_is_read_from_the_file_and_refused_without_one(tmp_path):
    view = evaluate_view()
    with pytest.raises(InvalidInputError, match="Upload a .jsonl or .csv file"):
        eval_request(view, page_values(view, task=UPLOAD))
    path = tmp_path / "mine.csv"
    path.write_text("question,answer\n" + "".join(f"{i} plus 1?,{i + 1}\n" for i in range(8)), encoding="utf-8")
    request = eval_request(view, page_values(view, task=UPLOAD, upload=str(path), limit=3))
    task, items = labelled_items(request)
    assert request.uploaded and task.answer == "number" and task.instruction == "Answer the question."
    assert [item.input for item in items] == ["3 plus 1?", "4 plus 1?", "5 plus 1?"]  # after the 3 examples


@pytest.mark.parametrize(("changes", "message"), [
    ({"limit": 2.5}, "limit must be a whole number"),
    ({"limit": 0}, "limit must be a whole number from 1"),
    ({"techniques": "zero-shot"}, "list of technique names"),
])
def test_bad_choices_fail_in_the_request(changes, message):
    with pytest.raises(InvalidInputError, match=message):
        EvalRequest(MODEL, "sentiment", **{"techniques": ["zero-shot"], "limit": 2, **changes})
