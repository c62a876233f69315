"""Inside the model, server side: each operation against a bare forward pass in the same run.

Baseline: ``model(input_ids)`` on the shared sdpa model (every position's logits, as a plain forward
returns them). Measured uncached: the traced forward (hooks recording the residual stream, attention
inputs and heads), then each view that reads it, and the two sweeps. A 64-token text, as the issue asks.
"""

from __future__ import annotations

import argparse

import torch

from bench import machine_line
from bench.attention_bench import text_of
from playground.core.settings import Settings
from playground.internals import attribution, distribution, head_math, logit_lens
from playground.internals.tracing import trace
from playground.quantization.metrics import median_seconds
from playground.workspace import Workspace

COMMAND = "python -m bench inside --write"
MODEL = "smollm2-135m-instruct"


def run(argv: list[str]) -> str:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=64)
    args = parser.parse_args(argv)
    from tabs.inside import plots

    ws = Workspace.create(Settings.from_env())
    inside = ws.inside
    text = text_of(ws, args.tokens)
    model = ws.store.causal_lm(MODEL)
    view = inside.view(MODEL)
    tokens = ws.tokenizers.get(MODEL).encode(text)
    ids = [token.id for token in tokens]
    labels = [str(i) for i in ids]
    batch = torch.tensor([ids])
    traced = trace(view, ids, labels, len(ids))
    token = int(torch.argmax(traced.logits))

    def decode(token_id: int) -> str:
        return inside.decode(MODEL, token_id)

    def bare() -> None:
        with torch.inference_mode():
            model(input_ids=batch)

    operations = [
        ("traced forward (what every view reads)", lambda: trace(view, ids, labels, len(ids)), 5),
        ("model card (cached after the first call)", lambda: inside.model_card(MODEL), 5),
        ("next-token distribution + figure", lambda: plots.distribution_figure({**distribution.distribution(
            traced.logits, distribution.settings_for(0.8, 40, 0.9), decode).to_dict(), "last_token": "x"}
        ).to_json(), 5),
        ("one head step by step + figures", lambda: (plots.head_figure(m := head_math.head_math(
            view.parts, traced, 12, 4, len(ids) - 1)).to_json(), plots.head_vectors_figure(m).to_json()), 5),
        ("logit lens (31 rows x last 24 positions) + heatmap", lambda: plots.lens_figure(
            logit_lens.logit_lens(view.parts, traced, decode)).to_json(), 5),
        ("direct head attribution + heatmap", lambda: plots.attribution_figure({
            **attribution.direct_attribution(view.parts, traced, token), "token": "x", "num_layers": 30,
            "num_heads": 9}).to_json(), 5),
        ("knock out head 4 of layer 12 (layers 12 to 29 run again)",
         lambda: attribution.ablation_logits(view, traced, 12, 4), 5),
        ("whole page refresh: traced forward + every view", lambda: page(), 3),
        ("sweep: every head and every layer (from each layer up, a row per head)",
         lambda: attribution.sweep(view, traced, token), 1),
    ]

    def page() -> None:
        fresh = trace(view, ids, labels, len(ids))
        distribution.distribution(fresh.logits, distribution.settings_for(1.0, 0, 1.0), decode)
        head_math.head_math(view.parts, fresh, 0, 0, len(ids) - 1)
        logit_lens.logit_lens(view.parts, fresh, decode)
        attribution.direct_attribution(view.parts, fresh, token)

    baseline = median_seconds(bare, repeat=5)
    rows = [(name, median_seconds(fn, repeat=repeat, warmup=1 if repeat > 1 else 0)) for name, fn, repeat in operations]
    lines = [
        "## Inside the model: each view against a bare forward",
        "",
        f"`{COMMAND}` on {machine_line()}; {MODEL} (30 layers x 9 heads, sdpa), a {len(ids)}-token text; "
        "median of 5 runs (3 for the page, 1 for the sweep), each uncached.",
        "",
        "| operation | ms | x bare forward |",
        "|---|---:|---:|",
        f"| bare forward, `model(input_ids)` (baseline) | {baseline * 1e3:.0f} | 1.00x |",
    ]
    lines += [f"| {name} | {seconds * 1e3:.0f} | {seconds / baseline:.2f}x |" for name, seconds in rows]
    lines += ["", "Target: every view but the sweeps under 1 s at 64 tokens. The traced forward keeps only the "
              "last position's logits, and the lens reads 256 vectors per LM-head product (each product reads "
              "the whole 113 MB head). An ablation in layer L resumes from the residual stream the trace holds "
              "at L, so only layers L and up run again; the sweep batches a row per head."]
    return "\n".join(lines)
