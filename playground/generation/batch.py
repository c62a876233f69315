"""Rows decoding together: one forward pass per step for all of them (the engine's own batched step).

A decode step reads every weight of the model whether it serves one row or sixteen, so on a CPU or a
GPU alike a batch costs little more than one row. The KV cache holds every row left-padded to one
length; a mask hides the padding and each row's positions count only its own tokens, so a row computes
what it would alone (up to float rounding in a matmul of another shape). Rows join at step boundaries
(their caches are padded and stacked) and leave when they finish (their rows are dropped).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from playground.generation.kv_cache import ROOM, GrowingLayer, cache_of, growing, stacked
from playground.generation.rows import Row, accept_all, model_device
from playground.generation.steer import steered
from playground.models.forward import without_router_logits


def mergeable(cache: Any) -> bool:
    """Whether a KV cache is plain per-layer key/value tensors that rows can be stacked in.

    Sliding-window, quantized or foreign caches (llama.cpp keeps its own) are not: such models
    decode one row at a time.
    """
    from transformers.cache_utils import DynamicCache, DynamicLayer

    return isinstance(cache, DynamicCache) and all(type(layer) in (DynamicLayer, GrowingLayer)
                                                   for layer in cache.layers)


def stack_caches(caches: list[Any], masks: list[torch.Tensor], room: int = ROOM) -> tuple[Any, torch.Tensor]:
    """One cache (and mask) holding the rows of every given cache, left-padded to the longest, with
    ``room`` spare positions for the tokens to come (see :mod:`playground.generation.kv_cache`)."""
    length = max(mask.shape[1] for mask in masks)
    layers = []
    for per_layer in zip(*(cache.layers for cache in caches), strict=True):
        keys = stacked([layer.keys for layer in per_layer], length, room)
        values = stacked([layer.values for layer in per_layer], length, room)
        layers.append(GrowingLayer(keys, values, room, length=length, owned=True))
    mask = torch.cat([F.pad(m, (length - m.shape[1], 0)) for m in masks], dim=0)
    return cache_of(layers), mask


class Batch:
    """The rows of one model decoding together, and their shared KV cache."""

    def __init__(self, lm: Any) -> None:
        self.lm = lm
        self.rows: list[Row] = []
        self.cache: Any = None
        self.mask: torch.Tensor | None = None
        """``[rows, positions]``: 1 where a row has a token, 0 where it is padded."""

    def __len__(self) -> int:
        return len(self.rows)

    def join(self, newcomers: list[Row]) -> None:
        """Add prefilled rows (each with its own cache and first token chosen) to the batch."""
        if not newcomers:
            return
        device = model_device(self.lm)
        masks = [torch.ones(1, row.cached, dtype=torch.long, device=device) for row in newcomers]
        if not self.rows and len(newcomers) == 1:  # alone: adopt its cache (any type; stackable ones grow in place)
            cache = newcomers[0].cache
            self.cache, self.mask = (growing(cache) if mergeable(cache) else cache), masks[0]
        else:
            caches = ([self.cache] if self.rows else []) + [row.cache for row in newcomers]
            self.cache, self.mask = stack_caches(caches, ([self.mask] if self.rows else []) + masks)
        for row in newcomers:
            row.cache = None  # its positions now live in the batch's cache
        self.rows.extend(newcomers)

    def drop_finished(self) -> list[Row]:
        """Remove the rows that are done (finished, failed or cancelled); return them."""
        gone = [row for row in self.rows if row.done]
        if not gone:
            return []
        keep = [index for index, row in enumerate(self.rows) if not row.done]
        self.rows = [self.rows[index] for index in keep]
        if not self.rows:
            self.cache, self.mask = None, None
            return gone
        assert self.mask is not None
        index = torch.tensor(keep, dtype=torch.long, device=self.mask.device)
        self.mask = self.mask[index]
        start = int((self.mask.sum(dim=0) > 0).nonzero()[0])  # columns padded in every row left
        self.mask = self.mask[:, start:]
        for layer in self.cache.layers:
            layer.keys = layer.keys[index, :, start:, :]
            layer.values = layer.values[index, :, start:, :]
        return gone

    def step(self) -> None:
        """One forward pass for every row: feed each its newest token, let each choose its next."""
        assert self.rows and self.mask is not None
        device = model_device(self.lm)
        tokens = torch.tensor([[row.ids[-1]] for row in self.rows], dtype=torch.long, device=device)
        positions = torch.tensor([[row.cached] for row in self.rows], dtype=torch.long, device=device)
        mask = torch.cat([self.mask, torch.ones(len(self.rows), 1, dtype=torch.long, device=device)], dim=1)
        with torch.inference_mode(), steered(self.lm, [row.steer for row in self.rows]):
            output = self.lm(input_ids=tokens, attention_mask=mask, position_ids=positions,
                             past_key_values=self.cache, use_cache=True, **without_router_logits(self.lm))
        self.cache, self.mask = output.past_key_values, mask
        for row in self.rows:
            row.cached += 1
        accept_all(self.rows, output.logits[:, -1, :].float())
