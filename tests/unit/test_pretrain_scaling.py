"""Issue 36: the scaling-law fit recovers a known law, and spends a budget as the law says."""

from __future__ import annotations

import math
import random

import pytest

from playground.core.errors import InvalidInputError
from playground.pretrain.scaling import CHINCHILLA, ScalingLaw, ScalingPoint, fit_law, fit_summary, frontier

KNOWN = ScalingLaw(E=1.8, A=300.0, B=500.0, alpha=0.4, beta=0.3)


def synthetic_points(law: ScalingLaw, noise: float = 0.005, seed: int = 0) -> list[ScalingPoint]:
    """Losses from ``law`` at 6 sizes x 5 token counts, each off by ~``noise`` (relative)."""
    rng = random.Random(seed)
    return [ScalingPoint(n, d, law.loss(n, d) * math.exp(rng.gauss(0.0, noise)))
            for n in (1e5, 3e5, 1e6, 3e6, 1e7, 3e7) for d in (1e6, 1e7, 1e8, 1e9, 1e10)]


def test_the_fit_recovers_known_exponents_from_noisy_losses():
    law = fit_law(synthetic_points(KNOWN))
    assert abs(law.alpha - KNOWN.alpha) < 0.03 and abs(law.beta - KNOWN.beta) < 0.03
    assert abs(law.E - KNOWN.E) < 0.1


def test_compute_optimal_sizes_spend_the_budget_and_beat_their_neighbours():
    budget = 1e21
    params, tokens = CHINCHILLA.compute_optimal(budget)
    assert math.isclose(6 * params * tokens, budget, rel_tol=1e-9)
    best = CHINCHILLA.loss(params, tokens)
    for factor in (0.5, 2.0):
        assert CHINCHILLA.loss(params * factor, tokens / factor) > best
    summary = fit_summary(CHINCHILLA, budget)
    assert summary["chinchilla"]["alpha"] == 0.34 and summary["recommended_params"] == params


def test_the_frontier_keeps_the_lowest_loss_at_each_budget():
    runs = [ScalingPoint(1e6, 1e8, 3.0), ScalingPoint(1e7, 1e7, 2.9), ScalingPoint(1e5, 1e9, 3.2),
            ScalingPoint(1e7, 1e8, 2.5)]
    best = frontier(runs)
    assert [(p.params, p.loss) for p in best] == [(1e7, 2.9), (1e7, 2.5)]


@pytest.mark.parametrize("points, message", [
    ([ScalingPoint(1e6, 1e8, 3.0)] * 4, "5 numbers"),
    ([ScalingPoint(1e6, 10.0 ** k, 3.0 - k / 10) for k in range(5, 10)], "vary both"),
    ([ScalingPoint(1e6 * k, 1e8 * k, -1.0) for k in range(1, 6)], "positive"),
])
def test_too_few_or_degenerate_runs_are_refused(points, message):
    with pytest.raises(InvalidInputError, match=message):
        fit_law(points)


def test_a_budget_must_be_positive():
    with pytest.raises(InvalidInputError, match="budget"):
        CHINCHILLA.compute_optimal(0)
