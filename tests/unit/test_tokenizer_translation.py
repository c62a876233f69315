"""The Tokenizer tab's translation, called with values keyed by component on the real embedded tokenizers."""

from __future__ import annotations

import gradio as gr
import pytest

from playground.core.errors import InvalidInputError
from playground.text.comparison import CompareRequest, TokenizerFailure, compare_tokenizers
from tabs.tokenizer import (
    ChatView,
    CompareView,
    TrainingView,
    chat_outputs,
    compare_outputs,
    compare_request,
    training_outputs,
)

SMOL = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def registry(workspace):
    return workspace.tokenizers


def compare_view() -> CompareView:
    return CompareView(gr.Textbox(), gr.Dropdown(), gr.CheckboxGroup(), gr.Textbox(), gr.Checkbox(), gr.Markdown(),
                       gr.HTML(), gr.Dataframe(), gr.Plot())


def test_the_comparison_reads_its_widgets_by_component_and_keeps_a_failure_in_its_place(registry):
    view = compare_view()
    values = {view.show_whitespace: True, view.extra: "nobody/no-such-tokenizer, minilm-l6",
              view.chosen: [SMOL, "minilm-l6"], view.text: "Hello 👋 world", view.sample: None}
    request = compare_request(view, values)
    assert request.tokenizers == (SMOL, "minilm-l6", "nobody/no-such-tokenizer")  # ticked first, no repeats
    outputs = compare_outputs(registry, view, values)
    assert set(outputs) == {view.spans, view.table, view.plot, view.status}
    assert [row[0] for row in outputs[view.table]] == [SMOL, "minilm-l6"]
    assert outputs[view.table][0][3] == registry.tokenize("Hello 👋 world", SMOL).num_tokens
    assert outputs[view.status].startswith("⚠️ Could not load: nobody/no-such-tokenizer")
    spans = outputs[view.spans]
    assert spans.index(f'data-tokenizer="{SMOL}"') < spans.index('data-tokenizer="minilm-l6"') < spans.index(
        'data-tokenizer="nobody/no-such-tokenizer"')
    assert list(outputs[view.plot].data[0].y) == [row[3] for row in outputs[view.table]]


def test_nothing_chosen_is_an_empty_comparison_not_an_error(registry):
    view = compare_view()
    outputs = compare_outputs(registry, view, {view.text: "hi", view.chosen: [], view.extra: "",
                                               view.show_whitespace: False})
    assert outputs[view.table] == [] and outputs[view.status] == ""


def test_the_library_comparison_sanitizes_once_and_refuses_bad_requests(registry):
    comparison = compare_tokenizers(registry, CompareRequest("a\ud800b", ["cl100k_base", " nobody/none "]))
    result, failure = comparison.columns
    assert result.text == "a\ufffdb" and any("surrogate" in note for note in result.notes)
    assert isinstance(failure, TokenizerFailure) and failure.tokenizer == "nobody/none"
    assert comparison.to_dict()["failures"] == [failure.to_dict()]
    assert comparison.to_dict()["results"][0]["tokenizer"] == "cl100k_base"
    with pytest.raises(InvalidInputError, match="list of names"):
        CompareRequest("hi", "gpt2")
    with pytest.raises(InvalidInputError, match="must be a string"):
        CompareRequest(12, [SMOL])  # type: ignore[arg-type]


def test_the_chat_panel_renders_the_rows_with_the_models_template(registry):
    view = ChatView(gr.Dropdown(), gr.Checkbox(), gr.Dataframe(), gr.Button(), gr.HTML())
    rows = [["user", "What is a token?"], [""]]  # the editor's spare line is skipped
    outputs = chat_outputs(registry, view, {view.messages: rows, view.tokenizer: SMOL,
                                            view.add_generation_prompt: True})
    expected = registry.render_chat([{"role": "user", "content": "What is a token?"}], SMOL, True)
    assert f"{expected.num_tokens:,} tokens" in outputs[view.view] and "&lt;|im_start|&gt;" in outputs[view.view]


def test_the_training_panel_shows_the_merges_and_the_sentence_at_each_stage():
    view = TrainingView(gr.Accordion(), gr.Textbox(), gr.Textbox(), gr.Button(), gr.Markdown(), gr.Dataframe(),
                        gr.HTML())
    outputs = training_outputs(view, {view.sentence: "the cat sat",
                                      view.corpus: "the cat sat on the mat. the cat ate the rat. " * 30})
    assert outputs[view.summary].startswith("**Learned ")
    assert outputs[view.merges][0][0] == 1 and outputs[view.merges][0][4] >= outputs[view.merges][-1][4]
    assert outputs[view.stages].count('class="tok-col"') == 3
