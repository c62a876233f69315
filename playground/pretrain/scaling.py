"""Scaling laws: fit ``L(N, D) = E + A / N**alpha + B / D**beta`` to runs, and spend a compute budget with it.

The fit is Hoffmann et al.'s (Chinchilla, approach 3): the Huber loss (delta 1e-3) between the log of the
predicted and the observed losses, minimised with L-BFGS from the best starts of a grid, in log space
(``A = exp(a)``...) so every term stays positive. Compute is ``C = 6 N D`` FLOPs, so for a budget the loss is
lowest at ``N_opt = G (C/6)**(beta/(alpha+beta))``, ``D_opt = (C/6) / N_opt`` with
``G = (alpha A / (beta B))**(1/(alpha+beta))``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch

from playground.core.errors import InvalidInputError

HUBER_DELTA = 1e-3
STARTS_KEPT = 8
GRID = {"a": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0), "b": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
        "e": (-1.0, -0.5, 0.0, 0.5, 1.0), "alpha": (0.0, 0.5, 1.0, 1.5, 2.0), "beta": (0.0, 0.5, 1.0, 1.5, 2.0)}
"""Hoffmann et al.'s grid of starting points (their Appendix D.2)."""


@dataclass(frozen=True)
class ScalingPoint:
    """One finished run: parameters N, training tokens D, final held-out loss."""

    params: float
    tokens: float
    loss: float

    @property
    def flops(self) -> float:
        return 6.0 * self.params * self.tokens


@dataclass(frozen=True)
class ScalingLaw:
    """``L(N, D) = E + A / N**alpha + B / D**beta``."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float

    def loss(self, params: float, tokens: float) -> float:
        return self.E + self.A / params ** self.alpha + self.B / tokens ** self.beta

    def compute_optimal(self, flops: float) -> tuple[float, float]:
        """(N_opt, D_opt) that minimise the loss for ``flops = 6 N D``."""
        if not (isinstance(flops, int | float) and math.isfinite(flops) and flops > 0):
            raise InvalidInputError(f"A compute budget must be a positive number of FLOPs, got {flops!r}.")
        total = self.alpha + self.beta
        scale = (self.alpha * self.A / (self.beta * self.B)) ** (1.0 / total)
        params = scale * (flops / 6.0) ** (self.beta / total)
        return params, flops / 6.0 / params

    def to_dict(self) -> dict[str, float]:
        return {"E": self.E, "A": self.A, "B": self.B, "alpha": self.alpha, "beta": self.beta}


CHINCHILLA = ScalingLaw(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)
"""Hoffmann et al. (2022), eq. 10: fitted on 400+ runs from 70M to 16B parameters."""


def check_points(points: Iterable[ScalingPoint]) -> list[ScalingPoint]:
    """Points a five-parameter fit can use: enough of them, positive and finite, N and D both varied."""
    points = list(points)
    if len(points) < 5:
        raise InvalidInputError(f"A scaling law has 5 numbers to fit; {len(points)} run(s) cannot pin them down. "
                                "Train at least 5 runs (a few sizes at a few budgets).")
    for point in points:
        values = (point.params, point.tokens, point.loss)
        if not all(isinstance(v, int | float) and math.isfinite(v) and v > 0 for v in values):
            raise InvalidInputError(f"Every run needs positive, finite parameters, tokens and loss; got {values}.")
    if len({point.params for point in points}) < 2 or len({point.tokens for point in points}) < 2:
        raise InvalidInputError("The runs must vary both the model size and the number of tokens: with one of them "
                                "fixed, its exponent cannot be told apart from the constant.")
    return points


def fit_law(points: Iterable[ScalingPoint]) -> ScalingLaw:
    """The law that best explains ``points`` under Hoffmann et al.'s Huber loss on log losses."""
    points = check_points(points)
    log_n = torch.tensor([math.log(p.params) for p in points], dtype=torch.float64)
    log_d = torch.tensor([math.log(p.tokens) for p in points], dtype=torch.float64)
    log_l = torch.tensor([math.log(p.loss) for p in points], dtype=torch.float64)
    grid = torch.tensor(list(itertools.product(*GRID.values())), dtype=torch.float64)
    start_losses = _objective(grid, log_n, log_d, log_l)
    best: tuple[float, torch.Tensor] | None = None
    for start in grid[start_losses.argsort()[:STARTS_KEPT]]:
        theta = start.clone().requires_grad_(True)
        optimiser = torch.optim.LBFGS([theta], max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-14,
                                      line_search_fn="strong_wolfe")

        def closure(theta: torch.Tensor = theta, optimiser: torch.optim.LBFGS = optimiser) -> torch.Tensor:
            optimiser.zero_grad()
            value = _objective(theta[None], log_n, log_d, log_l)[0]
            value.backward()
            return value

        optimiser.step(closure)
        value = float(_objective(theta.detach()[None], log_n, log_d, log_l)[0])
        if math.isfinite(value) and (best is None or value < best[0]):
            best = (value, theta.detach())
    if best is None:
        raise InvalidInputError("The fit did not converge on these runs: check that the losses fall with size "
                                "and tokens.")
    a, b, e, alpha, beta = best[1].tolist()
    return ScalingLaw(E=math.exp(e), A=math.exp(a), B=math.exp(b), alpha=alpha, beta=beta)


def _objective(theta: torch.Tensor, log_n: torch.Tensor, log_d: torch.Tensor, log_l: torch.Tensor) -> torch.Tensor:
    """Summed Huber loss for each row of ``theta`` = (a, b, e, alpha, beta)."""
    a, b, e, alpha, beta = (theta[:, index, None] for index in range(5))
    predicted = torch.logsumexp(torch.stack([a - alpha * log_n, b - beta * log_d, e.expand(-1, len(log_n))]), 0)
    return torch.nn.functional.huber_loss(predicted, log_l.expand_as(predicted), delta=HUBER_DELTA,
                                          reduction="none").sum(1)


def frontier(points: Iterable[ScalingPoint], rel_tol: float = 0.02) -> list[ScalingPoint]:
    """The compute-optimal frontier: for each compute budget (runs within ``rel_tol`` share one), the run with
    the lowest loss, in order of compute."""
    best: list[ScalingPoint] = []
    for point in sorted(points, key=lambda p: p.flops):
        if best and math.isclose(point.flops, best[-1].flops, rel_tol=rel_tol):
            if point.loss < best[-1].loss:
                best[-1] = point
        else:
            best.append(point)
    return best


def fit_summary(law: ScalingLaw, budget: float) -> dict[str, Any]:
    """The fit beside Chinchilla's, and the size and tokens it recommends for ``budget`` FLOPs."""
    params, tokens = law.compute_optimal(budget)
    return {"fit": law.to_dict(), "chinchilla": CHINCHILLA.to_dict(), "budget_flops": budget,
            "recommended_params": params, "recommended_tokens": tokens,
            "tokens_per_param": tokens / params, "predicted_loss": law.loss(params, tokens)}
