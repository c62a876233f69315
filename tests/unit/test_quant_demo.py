"""The hand-written int8 / NF4 round trips behave as the methods promise."""

from __future__ import annotations

import torch

from playground.quantization.figure import NF4_LEVELS, int8_round_trip, nf4_round_trip, weight_demo


def test_int8_error_is_at_most_half_a_step():
    row = torch.randn(576)
    step = row.abs().max() / 127
    assert (int8_round_trip(row) - row).abs().max() <= step / 2 + 1e-7


def test_nf4_values_are_scaled_levels_and_keep_the_extreme():
    block = torch.randn(64)
    restored = nf4_round_trip(block)
    absmax = block.abs().max()
    assert all(torch.isclose(NF4_LEVELS * absmax, value).any() for value in restored)
    assert restored.abs().max() == absmax  # the largest weight is exact


def test_real_weights_lose_more_at_4_bits(workspace):
    model = workspace.store.causal_lm("smollm2-135m-instruct")
    demo = weight_demo(model.model.layers[0].self_attn.q_proj.weight)
    assert len(demo.original) == len(demo.int8) == len(demo.nf4) == 64
    assert 0 < demo.int8_error < demo.nf4_error
