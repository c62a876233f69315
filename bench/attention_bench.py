"""Attention tab, server side: request to figure, against a bare forward with attentions.

Baseline, in the same run: ``model(input_ids, output_attentions=True)`` on the eager model.
Measured: the explorer's uncached computation (tokenize, forward, stack to numpy) plus the
main heatmap figure; and the tab's whole refresh (all views, both models for the
side-by-side) for reference.
"""

from __future__ import annotations

import argparse

import torch

from bench import machine_line
from playground.core.settings import Settings
from playground.quantization.metrics import median_seconds
from playground.workspace import Workspace

COMMAND = "python -m bench attention --write"
MODEL = "smollm2-135m-instruct"


def text_of(workspace: Workspace, tokens: int) -> str:
    """A text that is exactly ``tokens`` tokens long for the model."""
    from tabs.shared.samples import load_samples

    words = " ".join(load_samples().values()).split()
    backend = workspace.tokenizers.get(MODEL)
    text = " ".join(words * 20)
    ids = backend.encode(text)
    return text[: ids[tokens - 1].end] if len(ids) >= tokens else text


def run(argv: list[str]) -> str:
    argparse.ArgumentParser().parse_args(argv)
    from tabs.attention import plots

    ws = Workspace.create(Settings.from_env())
    model = ws.attention.eager_model(MODEL)
    rows = []
    for size in (32, 128, 256):
        text = text_of(ws, size)
        ids = torch.tensor([[token.id for token in ws.tokenizers.get(MODEL).encode(text)]])

        def bare() -> None:
            with torch.inference_mode():
                model(input_ids=ids, output_attentions=True)

        def to_figure() -> None:
            maps = ws.attention._forward(text, MODEL, 512, None)  # uncached on purpose
            plots.head_figure(maps, 0, 0).to_json()

        def all_views() -> None:
            maps = ws.attention._forward(text, MODEL, 512, None)
            for figure in (plots.head_figure(maps, 0, 0), plots.layer_figure(maps, 0),
                           plots.overview_figure(maps, "first_token"), plots.pinned_figure(maps, 1),
                           plots.rollout_figure(maps)):
                figure.to_json()

        baseline = median_seconds(bare, repeat=5)
        figure = median_seconds(to_figure, repeat=5)
        views = median_seconds(all_views, repeat=3)
        rows.append((ids.shape[1], baseline, figure, views))
    lines = [
        "## Attention: request to figure",
        "",
        f"`{COMMAND}` on {machine_line()}; {MODEL} (30 layers x 9 heads, eager attention); "
        "median of 5 runs (3 for all views).",
        "",
        "| tokens | bare forward with attentions (ms) | request to heatmap (ms) | ratio | all five views (ms) |",
        "|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {n} | {b * 1e3:.0f} | {f * 1e3:.0f} | {f / b:.2f}x | {v * 1e3:.0f} |"
              for n, b, f, v in rows]
    lines += ["", "Target: at most 1.5x the bare forward, and under 1 s at 128 tokens. Only one head's "
              "matrix is drawn at full size; a layer's heads go as 40x40 thumbnails, so what the "
              "browser receives stays bounded whatever the layer count."]
    return "\n".join(lines)
