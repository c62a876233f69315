"""The Quantization page's charts, drawn from measured rows (no model: the rows are what a comparison holds)."""

from __future__ import annotations

from playground.quantization.lab import QuantComparison, QuantRow
from tabs.quantization.view import quality_figure


def row(method: str, bits: int, megabytes: float, perplexity: float) -> QuantRow:
    return QuantRow(method, method, bits, status="done", weight_bytes=int(megabytes * 1e6), perplexity=perplexity)


def test_methods_of_one_bit_width_put_their_names_apart():
    rows = [row("fp32", 32, 538.1, 30.86), row("bnb-int8", 8, 220.2, 32.15), row("torchao-int8", 8, 220.3, 31.21),
            row("bnb-nf4", 4, 173.1, 39.70), row("pending", 4, 0, 0)]
    figure = quality_figure(QuantComparison("smollm2-135m-instruct", "prompt", "cpu", rows))
    places = {trace.name: trace.textposition for trace in figure.data}
    assert places == {"fp32": "top center", "bnb-int8": "top center", "torchao-int8": "bottom center",
                      "bnb-nf4": "top center"}  # the unmeasured row is not drawn
