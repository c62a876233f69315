"""What a model's forward accepts, checked once per model class."""

from __future__ import annotations

import inspect
from functools import lru_cache
from typing import Any


def last_position_only(model: Any) -> dict[str, int]:
    """Keyword arguments that make the LM head score the last position only, where the model can
    (most causal LMs can): a prefill or a traced pass needs no scores for the positions before."""
    return {"logits_to_keep": 1} if _takes_logits_to_keep(type(model)) else {}


@lru_cache(maxsize=64)
def _takes_logits_to_keep(model_class: type) -> bool:
    """Per model class, once: inspecting a signature on every prefill cost more than the check saves."""
    return "logits_to_keep" in inspect.signature(model_class.forward).parameters
