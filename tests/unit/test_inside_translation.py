"""Inside the model's translation, called with dicts keyed by component (no Gradio app), on the embedded
SmolLM2-135M and MiniLM; and the library's requests it builds (playground.internals.actions)."""

from __future__ import annotations

import gradio as gr
import numpy as np
import pytest

from playground.core.errors import InvalidInputError
from playground.internals.actions import (
    EMPTY_TEXT,
    AblationRequest,
    HeadRequest,
    NextTokenRequest,
    Overview,
    TextRequest,
    TokenRequest,
)
from tabs.inside import plots, translation
from tabs.inside.layout import (
    DEFAULT_TEXT,
    WHOLE_LAYER,
    ArchitecturePanel,
    AttributionPanel,
    HeadPanel,
    InsideView,
    NextTokenPanel,
)

CAUSAL, ENCODER = "smollm2-135m-instruct", "minilm-l6"


@pytest.fixture(scope="module")
def view() -> InsideView:
    return InsideView(
        gr.Textbox(), gr.Dropdown(), gr.Markdown(), ArchitecturePanel(gr.Plot(), gr.Markdown()),
        NextTokenPanel(gr.Slider(), gr.Slider(), gr.Slider(), gr.Button(), gr.Button(), gr.Markdown(), gr.Plot()),
        HeadPanel(gr.Slider(), gr.Slider(), gr.Dropdown(), gr.Markdown(), gr.Plot(), gr.Plot()), gr.Plot(),
        AttributionPanel(gr.Textbox(), gr.Plot(), gr.Slider(), gr.Dropdown(), gr.Button(), gr.Plot(), gr.Button(),
                         gr.Plot()))


@pytest.fixture(scope="module")
def inside(workspace):
    return workspace.inside


def page_values(view: InsideView, text: str = DEFAULT_TEXT, model: str = CAUSAL, **changes) -> dict:
    """What the widgets hold, keyed by component; sliders send floats, as the browser does."""
    values = {view.text: text, view.model: model, view.next_token.temperature: 1.0, view.next_token.top_k: 0.0,
              view.next_token.top_p: 1.0, view.head.layer: 0.0, view.head.head: 0.0, view.head.query: None,
              view.attribution.token: "", view.attribution.ablate_layer: 0.0, view.attribution.ablate_what: "head 0"}
    named = {"layer": view.head.layer, "head": view.head.head, "query": view.head.query,
             "token": view.attribution.token, "ablate_layer": view.attribution.ablate_layer,
             "ablate_what": view.attribution.ablate_what}
    return {**values, **{named[name]: value for name, value in changes.items()}}


def title(figure) -> str:
    return figure.layout.title.text


def test_a_refresh_draws_every_panel_from_one_trace(inside, view):
    values = page_values(view, layer=40.0, head=3.0)  # a slider left from a bigger model
    outputs = translation.refresh_outputs(inside, view, dict(reversed(values.items())))
    assert set(outputs) == set(view.refresh_outputs)
    assert "30 layers x 9 heads (3 key/value heads)" in outputs[view.notice]
    assert outputs[view.head.layer].maximum == 29 and outputs[view.head.layer].value == 29
    assert outputs[view.head.head].maximum == 8
    query = outputs[view.head.query]
    assert query.value == len(query.choices) - 1 and query.choices[-1][0].endswith("is")
    assert outputs[view.attribution.ablate_what].choices[0][0] == WHOLE_LAYER
    assert len(outputs[view.attribution.ablate_what].choices) == 10
    assert "Next token after" in title(outputs[view.next_token.plot])
    assert title(outputs[view.head.plot]).startswith("Layer 29 · head 3")
    assert f"Query {query.value}" in outputs[view.head.text]
    assert "Logit lens" in title(outputs[view.lens])
    assert "Berlin" in title(outputs[view.attribution.plot])


def test_a_blank_text_or_an_encoder_only_changes_the_notice(inside, view):
    assert translation.refresh_outputs(inside, view, page_values(view, text="  ")) == {view.notice: EMPTY_TEXT}
    outputs = translation.refresh_outputs(inside, view, page_values(view, model=ENCODER))
    assert list(outputs) == [view.notice] and "bidirectional encoder" in outputs[view.notice]
    card = translation.card_outputs(inside, view, {view.model: ENCODER})
    assert "no LM head" in card[view.architecture.card]
    assert "minilm-l6 · BertModel" in title(card[view.architecture.diagram])


def test_a_panel_that_fails_says_why_and_the_others_still_draw(inside, view):
    outputs = translation.refresh_outputs(inside, view, page_values(view, token="Berlin Paris"))
    shown = outputs[view.attribution.plot].layout.annotations[0].text
    assert "tokens for" in shown and "Logit lens" in title(outputs[view.lens])


def test_the_head_panel_fits_stale_sliders_and_queries(inside, view):
    outputs = translation.head_outputs(inside, view, page_values(view, layer=99.0, head=50.0, query=1000))
    assert title(outputs[view.head.plot]).startswith("Layer 29 · head 8")
    assert set(outputs) == set(view.head.outputs)
    chosen = translation.head_outputs(inside, view, page_values(view, layer=2.0, head=3.0, query=4))
    assert title(chosen[view.head.plot]).startswith("Layer 2 · head 3") and "Query 4" in chosen[view.head.text]


def test_append_the_top_token_grows_the_text(inside, view):
    outputs = translation.grow_outputs(inside, view, True, page_values(view))
    assert outputs[view.text] == DEFAULT_TEXT + " Berlin"
    assert outputs[view.next_token.grown] == "Appended '·Berlin': the top token."
    drawn = translation.grow_outputs(inside, view, False, page_values(view), seed=7)
    assert drawn[view.text].startswith(DEFAULT_TEXT) and "seed 7" in drawn[view.next_token.grown]


def test_knock_out_reads_the_layer_slider_and_the_choice(inside, view):
    whole = translation.ablation_outputs(inside, view, page_values(view, ablate_layer=3.0, ablate_what=WHOLE_LAYER))
    assert "Knocking out layer 3 (attention and MLP)" in title(whole[view.attribution.ablation_plot])
    one = translation.ablation_outputs(inside, view, page_values(view, ablate_layer=3.0, ablate_what="head 2"))
    assert "Knocking out head 2 of layer 3" in title(one[view.attribution.ablation_plot])


def test_the_distribution_follows_the_settings(inside, view):
    values = {**page_values(view), view.next_token.top_k: 5.0}
    figure = translation.distribution_outputs(inside, view, values)[view.next_token.plot]
    assert "kept 5 tokens" in title(figure)


def test_requests_are_checked_where_they_are_made():
    with pytest.raises(InvalidInputError, match="Type some text"):
        TextRequest(" \n", CAUSAL)
    with pytest.raises(InvalidInputError, match="Pick a model"):
        TextRequest("Hello", "  ")
    with pytest.raises(InvalidInputError, match="top_k must be a whole number"):
        NextTokenRequest("Hello", CAUSAL, 1.0, 2.5, 1.0)
    assert NextTokenRequest("Hello", f" {CAUSAL} ", 1.0, 5.0, 1.0).top_k == 5
    with pytest.raises(InvalidInputError, match="Pick the layer"):
        AblationRequest("Hello", CAUSAL, None, 3)
    assert TokenRequest("Hello", CAUSAL, "").token is None
    overview = Overview(CAUSAL, 30, 9, 3, ("a", "b", "c"), 3)
    fitted = overview.fit(HeadRequest("Hello", CAUSAL, 31.0, -2.0, 7))
    assert (fitted.layer, fitted.head, fitted.query) == (29, 0, 2)
    assert overview.fit(HeadRequest("Hello", CAUSAL)).query == 2 and not overview.to_dict()["truncated"]


def test_the_attribution_title_names_the_heads_to_knock_out_first():
    contributions = np.zeros((3, 4))
    contributions[2, 1], contributions[0, 3] = 3.9, -1.25
    assert plots.strongest_heads(contributions) == "most up: layer 2 head 1 (+3.90) · most down: layer 0 head 3 (-1.25)"
