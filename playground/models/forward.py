"""What a model's forward accepts, checked once per model class."""

from __future__ import annotations

import inspect
from functools import lru_cache
from typing import Any


def last_position_only(model: Any) -> dict[str, int]:
    """Keyword arguments that make the LM head score the last position only, where the model can
    (most causal LMs can): a prefill or a traced pass needs no scores for the positions before."""
    return {"logits_to_keep": 1} if _takes(type(model), "logits_to_keep") else {}




def without_router_logits(model: Any) -> dict[str, bool]:
    """Keyword arguments that keep a mixture-of-experts model from computing its load-balancing loss: a
    training loss, and one that fails on a decode step (one token's router logits against the whole
    sequence's mask) when the config asks for router logits, as TRL's trainer sets it for training."""
    config = getattr(model, "config", None)  # a config field of every MoE family; a PeftModel passes it on
    return {"output_router_logits": False} if hasattr(config, "output_router_logits") else {}


@lru_cache(maxsize=256)
def _takes(model_class: type, argument: str) -> bool:
    """Per model class, once: inspecting a signature on every prefill cost more than the check saves."""
    return argument in inspect.signature(model_class.forward).parameters
