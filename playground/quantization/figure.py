"""What int8 and NF4 do to real weights, computed by hand for the page's teaching figure.

The same arithmetic as the libraries (absmax scaling, rounding to the nearest level), kept
small and readable so the figure explains the method rather than calling into it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

NF4_LEVELS = torch.tensor([
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
    -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
    0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
    0.7229568362236023, 1.0])
"""QLoRA's NormalFloat4: quantiles of a standard normal, rescaled to [-1, 1], with an exact zero."""

NF4_BLOCK = 64


@dataclass(frozen=True)
class WeightDemo:
    original: list[float]
    int8: list[float]
    nf4: list[float]
    nf4_levels: list[float]
    int8_error: float
    nf4_error: float


def int8_round_trip(row: torch.Tensor) -> torch.Tensor:
    """Symmetric absmax int8 for one row: scale = max|w| / 127, store round(w / scale)."""
    scale = row.abs().max() / 127
    return torch.round(row / scale).clamp(-127, 127) * scale


def nf4_round_trip(block: torch.Tensor) -> torch.Tensor:
    """NF4 for one block: divide by the block's absmax, snap to the nearest of 16 levels."""
    absmax = block.abs().max()
    normalized = block / absmax
    nearest = (normalized[:, None] - NF4_LEVELS[None, :]).abs().argmin(dim=1)
    return NF4_LEVELS[nearest] * absmax


def weight_demo(weight: torch.Tensor, count: int = NF4_BLOCK) -> WeightDemo:
    """The first ``count`` weights of a matrix's first row, and both round trips."""
    row = weight.detach().float()[0]
    values = row[:count]
    int8 = int8_round_trip(row)[:count]
    nf4 = nf4_round_trip(values)
    absmax = values.abs().max()
    return WeightDemo(values.tolist(), int8.tolist(), nf4.tolist(), (NF4_LEVELS * absmax).tolist(),
                      float((int8 - values).abs().mean()), float((nf4 - values).abs().mean()))
