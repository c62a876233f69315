"""The Attention tab's translation, called with values keyed by component on the real embedded models, without
launching Gradio: what each handler returns, what it leaves alone, and the request it shares with /attention."""

from __future__ import annotations

import gradio as gr
import pytest

from playground.attention import EMPTY_TEXT, AttentionExplorer, AttentionRequest
from playground.core.errors import InvalidInputError
from tabs.attention import translation
from tabs.attention.layout import CAUSAL, ENCODER, AttentionView, Controls, Figures

TEXT = "Cats chase mice at night"  # 5 tokens on the embedded decoder


@pytest.fixture
def view() -> AttentionView:
    controls = Controls(gr.Textbox(), gr.Dropdown(), gr.Slider(), gr.Slider(), gr.Slider())
    figures = Figures(gr.Markdown(), gr.Checkbox(), gr.Plot(), gr.Plot(), gr.Radio(), gr.Plot(), gr.Dropdown(),
                      gr.Plot(), gr.Plot(), gr.Plot(), gr.Plot(), gr.State())
    return AttentionView(controls, figures)


def page_values(view: AttentionView, **changed) -> dict:
    """What the page sends: the defaults, with ``changed`` fields (named as in the view) replaced."""
    controls, figures = view.controls, view.figures
    values = {"text": TEXT, "model": CAUSAL, "max_tokens": 128.0, "layer": 0.0, "head": 0.0,
              "metric": "first_token", "pin": None, "hide_sink": True, "pinned_tokens": None, **changed}
    return {getattr(controls, name, None) or getattr(figures, name): value for name, value in values.items()}


def title(figure) -> str:
    return figure.layout.title.text


def test_a_refresh_fills_the_notice_ranges_pin_and_views(workspace, view):
    controls, figures = view.controls, view.figures
    values = page_values(view, layer=40.0, head=3.0)
    out = translation.refresh_outputs(workspace.attention, view, dict(reversed(values.items())))
    assert set(out) == {figures.notice, controls.layer, controls.head, figures.pin, figures.overview_plot,
                        figures.pinned_plot, figures.rollout_plot, figures.pinned_tokens}
    assert out[figures.notice] == f"**{CAUSAL}** · causal · 30 layers x 9 heads · 5 tokens"
    assert out[controls.layer].constructor_args == {"maximum": 29, "value": 29}  # clipped to the model
    assert out[controls.head].constructor_args == {"maximum": 8}  # in range: left as the user set it
    assert out[figures.pin].constructor_args["value"] == 4  # the last token by default
    assert out[figures.pinned_tokens] == ["Cats", "·chase", "·mice", "·at", "·night"]  # what the pin was chosen on
    assert "Where token '4 ·night'" in title(out[figures.pinned_plot]) and "took" in title(out[figures.pinned_plot])


def test_a_pin_holds_on_the_same_text_and_starts_again_on_a_new_one(workspace, view):
    figures = view.figures
    tokens = translation.refresh_outputs(workspace.attention, view, page_values(view))[figures.pinned_tokens]
    same = translation.refresh_outputs(workspace.attention, view, page_values(view, pin=2, pinned_tokens=tokens))
    assert "value" not in same[figures.pin].constructor_args  # the user's choice stands
    assert "Where token '2 ·mice'" in title(same[figures.pinned_plot])
    new_text = translation.refresh_outputs(workspace.attention, view,
                                           page_values(view, text="Dogs bark", pin=2, pinned_tokens=tokens))
    last = len(new_text[figures.pinned_tokens]) - 1
    assert new_text[figures.pin].constructor_args["value"] == last


def test_a_cleared_box_says_so_and_keeps_every_figure(workspace, view):
    explorer = workspace.attention
    values = page_values(view, text="   ")
    assert translation.refresh_outputs(explorer, view, values) == {view.figures.notice: EMPTY_TEXT}
    assert translation.head_outputs(explorer, view, values) == {}
    assert translation.overview_outputs(explorer, view, values) == {}
    assert translation.sink_outputs(explorer, view, values) == {}


def test_the_head_views_follow_the_sliders_clipped_per_model(workspace, view):
    figures = view.figures
    out = translation.head_outputs(workspace.attention, view, page_values(view, layer=20.0, head=10.0))
    assert title(out[figures.head_plot]).startswith(f"{CAUSAL} · layer 20 · head 8")
    assert title(out[figures.layer_plot]).startswith("All 9 heads of layer 20")
    assert title(out[figures.causal_plot]).startswith(f"{CAUSAL} · layer 20 · head 8")
    assert title(out[figures.encoder_plot]).startswith(f"{ENCODER} · layer 5 · head 10")


def test_a_refresh_computes_the_comparison_so_the_chained_draw_is_a_lookup(workspace, view, monkeypatch):
    explorer = AttentionExplorer(workspace.store, workspace.tokenizers)
    translation.refresh_outputs(explorer, view, page_values(view, text="A fresh text for the cache"))

    def no_forward(*args):
        raise AssertionError("the maps should have been cached by the refresh")

    monkeypatch.setattr(explorer, "_forward", no_forward)
    out = translation.head_outputs(explorer, view, page_values(view, text="A fresh text for the cache"))
    assert title(out[view.figures.encoder_plot]).startswith(ENCODER)


def test_the_metric_and_the_sink_redraw_only_their_views(workspace, view):
    figures = view.figures
    overview = translation.overview_outputs(workspace.attention, view, page_values(view, metric="entropy"))
    assert list(overview) == [figures.overview_plot]
    assert title(overview[figures.overview_plot]).startswith("Mean entropy")
    sinks = translation.sink_outputs(workspace.attention, view, page_values(view, pin=1, hide_sink=False))
    assert set(sinks) == {figures.pinned_plot, figures.rollout_plot}
    assert "took" not in title(sinks[figures.rollout_plot])
    assert "Where token '1 ·chase'" in title(sinks[figures.pinned_plot])


def test_the_page_asks_for_the_same_request_as_the_api(view):
    request = translation.request_from(view.controls, page_values(view, model=f" {CAUSAL} "))
    assert request == AttentionRequest(TEXT, CAUSAL, 128)  # the name stripped, the slider's float a count
    assert translation.request_from(view.controls, page_values(view), ENCODER).model == ENCODER
    with pytest.raises(InvalidInputError, match="max_tokens must be a whole number"):
        translation.request_from(view.controls, page_values(view, max_tokens=600.0))
    with pytest.raises(InvalidInputError, match="Choose a model"):
        translation.request_from(view.controls, page_values(view, model=None))
    with pytest.raises(InvalidInputError, match=EMPTY_TEXT):
        AttentionRequest("  ", CAUSAL)
