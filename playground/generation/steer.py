"""Steering inside the shared batch: a vector added to one row's residual stream after one block.

A steered request decodes in its model's batch beside free ones: during each forward pass that reads
a steered row, every block some row is steered at gets a hook adding, row by row, that row's vector (zeros
for the others), at every position. The hook lives only for that pass and acts only in the thread that
registered it, so another tab's forward on the same shared model, in another thread, never sees it.
A steered row's KV cache is its own: its prompt's keys and values differ from the same prompt's unsteered
ones, so it neither reuses nor offers a kept prefix.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from playground.core.errors import InvalidInputError
from playground.models.blocks import decoder_blocks


@dataclass(frozen=True, eq=False)
class Steer:
    """``vector`` (hidden size) added to the residual stream after block ``layer``, at every position."""

    layer: int
    vector: torch.Tensor

    def check(self, lm: Any, model: str) -> None:
        """A clear message for a layer or width the model does not have."""
        blocks = decoder_blocks(lm)
        if blocks is None:
            raise InvalidInputError(f"{model}: no list of transformer blocks found, so it cannot be steered.")
        if not 0 <= self.layer < len(blocks):
            raise InvalidInputError(f"Layer {self.layer} is out of range: {model} has layers 0 to {len(blocks) - 1}.")
        hidden = lm.get_input_embeddings().weight.shape[-1]
        if self.vector.shape != (hidden,):
            raise InvalidInputError(f"The steering vector has shape {tuple(self.vector.shape)}; {model}'s residual "
                                    f"stream is {hidden} wide.")


@contextmanager
def steered(lm: Any, pushes: Sequence[Steer | None]) -> Iterator[None]:
    """During the forward pass inside, row ``i`` of the batch is pushed by ``pushes[i]`` (None: not at all)."""
    if all(push is None for push in pushes):
        yield
        return
    blocks = decoder_blocks(lm)
    assert blocks is not None  # Steer.check refused the request otherwise
    owner = threading.get_ident()
    handles = []
    try:
        for layer in sorted({push.layer for push in pushes if push is not None}):
            added = torch.stack([push.vector if push is not None and push.layer == layer
                                 else torch.zeros_like(_any_vector(pushes)) for push in pushes])[:, None, :]
            handles.append(blocks[layer].register_forward_hook(_adder(added, owner)))
        yield
    finally:
        for handle in handles:
            handle.remove()


def _any_vector(pushes: Sequence[Steer | None]) -> torch.Tensor:
    return next(push.vector for push in pushes if push is not None)


def _adder(added: torch.Tensor, owner: int) -> Any:
    """A block hook adding ``added`` (rows x 1 x hidden) to the block's output in ``owner``'s thread."""
    def hook(module: Any, args: tuple, output: Any) -> Any:
        if threading.get_ident() != owner:
            return None
        hidden = output[0] if isinstance(output, tuple) else output
        pushed = hidden + added.to(device=hidden.device, dtype=hidden.dtype)
        return (pushed, *output[1:]) if isinstance(output, tuple) else pushed
    return hook
