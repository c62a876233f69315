"""Where a transformers model keeps its list of transformer blocks (families name it differently)."""

from __future__ import annotations

from typing import Any

from torch import nn

BLOCK_LISTS = ("layers", "h", "blocks", "block")
"""Llama and most families: ``model.layers``; GPT-2 and Falcon: ``transformer.h``; others ``blocks``."""


def decoder_blocks(model: Any) -> nn.ModuleList | None:
    """The model's blocks in order (None where none of the usual names holds a non-empty list)."""
    base = getattr(model, "base_model", model)
    for name in BLOCK_LISTS:
        found = getattr(base, name, None)
        if found is not None:
            return found if isinstance(found, nn.ModuleList) and len(found) else None
    return None
