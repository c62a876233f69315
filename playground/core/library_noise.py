"""Dropping the few start-up messages that optional libraries log about themselves.

torchao and bitsandbytes log at import that optional kernels are missing ("Failed to load
..._C_cutlass_90a.abi3.so", "No module named 'kernels'", "Detected no triton") and torch logs a
deprecation torchao triggers; none of them affects what this app runs (int8 weight-only, LLM.int8,
NF4), so they would only bury what an operator needs. Each filter sits on the one logger that
emits the message and matches only its text: anything else those libraries log still shows.
"""

from __future__ import annotations

import logging

NOISE: dict[str, tuple[str, ...]] = {
    "torchao": ("Failed to load ",),
    "torchao.kernel.intmm": ("Detected no triton",),
    "bitsandbytes.backends.cpu.ops": ("No module named 'kernels'",),
    "torch.utils._pytree": ("is an Enum subclass and is now natively supported",),
}


class KnownNoise(logging.Filter):
    """Refuses records whose message contains one of ``fragments``."""

    def __init__(self, fragments: tuple[str, ...]) -> None:
        super().__init__()
        self.fragments = fragments

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(fragment in message for fragment in self.fragments)


def quiet_library_noise() -> None:
    """Install the filters (idempotent: a logger gets at most one of ours)."""
    for name, fragments in NOISE.items():
        logger = logging.getLogger(name)
        if not any(isinstance(existing, KnownNoise) for existing in logger.filters):
            logger.addFilter(KnownNoise(fragments))
