"""ZeroGPU support: on a ZeroGPU Space, model-running events borrow a GPU through ``spaces.GPU``.

The ``spaces`` package exists only on Hugging Face Spaces, so its import is guarded and this is a
no-op everywhere else (a laptop, a classroom server, a Space with a dedicated GPU).
"""

from __future__ import annotations

import functools
import logging
import os
from typing import Any

import gradio as gr

from tabs.shared.queues import GPU_QUEUES

log = logging.getLogger(__name__)


def on_zero_gpu() -> bool:
    """The variable a ZeroGPU Space sets (the same test Gradio itself uses)."""
    return os.environ.get("SPACES_ZERO_GPU") == "true"


def attach(app: gr.Blocks, duration: int = 120) -> int:
    """Wrap each model-running event of ``app`` in ``spaces.GPU``; returns how many were wrapped."""
    if not on_zero_gpu():
        return 0
    try:
        import spaces  # type: ignore[import-not-found]
    except ImportError:
        log.warning("SPACES_ZERO_GPU is set but the 'spaces' package is missing: running on CPU.")
        return 0
    wrapped = 0
    for block_fn in app.fns.values():
        if block_fn.fn is not None and block_fn.concurrency_id in GPU_QUEUES:
            block_fn.fn = spaces.GPU(duration=duration)(named(block_fn.fn))
            wrapped += 1
    log.info("ZeroGPU: %d events borrow a GPU for up to %d s each.", wrapped, duration)
    return wrapped


def named(fn: Any) -> Any:
    """``fn`` with a name: ``spaces.GPU`` reads a handler's ``__name__``, and a handler bound with
    ``functools.partial`` (the tabs bind their views that way) has none of its own; it takes the inner
    function's. A partial stays a partial, so a generator handler is still seen as one."""
    if isinstance(fn, functools.partial) and not hasattr(fn, "__name__"):
        inner = fn.func
        fn.__name__ = getattr(inner, "__name__", "handler")
        fn.__qualname__ = getattr(inner, "__qualname__", fn.__name__)
        fn.__module__ = getattr(inner, "__module__", __name__)
    return fn
