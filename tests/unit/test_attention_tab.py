"""The attention tab's slider bounds, including the degenerate one-token text."""

from __future__ import annotations

from tabs.shared.sliders import bounded_slider, clip


def test_clip():
    assert (clip(None, 5), clip(-3, 5), clip(9, 5), clip(2.0, 5)) == (0, 0, 5, 2)


def sent(slider) -> dict:
    """What Gradio sends to the page for a returned component: its explicit arguments only."""
    return slider.constructor_args


def test_bounded_slider_keeps_an_in_range_value_untouched():
    assert sent(bounded_slider(3, 29)) == {"maximum": 29}


def test_bounded_slider_clips_an_out_of_range_value():
    assert sent(bounded_slider(20, 5)) == {"maximum": 5, "value": 5}


def test_one_token_text_still_gives_a_valid_slider():
    assert sent(bounded_slider(None, 0)) == {"maximum": 1, "value": 0}
    assert sent(bounded_slider(4, 0)) == {"maximum": 1, "value": 0}
