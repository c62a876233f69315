"""LLM Playground: the Gradio app. ``python app.py --help`` lists the options.

``build_app()`` returns the Blocks without launching, for tests and for ``gradio app.py``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import replace
from pathlib import Path

import gradio as gr

from playground.core.device import describe
from playground.core.errors import PlaygroundError, UnknownModelError
from playground.core.openmp import can_release_openmp_workers
from playground.core.paths import ASSETS
from playground.core.queues import BATCH_KV_TOKENS, BATCH_ROWS, GENERATIONS_PER_MODEL, WAITING_PER_MODEL
from playground.core.settings import WEIGHTS_DTYPES, Settings
from playground.models.prepacked import prepacking_available
from playground.models.registry import resolve
from playground.workspace import Workspace
from tabs import rag, tokenizer
from tabs.attention import page as attention
from tabs.causes import page as causes
from tabs.finetune import page as finetune
from tabs.inside import page as inside
from tabs.pretrain import page as pretrain
from tabs.prompt_lab import page as prompt_lab
from tabs.quantization import page as quantization
from tabs.shared import zerogpu
from tabs.shared.queues import (
    DEFAULT_CONCURRENCY,
    GIL_SWITCH_SECONDS,
    GRADIO_ANALYTICS_EVERY,
    QUEUE_MAX_SIZE,
    WORKER_THREADS,
)

TITLE = "LLM Playground"
TRUST_REMOTE_CODE_WARNING = ("trust_remote_code is on: a Hub model's own Python code runs on this server "
                             "when it loads. Load only models you trust.")
TABS = (("Tokenizer", "tokenizer", tokenizer), ("Attention", "attention", attention),
        ("Inside the model", "inside", inside), ("What causes it", "causes", causes),
        ("Prompt lab", "prompt-lab", prompt_lab), ("Quantization", "quantization", quantization),
        ("Fine-tuning", "finetune", finetune), ("Pre-training", "pretrain", pretrain), ("RAG", "rag", rag))
"""Title, id and module of each tab, in page order; a module's ``build(ws, app)`` lays it out."""


def header_markdown(settings: Settings) -> str:
    """Title, default model, hardware, and the warnings an operator's choices call for."""
    lines = [f"# {TITLE}", "See, poke and teach how large language models work. "
             f"Default model: `{settings.default_model}` · running on {describe(settings.device)}"
             f"{'' if settings.weights_dtype == 'float32' else f' · shared weights in {settings.weights_dtype}'}."]
    if settings.demo:
        lines.append(f"Demo mode: fine-tuning jobs are capped at {settings.limits.train_steps} steps and uploads at "
                     f"{settings.limits.upload_mb} MB.")
    if settings.trust_remote_code:
        lines.append(f"⚠️ **{TRUST_REMOTE_CODE_WARNING}**")
    return "\n\n".join(lines)


def describe_server(app: gr.Blocks, settings: Settings) -> dict:
    """JSON-friendly settings of a built app: device, limits, and each public endpoint's concurrency."""
    endpoints = {}
    for fn in app.fns.values():
        if fn.api_name and fn.api_visibility == "public":
            shared = str(fn.concurrency_id)
            endpoints[fn.api_name] = {
                "limit": DEFAULT_CONCURRENCY if fn.concurrency_limit == "default" else fn.concurrency_limit,
                "id": None if shared.isdigit() else shared}  # Gradio numbers the ids it makes itself
    return {"device": describe(settings.device), "demo": settings.demo, "weights_dtype": settings.weights_dtype,
            "prepacked_weights": settings.prepacked_weights and settings.device == "cpu" and prepacking_available(),
            "gil_switch_seconds": sys.getswitchinterval(),
            "releases_openmp_workers": can_release_openmp_workers(),
            "limits": {"upload_mb": settings.limits.upload_mb, "train_steps": settings.limits.train_steps},
            "queue": {"max_size": QUEUE_MAX_SIZE, "default_limit": DEFAULT_CONCURRENCY,
                      "per_model": BATCH_ROWS, "waiting_per_model": WAITING_PER_MODEL,
                      "batch": {"rows": BATCH_ROWS, "kv_tokens": BATCH_KV_TOKENS,
                                "alone_per_model": GENERATIONS_PER_MODEL},
                      "endpoints": endpoints}}


def build_app(ws: Workspace | None = None) -> gr.Blocks:
    """The whole app; every tab shares ``ws`` (models loaded once, behind locks)."""
    ws = ws or Workspace.create()
    with gr.Blocks(title=TITLE, analytics_enabled=False) as app:
        gr.Markdown(header_markdown(ws.settings), elem_id="app-header")
        for title, tab_id, module in TABS:
            with gr.Tab(title, id=tab_id):
                module.build(ws, app)

        def server_info() -> dict:
            """The device, demo limits and queue settings this server runs with (the load benchmark
            records them beside its figures)."""
            return describe_server(app, ws.settings)

        gr.api(server_info, api_name="server_info")
    app.queue(default_concurrency_limit=DEFAULT_CONCURRENCY, max_size=QUEUE_MAX_SIZE)
    zerogpu.attach(app)
    return app


def launch_options(settings: Settings | None = None) -> dict:
    """Arguments for ``launch``: look (which Gradio 6 no longer takes in ``Blocks``), upload cap, password."""
    settings = settings or Settings.from_env()
    options = {"css": (ASSETS / "style.css").read_text(encoding="utf-8"),
               "theme": gr.themes.Soft(primary_hue="indigo"),
               "max_file_size": settings.limits.upload_bytes, "max_threads": WORKER_THREADS}
    credentials = auth_from_env()
    if credentials:
        options["auth"] = credentials
        options["auth_message"] = "This LLM Playground is password-protected: ask your teacher for the login."
    return options


def auth_from_env() -> list[tuple[str, str]] | None:
    """``PLAYGROUND_AUTH="user:password[,user2:password2]"``: Gradio's login page for a classroom server."""
    raw = os.environ.get("PLAYGROUND_AUTH", "").strip()
    if not raw:
        return None
    pairs = []
    for entry in raw.split(","):
        user, separator, password = entry.strip().partition(":")
        if not separator or not user or not password:
            raise SystemExit("PLAYGROUND_AUTH must look like 'user:password' (several separated by commas).")
        pairs.append((user, password))
    return pairs


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
    parser.add_argument("--trust-remote-code", action="store_true",
                        help="let Hub models run their own Python code (env PLAYGROUND_TRUST_REMOTE_CODE=1); "
                             "only for models you trust")
    parser.add_argument("--demo", action="store_true",
                        help="demo mode for a shared server: caps training steps and upload sizes, and no "
                             "server folders as models or datasets (env PLAYGROUND_DEMO=1)")
    parser.add_argument("--dtype", choices=WEIGHTS_DTYPES, default=None,
                        help="weights of the shared models (env PLAYGROUND_DTYPE): float32 by default; bfloat16 "
                             "reads half the bytes per decode step, slightly less precise (1.44x faster on one "
                             "test VM, slower on another: see docs/benchmarks.md)")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    """The environment's settings with the command line's choices on top."""
    settings = Settings.from_env()
    if args.model:
        settings = replace(settings, default_model=args.model)
    if args.cache_dir:
        settings = replace(settings, cache_dir=args.cache_dir)
    if args.trust_remote_code:
        settings = replace(settings, trust_remote_code=True)
    if args.demo:
        settings = replace(settings, demo=True, local_paths=False)
    if args.dtype:
        settings = replace(settings, weights_dtype=args.dtype)
    return settings


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    settings = settings_from(args)
    if settings.trust_remote_code:
        logging.getLogger("playground").warning(TRUST_REMOTE_CODE_WARNING)
    try:
        resolve(settings.default_model, settings)  # checks the name; loads no weights
    except UnknownModelError as error:
        raise SystemExit(f"--model {settings.default_model!r}: {error}") from error
    try:
        workspace = Workspace.create(settings)
    except PlaygroundError as error:  # a malformed PLAYGROUND_ENDPOINTS, say: one line, not a traceback
        raise SystemExit(str(error)) from error
    for endpoint in workspace.generation.endpoints:
        logging.getLogger("playground").info("endpoint %s: %s (key %s)", endpoint.name, endpoint.base_url,
                                             "set" if endpoint.api_key else "none")
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(GRADIO_ANALYTICS_EVERY))  # read by Queue()
    app = build_app(workspace)
    sys.setswitchinterval(GIL_SWITCH_SECONDS)  # the server's threads share the GIL with the model thread
    app.launch(server_name=args.host, server_port=args.port, share=args.share, **launch_options(settings))


if __name__ == "__main__":
    main()
