"""Which accelerator this process can use, and a one-line description of it for the page header."""

from __future__ import annotations

import os
from typing import Literal

Device = Literal["cpu", "cuda"]


def detect_device() -> str:
    """``PLAYGROUND_DEVICE`` if set (``cpu`` forces the CPU on a GPU machine), else CUDA when present."""
    chosen = os.environ.get("PLAYGROUND_DEVICE", "").strip().lower()
    if chosen:
        return chosen
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def device_kind(device: str) -> Device:
    """``cuda`` for any CUDA device (``cuda``, ``cuda:1``), else ``cpu``.

    What picks dtypes and quantization methods. Callers pass the one decision (``Settings.device``,
    or :func:`detect_device` in a worker) rather than asking torch themselves, so ``PLAYGROUND_DEVICE=cpu``
    on a GPU machine means the CPU everywhere.
    """
    return "cuda" if device.strip().lower().startswith("cuda") else "cpu"


def describe(device: str) -> str:
    """'NVIDIA H100 80GB HBM3 (79 GiB), CUDA 12.8' or 'CPU only: 2 cores (no GPU found)'."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        properties = torch.cuda.get_device_properties(0)
        return f"{properties.name} ({properties.total_memory / 2**30:.0f} GiB), CUDA {torch.version.cuda}"
    gpu_note = " (no GPU found)" if not torch.cuda.is_available() else " (GPU present, PLAYGROUND_DEVICE=cpu)"
    return f"CPU only: {os.cpu_count()} cores{gpu_note}"
