"""What finished pre-training runs measured, read back from their folders: scaling points and the fitted law.

A single run is one point (its non-embedding parameters, the tokens it saw, its final held-out loss); a sweep
holds one ``point`` event per finished point. The fit is :func:`playground.pretrain.scaling.fit_law`, beside
Chinchilla's, with the frontier and what the fit recommends for a budget.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playground.core.errors import InvalidInputError
from playground.core.validation import number
from playground.finetune.events import read_events
from playground.pretrain.scaling import CHINCHILLA, ScalingPoint, fit_law, fit_summary, frontier

SCALE_GAP = ("These models have 10^4 to 10^6 parameters and see 10^4 to 10^6 tokens; Chinchilla's law was fitted "
             "on 7x10^7 to 1.6x10^10 parameters and 5x10^9 to 5x10^11 tokens, on web text with a 32k vocabulary. "
             "Exponents and constants measured 4 to 5 orders of magnitude lower need not match: compare the "
             "shape (loss falls as a power of both), not the numbers. The loss here is in nats per token of a "
             "different tokenizer, so even E is not comparable.")


def run_points(run_id: str, folder: Path) -> list[dict[str, Any]]:
    """The run's scaling points as plain data {run_id, params, tokens, flops, loss, ...}; none before it ends."""
    events = read_events(folder)
    points = [{"run_id": run_id, "params": e["params"], "tokens": e["tokens"], "flops": e["flops"],
               "loss": e["eval_loss"], "budget": e.get("budget"), "layers": e.get("layers"),
               "width": e.get("width")} for e in events if e.get("event") == "point"]
    if points:
        return points
    model = next((e for e in events if e.get("event") == "model" and e.get("method") == "pretrain"), None)
    ended = next((e for e in reversed(events) if e.get("event") in ("finished", "cancelled")), None)
    if model is None or ended is None or not ended.get("tokens_seen"):
        return []
    params, tokens = model["non_embedding"], ended["tokens_seen"]
    return [{"run_id": run_id, "params": params, "tokens": tokens, "flops": 6.0 * params * tokens,
             "loss": ended["eval_loss"], "budget": None, "layers": None, "width": None}]


def scaling_fit(points: list[dict[str, Any]], budget: float | None = None) -> dict[str, Any]:
    """The law fitted to ``points``: E, A, B, alpha, beta, the points, Chinchilla's law, the frontier and the
    recommended size for ``budget`` FLOPs (default: 10x the largest run's compute) by both laws."""
    if not points:
        raise InvalidInputError("These runs have no finished pre-training results yet: let them (or a sweep) "
                                "finish first.")
    scaled = [ScalingPoint(p["params"], p["tokens"], p["loss"]) for p in points]
    law = fit_law(scaled)
    if budget in (None, 0, 0.0):
        budget = 10.0 * max(point.flops for point in scaled)
    budget = number("Budget", budget, 0.0, 1e30, "training FLOPs, e.g. 1e12", low_open=True)
    summary = fit_summary(law, budget)
    chinchilla_params, chinchilla_tokens = CHINCHILLA.compute_optimal(budget)
    best = budget_frontier(points) if all(p.get("budget") for p in points) else frontier(scaled)
    return {**law.to_dict(), "points": points, "chinchilla": CHINCHILLA.to_dict(),
            "frontier": [{"params": p.params, "tokens": p.tokens, "flops": p.flops, "loss": p.loss} for p in best],
            "recommended": {"budget_flops": budget, "params": summary["recommended_params"],
                            "tokens": summary["recommended_tokens"], "tokens_per_param": summary["tokens_per_param"],
                            "predicted_loss": summary["predicted_loss"], "chinchilla_params": chinchilla_params,
                            "chinchilla_tokens": chinchilla_tokens,
                            "chinchilla_tokens_per_param": chinchilla_tokens / chinchilla_params},
            "scale_gap": SCALE_GAP, "warnings": fit_warnings(law.to_dict(), scaled, best)}


def budget_frontier(points: list[dict[str, Any]]) -> list[ScalingPoint]:
    """A sweep's frontier: the lowest loss of each planned budget (whole steps make a point's own compute miss its
    budget by a few percent, more for the shortest runs, so the budget it was planned for groups it)."""
    best: dict[float, dict[str, Any]] = {}
    for point in points:
        if point["budget"] not in best or point["loss"] < best[point["budget"]]["loss"]:
            best[point["budget"]] = point
    return [ScalingPoint(p["params"], p["tokens"], p["loss"]) for _, p in sorted(best.items())]


def fit_warnings(law: dict[str, float], points: list[ScalingPoint], best: list[ScalingPoint]) -> list[str]:
    """What makes this fit's numbers weak, in words: a best size at the edge of the sweep for every budget (no
    optimum inside the range to pin the exponents), or an E fitted to nothing (the runs are far above it)."""
    warnings = []
    sizes = sorted({point.params for point in points})
    if len(sizes) > 1 and len(best) > 1 and all(point.params == sizes[0] for point in best):
        warnings.append("The smallest size is the best for every budget: these budgets are too small for the bigger "
                        "models (they see too few tokens). Add a smaller size or raise the budgets to see an optimum "
                        "inside the range; until then the recommended size is an extrapolation.")
    elif len(sizes) > 1 and len(best) > 1 and all(point.params == sizes[-1] for point in best):
        warnings.append("The largest size is the best for every budget: add a bigger size (or lower the budgets) to "
                        "see an optimum inside the range; until then the recommended size is an extrapolation.")
    if law["E"] < 0.05 * min(point.loss for point in points):
        warnings.append(f"E came out near 0 ({law['E']:.2g}): the runs are far above the loss no model can beat, so "
                        "these points cannot pin it down, and A, B and the exponents absorb it.")
    return warnings
