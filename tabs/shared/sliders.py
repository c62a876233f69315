"""Layer, head and token sliders shared by the Attention and Inside tabs: ranges that follow the model and
text, without undoing what the user chose."""

from __future__ import annotations

import gradio as gr


def clip(value: float | None, upper: int) -> int:
    return max(0, min(int(value or 0), upper))


def bounded_slider(value: float | None, upper: int) -> gr.Slider:
    """New maximum; the value is touched only when it must be clipped.

    A refresh still in flight must not snap back a slider the user has moved since. Gradio
    needs maximum > minimum, so a one-token text (or one-head model) still gets a 0..1 slider;
    the handlers clip whatever it says.
    """
    maximum = max(upper, 1)
    if value is not None and int(value) == clip(value, upper):
        return gr.Slider(maximum=maximum)
    return gr.Slider(maximum=maximum, value=clip(value, upper))
