"""Which accelerator this process can use, and a one-line description of it for the page header."""

from __future__ import annotations

import os


def detect_device() -> str:
    """``PLAYGROUND_DEVICE`` if set (``cpu`` forces the CPU on a GPU machine), else CUDA when present."""
    chosen = os.environ.get("PLAYGROUND_DEVICE", "").strip().lower()
    if chosen:
        return chosen
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def describe(device: str) -> str:
    """'NVIDIA H100 80GB HBM3 (79 GiB), CUDA 12.8' or 'CPU only: 2 cores (no GPU found)'."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        properties = torch.cuda.get_device_properties(0)
        return f"{properties.name} ({properties.total_memory / 2**30:.0f} GiB), CUDA {torch.version.cuda}"
    gpu_note = " (no GPU found)" if not torch.cuda.is_available() else " (GPU present, PLAYGROUND_DEVICE=cpu)"
    return f"CPU only: {os.cpu_count()} cores{gpu_note}"
