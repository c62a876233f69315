"""LLM Playground: the Gradio app. ``python app.py --help`` lists the options.

``build_app()`` returns the Blocks without launching, for tests and for ``gradio app.py``.
"""

from __future__ import annotations

import argparse
import logging
import os
from dataclasses import replace
from pathlib import Path

import gradio as gr

from playground.errors import UnknownModelError
from playground.models import resolve
from playground.settings import Settings
from playground.workspace import Workspace
from tabs import attention, finetune, prompt_lab, quantization, rag, tokenizer
from tabs.common import ASSETS

TITLE = "LLM Playground"
TABS = (("Tokenizer", "tokenizer", tokenizer), ("Attention", "attention", attention),
        ("Prompt lab", "prompt-lab", prompt_lab), ("Quantization", "quantization", quantization),
        ("Fine-tuning", "finetune", finetune), ("RAG", "rag", rag))
"""Title, id and module of each tab, in page order; a module's ``build(ws, app)`` lays it out."""


def build_app(ws: Workspace | None = None) -> gr.Blocks:
    """The whole app; every tab shares ``ws`` (models loaded once, behind locks)."""
    ws = ws or Workspace.create()
    with gr.Blocks(title=TITLE, analytics_enabled=False) as app:
        gr.Markdown(f"# {TITLE}\nSee, poke and teach how large language models work. "
                    f"Default model: `{ws.settings.default_model}`.")
        for title, tab_id, module in TABS:
            with gr.Tab(title, id=tab_id):
                module.build(ws, app)
    app.queue(default_concurrency_limit=4, max_size=256)
    return app


def launch_options() -> dict:
    """Arguments for ``launch`` that Gradio 6 no longer takes in ``Blocks``."""
    return {"css": (ASSETS / "style.css").read_text(encoding="utf-8"),
            "theme": gr.themes.Soft(primary_hue="indigo")}


def _env(*names: str, default: str) -> str:
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    return default


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve the LLM Playground.")
    parser.add_argument("--host", default=_env("PLAYGROUND_HOST", "GRADIO_SERVER_NAME", default="127.0.0.1"),
                        help="interface to listen on (default 127.0.0.1; 0.0.0.0 for a network)")
    parser.add_argument("--port", type=int,
                        default=int(_env("PLAYGROUND_PORT", "GRADIO_SERVER_PORT", "PORT", default="7860")))
    parser.add_argument("--share", action="store_true", help="create a public gradio.live link")
    parser.add_argument("--model", default=None, help="default causal model: an embedded name, "
                        "a Hub id or a local folder (env PLAYGROUND_MODEL)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="where prepared models are kept (env PLAYGROUND_CACHE)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    settings = Settings.from_env()
    if args.model:
        settings = replace(settings, default_model=args.model)
    if args.cache_dir:
        settings = replace(settings, cache_dir=args.cache_dir)
    try:
        resolve(settings.default_model, settings)  # checks the name; loads no weights
    except UnknownModelError as error:
        raise SystemExit(f"--model {settings.default_model!r}: {error}") from error
    app = build_app(Workspace.create(settings))
    app.launch(server_name=args.host, server_port=args.port, share=args.share, **launch_options())


if __name__ == "__main__":
    main()
