"""Integrated gradients: how many path points a small completeness gap needs on this model, and what they cost.

The issue asked for salience under 1 s for a 32-token text and a completeness gap (the scores' sum against
f(input) - f(baseline)) under 5% at the default steps. Two measurements, on the neutral baseline the page uses:

- On the 32-token text of ``bench causes``: the gap of the midpoint rule (the page's) and of Gauss-Legendre
  (the best rule for smooth integrands) at the same numbers of points, and what the points cost.
- On six texts: the gap at the default steps for the page's choices (f the target's log-probability, the
  baseline the vocabulary's mean embedding after the first token) against the earlier ones (the pad token
  after the first; the logit), which is why the page made them.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

from bench import machine_line
from bench.causes_bench import MODEL, prompt_pair
from playground.core.settings import Settings
from playground.internals import salience
from playground.internals.inspector import ModelInspector
from playground.internals.tracing import ModelView, Run, Trace
from playground.workspace import Workspace

COMMAND = "python -m bench ig --write"
POINTS = (4, 8, 16, 32, 64, 128)
PROFILE = 65
"""Points at which the integrand's swing is sampled (evenly, ends included)."""
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
)
"""Texts of 17 to 32 tokens, each explaining its top prediction."""
CHOICES = {"mean embedding, log-probability (the page's)": ("mean", "log-probability"),
           "pad baseline, log-probability": ("pad", "log-probability"),
           "pad baseline, logit (the page's first)": ("pad", "logit")}
"""Baseline and f, as compared over the six texts."""
MEASURES: dict[str, Callable[[torch.Tensor, int], torch.Tensor]] = {
    "log-probability": lambda logits, target: torch.log_softmax(logits.float(), dim=-1)[:, target],
    "logit": lambda logits, target: logits[:, target],
}


def pad_baseline(inspector: ModelInspector, view: ModelView, traced: Trace) -> torch.Tensor:
    """The page's earlier baseline: the first token, then the pad (or end-of-text) token repeated."""
    tokenizer = inspector.store.hf_tokenizer(MODEL)
    neutral = next(int(i) for i in (tokenizer.pad_token_id, tokenizer.eos_token_id) if i is not None)
    return view.block_input([traced.ids[0]] + [neutral] * (traced.num_tokens - 1))


class Path:
    """One text's straight path from a baseline (the page's unless told) to its embeddings, and f along it."""

    def __init__(self, inspector: ModelInspector, text: str) -> None:
        self.view, self.traced = inspector.view(MODEL), inspector.trace(text, MODEL)
        self.target = inspector.token_id(text, MODEL, None)
        self.target_text = inspector.decode(MODEL, self.target)
        self.baselines = {"mean": salience.neutral_baseline(self.view, self.traced),
                          "pad": pad_baseline(inspector, self.view, self.traced)}
        self.baseline = self.baselines["mean"]
        self.embeddings = self.traced.residual[0].detach().clone()

    def f(self, rows: torch.Tensor, measure: str, grad: bool = True) -> torch.Tensor:
        logits = self.view.resume(self.traced, 0, rows, Run(), grad=grad)
        return MEASURES[measure](logits, self.target)

    def change(self, measure: str) -> float:
        ends = self.f(torch.stack([self.baseline, self.embeddings]), measure, grad=False)
        return float(ends[1] - ends[0])

    def integrand(self, alphas: np.ndarray, measure: str) -> torch.Tensor:
        """Per point and token: the gradient of f x (input - baseline)."""
        delta, rows = (self.embeddings - self.baseline).double(), []
        for chunk in torch.tensor(alphas, dtype=self.embeddings.dtype).split(salience.CHUNK):
            path = (self.baseline[None] + chunk[:, None, None] * (self.embeddings - self.baseline)[None])
            path.requires_grad_(True)
            (gradients,) = torch.autograd.grad(self.f(path, measure).sum(), path)
            rows.append((gradients.double() * delta[None]).sum(-1))
        return torch.cat(rows)

    def midpoint(self, points: int, measure: str) -> float:
        return float(self.integrand((np.arange(points) + 0.5) / points, measure).mean(0).sum())

    def gauss_legendre(self, points: int, measure: str) -> float:
        nodes, weights = np.polynomial.legendre.leggauss(points)
        return float((self.integrand((nodes + 1) / 2, measure) * torch.tensor(weights / 2)[:, None]).sum())


def share(gap: float, change: float) -> str:
    return f"{gap:+.2f} ({abs(gap / change):.1%})"


def run(argv: list[str]) -> str:
    parser = argparse.ArgumentParser(prog="python -m bench ig")
    parser.parse_args(argv)
    inspector = Workspace.create(Settings.from_env()).inside
    main = Path(inspector, TEXTS[0])
    measure = "log-probability"
    change = main.change(measure)
    profile = main.integrand(np.linspace(0, 1, PROFILE), measure).sum(-1)
    lines, seconds = [], {}
    for points in POINTS:
        started = time.perf_counter()
        midpoint = main.midpoint(points, measure)
        seconds[points] = time.perf_counter() - started
        gauss = main.gauss_legendre(points, measure)
        lines.append(f"| {points} | {share(midpoint - change, change)} | {share(gauss - change, change)} | "
                     f"{seconds[points]:.2f} |")
    per_point = seconds[POINTS[-1]] / POINTS[-1]
    default = salience.SalienceRequest("text", MODEL).steps
    rows, over, largest = [], dict.fromkeys(CHOICES, 0), dict.fromkeys(CHOICES, 0.0)
    for text in TEXTS:
        path, cells = Path(inspector, text), []
        for choice, (baseline, name) in CHOICES.items():
            path.baseline = path.baselines[baseline]
            measured = path.change(name)
            gap = path.midpoint(default, name) - measured
            over[choice] += abs(gap) > 0.05 * abs(measured)
            largest[choice] = max(largest[choice], abs(gap / measured))
            cells.append(f"{measured:+.2f} | {share(gap, measured)}")
        words = text.split()
        rows.append(f"| “…{' '.join(words[-5:])}” | {path.traced.num_tokens} | {path.target_text!r} | "
                    + " | ".join(cells) + " |")
    counts = "; ".join(f"{choice}: {over[choice]} of {len(TEXTS)}, the largest {largest[choice]:.1%}"
                       for choice in CHOICES)
    return "\n".join([
        "## Integrated gradients: completeness against time",
        "",
        f"`{COMMAND}` on {machine_line()}; {MODEL}, the baseline the page uses (the first token, then the "
        "vocabulary's mean embedding), the top prediction's log-probability (what the page explains).",
        "",
        f"**The 32-token text of `bench causes`** (“{TEXTS[0]}”): f(input) - f(baseline) = {change:+.2f}. The "
        f"integrand (the sum over tokens of gradient x (input - baseline)) sampled at {PROFILE} evenly spaced "
        f"points along the path runs from {float(profile.min()):+.1f} to {float(profile.max()):+.1f}, changing "
        f"sign {int((np.diff(np.sign(profile.numpy())) != 0).sum())} times.",
        "",
        "| path points | midpoint rule gap (of the change) | Gauss-Legendre gap | midpoint time (s) |",
        "|---:|---:|---:|---:|",
        *lines,
        "",
        f"One path point (a forward and a backward of the text, in batches of {salience.CHUNK}) costs "
        f"{per_point * 1e3:.0f} ms here, so 1 s buys about {int(1.0 / per_point)} points, and at that many "
        "neither rule's gap is reliably under 5%: the errors change sign from one count to the next, and "
        "Gauss-Legendre, exact for smooth integrands, is no better, since this one is not smooth at that scale.",
        "",
        f"**Six texts at the default {default} steps**: f(input) - f(baseline), then the gap and its share of it, "
        "for the page's baseline (the first token, then the vocabulary's mean embedding) and f (the target's "
        "log-probability), against the pad token as the baseline and the logit as f:",
        "",
        "| text | tokens | target | mean, log-prob: change | its gap | pad, log-prob: change | its gap "
        "| pad, logit: change | its gap |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        f"Gaps over 5% of the change, {counts}. A logit also moves with shifts every token shares, which leave "
        "the prediction as it is, so its change from the baseline can be a small difference of large swings; "
        "the log-probability's is what the prediction is. Repeating one pad token puts the start of the path "
        "where the model's attention can flip abruptly (a near-jump the steps cannot resolve); the mean "
        f"embedding is no token in particular. The page keeps {default} midpoint steps as its default and shows "
        "the gap and its share beside the scores; its first map comes from 4 path points in under a second and "
        "sharpens as the rest are read (see `bench causes`).",
    ])
