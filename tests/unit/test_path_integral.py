"""The halving rule integrated gradients reads its path by, on integrands whose integrals are known."""

from __future__ import annotations

import numpy as np
import pytest

from playground.internals.path_integral import PathPoint, PiecewisePath, even_alphas

SHARES = np.array([0.3, 0.7])
"""How two tokens split a one-dimensional integrand."""
STEEPNESS = 300
"""f rises over about 1/50 of the path, a stretch 32 even pieces step over."""


def sigmoid(alpha: float) -> float:
    return 1 / (1 + np.exp(-STEEPNESS * (alpha - 0.7)))


def steep_point(alpha: float) -> PathPoint:
    """f rises steeply near 0.7 (as a transformer's log-probability does where attention shifts); its
    derivative, split between the two tokens, is the integrand."""
    value = sigmoid(alpha)
    return PathPoint(alpha, value, SHARES * STEEPNESS * value * (1 - value))


def read(point, pieces: int, halving: bool) -> PiecewisePath:
    path = PiecewisePath()
    path.add([point(alpha) for alpha in even_alphas(4 if halving else pieces)])
    while path.pieces < pieces:
        path.add([point(alpha) for alpha in path.next_alphas(min(8, pieces - path.pieces))])
    return path


def test_the_trapezoid_rule_is_exact_for_an_integrand_linear_along_the_path():
    slopes, offsets = np.array([1.0, -2.0, 0.5]), np.array([0.2, 0.1, -0.3])
    path = PiecewisePath()
    path.add([PathPoint(a, float((offsets * a + slopes * a * a / 2).sum()), offsets + slopes * a)
              for a in (1.0, 0.0, 0.5)])  # added out of order: kept in path order
    assert [p.alpha for p in path.points] == [0, 0.5, 1]
    np.testing.assert_allclose(path.scores(), offsets + slopes / 2)
    assert path.gap() == pytest.approx(0, abs=1e-12) and path.change == pytest.approx((offsets + slopes / 2).sum())


def test_halving_crowds_the_points_into_the_steep_stretch_and_beats_even_pieces():
    halved, even = read(steep_point, 32, halving=True), read(steep_point, 32, halving=False)
    assert halved.pieces == even.pieces == 32
    steep = [p.alpha for p in halved.points if 0.65 <= p.alpha <= 0.75]
    assert len(steep) > len(halved.points) / 3  # the stretch is a tenth of the path
    assert abs(halved.gap()) < abs(even.gap()) / 10
    exact = SHARES * (sigmoid(1) - sigmoid(0))
    assert np.abs(halved.scores() - exact).sum() < np.abs(even.scores() - exact).sum() / 10


def test_each_round_halves_the_piece_read_worst_and_then_its_halves():
    path = read(steep_point, 4, halving=True)
    scores = path.piece_scores()  # the rise is at 0.7: the piece from 0.5 to 0.75 holds it
    assert int(np.argmax(scores)) == 2 and scores[2] > 1000 * max(scores[0], scores[1], scores[3])
    assert path.next_alphas(1) == [0.625]
    assert path.next_alphas(3) == [0.5625, 0.625, 0.6875]  # a round can cut one steep piece many times
