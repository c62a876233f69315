"""The message a plot shows when it has nothing to draw."""

from __future__ import annotations

from tabs.shared.figures import WRAP, message_figure, waiting


def test_a_long_message_is_wrapped_to_fit_a_half_width_plot():
    sentence = "Not defined layer by layer: the fine-tuned model has another depth than its base (a distilled student)."
    lines = message_figure(sentence).layout.annotations[0].text.split("<br>")
    assert len(lines) == 2 and all(len(line) <= WRAP for line in lines) and " ".join(lines) == sentence
    assert waiting("Press Compare.").layout.annotations[0].text == "Press Compare."
