"""Integrated gradients: how many path points a small completeness gap needs on this model, and what they cost.

The issue asked for salience under 1 s for a 32-token text and a completeness gap (the scores' sum against
f(input) - f(baseline)) under 5% at the default steps. Two measurements, on the neutral baseline the page uses:

- On the 32-token text of ``bench causes``: the gap of the page's rule (the trapezoid on pieces halved where
  they are read worst, :mod:`playground.internals.path_integral`) against the midpoint rule (even points) and
  Gauss-Legendre (the best rule for smooth integrands) at the same numbers of points, and what they cost.
- On fourteen texts: the gap at the default steps for the page's choices (that rule, f the target's
  log-probability, the baseline the vocabulary's mean embedding after the first token) against the midpoint
  rule at the same cost and at twice it (the page's earlier default), the pad token as the baseline and the
  logit as f.
"""

from __future__ import annotations

import argparse
import functools
import time

import numpy as np
import torch

from bench import machine_line
from bench.causes_bench import MODEL, prompt_pair
from playground.core.iterutil import last
from playground.core.settings import Settings
from playground.internals import salience
from playground.internals.inspector import ModelInspector
from playground.internals.path_integral import PathPoint
from playground.internals.tracing import ModelView, Trace
from playground.workspace import Workspace

COMMAND = "python -m bench ig --write"
POINTS = (5, 9, 17, 33, 65, 129)
"""Path points read, the ends included for the page's rule (so 4 to 128 pieces)."""
PROFILE = 65
"""Points at which the integrand's swing is sampled (evenly, ends included)."""
BATCH = 16
"""Path points per forward and backward for the even rules."""
TEXTS = (
    prompt_pair(32)[0],
    "My grandmother keeps a small garden behind her house where she grows tomatoes, beans and herbs, and every "
    "morning she waters them before she drinks her",
    "The meeting was moved from Tuesday to Thursday because the manager was sick, so everyone had to change "
    "their plans and the report was finally sent on",
    "In Python, to read every line of a text file you open it with a with statement and then loop over the file "
    "object, calling",
    "She looked at the empty plate, then at the dog wagging its tail under the table, and she knew exactly who "
    "had eaten the",
    "Two plus two is four, three plus three is six, and four plus four is",
    "The capital of France is Paris. The capital of Germany is",
    "After the long winter the river rose quickly, and by April the farmers could see the water covering their",
    "To make a cup of tea you boil the water, put the tea bag in the cup, pour the water and wait for three",
    "The detective looked at the broken window, the muddy footprints and the open safe, and concluded that the "
    "thief had",
    "Alice gave Bob a book, and then Bob gave the book back to",
    "The sun rises in the east and sets in the",
    "Water freezes at zero degrees Celsius and boils at one hundred degrees",
    "He opened the fridge, took out the milk, poured it into a glass and drank the whole",
)
"""Texts of 10 to 32 tokens, each explaining its top prediction."""
MEASURES: dict[str, salience.Measure] = {
    "log-probability": salience.log_probability,
    "logit": lambda logits, target: logits[:, target],
}


def pad_baseline(inspector: ModelInspector, view: ModelView, traced: Trace) -> torch.Tensor:
    """The page's earlier baseline: the first token, then the pad (or end-of-text) token repeated."""
    tokenizer = inspector.store.hf_tokenizer(MODEL)
    neutral = next(int(i) for i in (tokenizer.pad_token_id, tokenizer.eos_token_id) if i is not None)
    return view.block_input([traced.ids[0]] + [neutral] * (traced.num_tokens - 1))


class Path:
    """One text's straight path from a baseline to its embeddings, read by the page's rule or an even one."""

    def __init__(self, inspector: ModelInspector, text: str) -> None:
        self.view, self.traced = inspector.view(MODEL), inspector.trace(text, MODEL)
        self.target = inspector.token_id(text, MODEL, None)
        self.target_text = inspector.decode(MODEL, self.target)
        self.baselines = {"mean": salience.neutral_baseline(self.view, self.traced),
                          "pad": pad_baseline(inspector, self.view, self.traced)}

    def halving(self, pieces: int, baseline: str = "mean", measure: str = "log-probability") -> tuple[float, float]:
        """The page's rule: its gap and f(input) - f(baseline)."""
        estimate = last(salience.integrated_gradients_progress(self.view, self.traced, self.target, pieces,
                                                               self.baselines[baseline], MEASURES[measure]))
        assert estimate is not None
        return estimate.gap, estimate.change

    def read(self, alphas: np.ndarray) -> list[PathPoint]:
        """The points at ``alphas`` on the mean baseline's path, ``BATCH`` per forward and backward."""
        points = []
        for chunk in np.array_split(alphas, max(1, -(-len(alphas) // BATCH))):
            points += salience.read_points(self.view, self.traced, self.target, self.baselines["mean"],
                                           chunk.tolist())[0]
        return points

    @functools.cached_property
    def change(self) -> float:
        """f(input) - f(baseline) for the mean baseline and f, read once for every even rule."""
        ends = self.read(np.array([0.0, 1.0]))
        return ends[1].value - ends[0].value

    def weighted(self, alphas: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
        """An even rule's gap (its points and weights on [0, 1]) and the change, for the mean baseline and f."""
        points, change = self.read(alphas), self.change
        total = sum(weight * float(point.integrand.sum()) for weight, point in zip(weights, points, strict=True))
        return total - change, change

    def midpoint(self, points: int) -> tuple[float, float]:
        return self.weighted((np.arange(points) + 0.5) / points, np.full(points, 1 / points))

    def gauss_legendre(self, points: int) -> tuple[float, float]:
        nodes, weights = np.polynomial.legendre.leggauss(points)
        return self.weighted((nodes + 1) / 2, weights / 2)

    def profile(self) -> np.ndarray:
        return np.array([float(point.integrand.sum()) for point in self.read(np.linspace(0, 1, PROFILE))])


def share(result: tuple[float, float]) -> str:
    gap, change = result
    return f"{gap:+.2f} ({abs(gap / change):.1%})"


def run(argv: list[str]) -> str:
    parser = argparse.ArgumentParser(prog="python -m bench ig")
    parser.parse_args(argv)
    inspector = Workspace.create(Settings.from_env()).inside
    main = Path(inspector, TEXTS[0])
    profile = main.profile()
    lines, seconds = [], {}
    for points in POINTS:
        started = time.perf_counter()
        halving = main.halving(points - 1)
        seconds[points] = time.perf_counter() - started
        lines.append(f"| {points} | {share(halving)} | {share(main.midpoint(points))} | "
                     f"{share(main.gauss_legendre(points))} | {seconds[points]:.2f} |")
    per_point = seconds[POINTS[-1]] / POINTS[-1]
    default, in_a_second = salience.DEFAULT_STEPS, max(1, int(1.0 / per_point) - 1)  # a slow machine: 1 step
    choices = {
        f"the page: halving, {default} steps": lambda path: path.halving(default),
        f"halving, {in_a_second} steps (1 s)": lambda path: path.halving(in_a_second),
        f"midpoint, {default + 1} points": lambda path: path.midpoint(default + 1),
        f"midpoint, {2 * default} points": lambda path: path.midpoint(2 * default),
        "pad baseline (halving)": lambda path: path.halving(default, baseline="pad"),
        "logit as f (halving)": lambda path: path.halving(default, measure="logit"),
    }
    rows, over, largest = [], dict.fromkeys(choices, 0), dict.fromkeys(choices, 0.0)
    for text in TEXTS:
        path, cells = Path(inspector, text), []
        for choice, measured in choices.items():
            gap, change = measured(path)
            over[choice] += abs(gap) > 0.05 * abs(change)
            largest[choice] = max(largest[choice], abs(gap / change))
            cells.append(f"{abs(gap / change):.1%}")
        words = text.split()
        rows.append(f"| “…{' '.join(words[-5:])}” | {path.traced.num_tokens} | {path.target_text!r} | "
                    f"{path.change:+.2f} | " + " | ".join(cells) + " |")
    counts = "; ".join(f"{choice}: {over[choice]} of {len(TEXTS)}, the largest {largest[choice]:.1%}"
                       for choice in choices)
    return "\n".join([
        "## Integrated gradients: completeness against time",
        "",
        f"`{COMMAND}` on {machine_line()}; {MODEL}, the baseline the page uses (the first token, then the "
        "vocabulary's mean embedding), the top prediction's log-probability (what the page explains).",
        "",
        f"**The 32-token text of `bench causes`** (“{TEXTS[0]}”): the integrand (the sum over tokens of "
        f"gradient x (input - baseline)) sampled at {PROFILE} evenly spaced points along the path runs from "
        f"{float(profile.min()):+.1f} to {float(profile.max()):+.1f}, changing sign "
        f"{int((np.diff(np.sign(profile)) != 0).sum())} times. The gap (of the change) at each number of points "
        "read: the page's rule (the trapezoid on pieces, the worst halved in rounds of "
        f"{salience.ROUND}; the first batch cuts the path into {salience.FIRST_PIECES}), the midpoint rule and "
        "Gauss-Legendre:",
        "",
        "| path points | the page's rule: gap | midpoint rule gap | Gauss-Legendre gap | the page's rule: time (s) |",
        "|---:|---:|---:|---:|---:|",
        *lines,
        "",
        f"One path point (a forward and a backward of the text) costs {per_point * 1e3:.0f} ms here with the "
        f"page's rounds, so 1 s buys about {in_a_second + 1} points ({in_a_second} pieces): the second column "
        f"of the table below shows what the page's rule leaves at that many. The default's {default + 1} points "
        f"cost about {per_point * (default + 1):.1f} s.",
        "",
        f"**{len(TEXTS)} texts at the default {default} steps**: f(input) - f(baseline), then the gap's share of it "
        "for the page's rule and choices, the same rule stopped at the pieces 1 s buys, the midpoint rule at the "
        "same cost as the default and at twice it (the page's earlier default), and the page's rule with the pad "
        "token repeated as the baseline or the logit as f:",
        "",
        "| text | tokens | target | change | " + " | ".join(choices) + " |",
        "|---|---:|---|---:|" + "---:|" * len(choices),
        *rows,
        "",
        f"Gaps over 5% of the change, {counts}. The integrand is flat over most of the path and swings hard "
        "over short stretches (where the model's attention shifts), which even points step over; the page's "
        "rule knows each piece's error on the sum exactly (every point's forward also gives f there) and "
        "halves the worst. A logit also moves with shifts every token shares, which leave the prediction as it "
        "is, so its change can be a small difference of large swings; repeating one pad token puts the start of "
        "the path where attention can flip abruptly. The page shows the gap and its share beside the scores; its "
        "first map comes from the first batch in under a second and sharpens as the rest are read (see "
        "`bench causes`).",
    ])
