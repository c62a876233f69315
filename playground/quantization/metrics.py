"""Measurement helpers shared by benchmarks and tabs: timing, model size, quality against a reference."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterable
from typing import Any

import torch


def median_seconds(fn: Callable[[], Any], repeat: int = 7, warmup: int = 1) -> float:
    """Median wall time of ``fn`` over ``repeat`` runs after ``warmup`` untimed ones.

    The median shrugs off the odd slow run a 2-core machine produces.
    """
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def _inner_tensors(tensor: torch.Tensor) -> Iterable[torch.Tensor]:
    """The plain tensors that really hold a (possibly subclassed, quantized) tensor's data."""
    if hasattr(tensor, "__tensor_flatten__") and type(tensor) is not torch.nn.Parameter:
        names, _ = tensor.__tensor_flatten__()
        for name in names:
            yield from _inner_tensors(getattr(tensor, name))
    else:
        yield tensor


def _quant_state_tensors(parameter: torch.Tensor) -> Iterable[torch.Tensor]:
    """bitsandbytes keeps scales beside the packed weights: absmax (and a nested state for
    double quantization), code books, and 8-bit row scales (SCB)."""
    state = getattr(parameter, "quant_state", None)
    while state is not None:
        for name in ("absmax", "code", "offset"):
            value = getattr(state, name, None)
            if isinstance(value, torch.Tensor):
                yield value
        state = getattr(state, "state2", None)
    scales = getattr(parameter, "SCB", None)
    if isinstance(scales, torch.Tensor):
        yield scales


def weight_bytes(model: torch.nn.Module) -> int:
    """Bytes the model's weights really occupy, each storage counted once.

    ``get_memory_footprint`` counts nominal sizes: wrong for tensor subclasses (torchao) and
    blind to quantization scales. Tied weights (SmolLM2's embedding and output layer) share
    one storage and count once.
    """
    seen: set[tuple[str, int]] = set()
    total = 0
    tensors = [*model.parameters(), *model.buffers()]
    for tensor in tensors:
        parts = [*_inner_tensors(tensor), *_quant_state_tensors(tensor)]
        for part in parts:
            storage = part.untyped_storage()
            key = (str(part.device), storage.data_ptr())
            if key not in seen:
                seen.add(key)
                total += storage.nbytes()
    return total


def perplexity(logits: torch.Tensor, ids: torch.Tensor) -> float:
    """exp(mean negative log-likelihood) of ``ids[1:]`` under ``logits[:-1]`` (one sequence)."""
    log_probs = torch.log_softmax(logits[:-1].float(), dim=-1)
    nll = -log_probs.gather(-1, ids[1:].unsqueeze(-1)).mean()
    return math.exp(float(nll))


def kl_and_agreement(reference_logits: torch.Tensor, logits: torch.Tensor) -> tuple[float, float]:
    """Mean KL(reference || other) of next-token distributions over positions, in nats, and the
    share of positions where both pick the same top token (llama.cpp's KL-divergence table)."""
    reference = torch.log_softmax(reference_logits.float(), dim=-1)
    other = torch.log_softmax(logits.float(), dim=-1)
    kl = (reference.exp() * (reference - other)).sum(-1).clamp_min(0).mean()
    agreement = (reference.argmax(-1) == other.argmax(-1)).float().mean()
    return float(kl), float(agreement)


def first_difference(reference: list[int], other: list[int]) -> int | None:
    """Index of the first token where two generations part ways (None if one extends the other)."""
    for index, (a, b) in enumerate(zip(reference, other, strict=False)):
        if a != b:
            return index
    return None
