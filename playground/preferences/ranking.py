"""Bradley-Terry scores from pairwise votes, with 95% intervals (the model behind Chatbot Arena's board).

Each compared system i has a strength theta_i, and P(i beats j) = 1 / (1 + exp(theta_j - theta_i)). The
strengths are fitted by maximum likelihood (Newton's method on the log-likelihood, a tie counted as half a
win each way), centred to mean 0 since only differences are identified. Intervals come from the inverse
Fisher information restricted to that centring (Wald, +-1.96 standard errors). A tiny ridge keeps a system
that won (or lost) every vote finite; its interval then says how little that means.

Only systems linked by votes, directly or through others, can be ranked against each other: in a class each
student may compare a pair of their own. Each such group is centred on its own, so its intervals say what its
votes say; centred together, the groups' unknown offsets made every interval thousands of Elo points wide.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

RIDGE = 1e-3
"""Log-prior precision on each strength: negligible against real votes, finite when one side always wins."""
ELO_SCALE = 400 / math.log(10)
"""Arena's display scale: 400 points = 10x the odds, centred on 1000."""


@dataclass(frozen=True)
class Outcome:
    """One decisive comparison: ``first`` against ``second``, with ``score`` 1 (first won), 0 or 0.5 (tie)."""

    first: str
    second: str
    score: float


@dataclass(frozen=True)
class Standing:
    system: str
    strength: float
    low: float
    high: float
    wins: float
    games: int
    group: int = 1
    """Which set of systems linked by votes it belongs to (1 = the one with the most votes): scores compare
    only within a group."""

    def to_dict(self) -> dict[str, Any]:
        return {"system": self.system, "strength": round(self.strength, 6), "low": round(self.low, 6),
                "high": round(self.high, 6), "elo": round(1000 + ELO_SCALE * self.strength, 1),
                "elo_low": round(1000 + ELO_SCALE * self.low, 1), "elo_high": round(1000 + ELO_SCALE * self.high, 1),
                "wins": self.wins, "games": self.games, "group": self.group}


def bradley_terry(outcomes: Iterable[Outcome], iterations: int = 100) -> list[Standing]:
    """The standings, strongest first."""
    outcomes = [o for o in outcomes if o.first != o.second]
    systems = sorted({name for o in outcomes for name in (o.first, o.second)})
    if not systems:
        return []
    index = {name: i for i, name in enumerate(systems)}
    first = np.array([index[o.first] for o in outcomes])
    second = np.array([index[o.second] for o in outcomes])
    score = np.array([o.score for o in outcomes], dtype=float)
    group = linked_groups(len(systems), first, second)
    same_group = group[:, None] == group[None, :]
    centre = np.eye(len(systems)) - same_group / same_group.sum(1, keepdims=True)  # each group's own mean
    theta = np.zeros(len(systems))
    for _ in range(iterations):
        gradient, hessian = _derivatives(theta, first, second, score)
        step = np.linalg.solve(hessian, gradient)
        theta = centre @ (theta - step)
        if np.abs(step).max() < 1e-10:
            break
    _, hessian = _derivatives(theta, first, second, score)
    covariance = centre @ np.linalg.inv(-hessian) @ centre
    errors = np.sqrt(np.clip(np.diag(covariance), 0, None))
    wins = np.zeros(len(systems))
    games = np.zeros(len(systems), dtype=int)
    np.add.at(wins, first, score)
    np.add.at(wins, second, 1 - score)
    np.add.at(games, first, 1)
    np.add.at(games, second, 1)
    standings = [Standing(name, float(theta[i]), float(theta[i] - 1.96 * errors[i]), float(theta[i] + 1.96 * errors[i]),
                          float(wins[i]), int(games[i]), int(group[i]) + 1) for name, i in index.items()]
    return sorted(standings, key=lambda s: (s.group, -s.strength))


def linked_groups(count: int, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Each system's group of systems linked by comparisons, numbered from 0 by most comparisons (then by
    the first system's name), so the class's main board comes first."""
    parent = list(range(count))

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for a, b in zip(first.tolist(), second.tolist(), strict=True):
        parent[root(a)] = root(b)
    roots = [root(node) for node in range(count)]
    comparisons = {r: 0 for r in roots}
    for a in first.tolist():
        comparisons[roots[a]] += 1
    order = sorted(comparisons, key=lambda r: (-comparisons[r], roots.index(r)))
    return np.array([order.index(r) for r in roots])


def _derivatives(theta: np.ndarray, first: np.ndarray, second: np.ndarray,
                 score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian of the penalised log-likelihood."""
    p = 1 / (1 + np.exp(theta[second] - theta[first]))
    residual = score - p
    gradient = -RIDGE * theta
    np.add.at(gradient, first, residual)
    np.add.at(gradient, second, -residual)
    weight = p * (1 - p)
    hessian = -RIDGE * np.eye(len(theta))
    np.add.at(hessian, (first, first), -weight)
    np.add.at(hessian, (second, second), -weight)
    np.add.at(hessian, (first, second), weight)
    np.add.at(hessian, (second, first), weight)
    return gradient, hessian
