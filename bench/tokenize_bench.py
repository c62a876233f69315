"""Tokenizer tab, server side: request to rendered result for a 10,000-character text.

Baseline: the bare Rust/tiktoken encode of the same text in the same run. Measured: the
library's analysis (spans, bytes, counts, round trip) and the tab's whole handler (HTML
columns, table, chart) for all three embedded tokenizers.
"""

from __future__ import annotations

import argparse

from bench import machine_line
from playground.core.settings import Settings
from playground.quantization.metrics import median_seconds
from playground.workspace import Workspace

COMMAND = "python -m bench tokenize --write"


def sample_text(chars: int) -> str:
    from tabs.shared.samples import load_samples

    base = "\n".join(load_samples().values())
    return (base * (chars // len(base) + 1))[:chars]


def run(argv: list[str]) -> str:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chars", type=int, default=10_000)
    args = parser.parse_args(argv)
    ws = Workspace.create(Settings.from_env())
    text = sample_text(args.chars)
    names = ws.tokenizers.available()
    from tabs.shared import token_view
    from tabs.tokenizer import counts_figure, table_rows

    rows = []
    for name in names:
        backend = ws.tokenizers.get(name)
        bare = median_seconds(lambda: _bare_encode(backend, text))
        library = median_seconds(lambda: ws.tokenizers.tokenize(text, name))
        rows.append((name, bare, library, ws.tokenizers.tokenize(text, name).num_tokens))

    def whole_handler() -> None:
        results = [ws.tokenizers.tokenize(text, name) for name in names]
        token_view.render_grid([token_view.render_column(r, True) for r in results])
        table_rows(results)
        counts_figure(results)

    handler = median_seconds(whole_handler)
    bare_total = sum(row[1] for row in rows)
    lines = [
        "## Tokenizer: request to rendered result",
        "",
        f"`{COMMAND}` on {machine_line()}; text of {len(text):,} characters; median of 7 runs.",
        "",
        "| tokenizer | tokens | bare encode (ms) | library analysis (ms) | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {name} | {count:,} | {bare * 1e3:.1f} | {lib * 1e3:.1f} | {lib / bare:.1f}x |"
              for name, bare, lib, count in rows]
    lines += ["", f"Whole tab handler for all {len(names)} tokenizers (analysis + HTML + table + "
              f"chart): **{handler * 1e3:.0f} ms**, {handler / bare_total:.1f}x the bare encodes "
              f"together ({bare_total * 1e3:.1f} ms).", "",
              "The ratio is the per-token Python work the view needs (bytes, character spans, "
              "flags, the round trip); the encode itself stays in Rust. At this size the whole "
              "tab answers well inside a keystroke's interval, so it updates live as you type."]
    return "\n".join(lines)


def _bare_encode(backend: object, text: str) -> object:
    rust = getattr(backend, "_rust", None)
    if rust is not None:
        return rust.encode(text, add_special_tokens=True)
    return backend._encoding.encode(text, allowed_special="all")  # type: ignore[attr-defined]
