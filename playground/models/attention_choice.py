"""Which attention implementation a model family is loaded with: sdpa where the family has it, else eager.

transformers refuses an implementation a family lacks ("Gemma2ForCausalLM does not support ... sdpa yet"),
and every family has eager. The choice is made from the config before loading, so the name in the store's
cache key is the implementation really used (a family without sdpa shares one eager copy with the
attention maps, instead of two).
"""

from __future__ import annotations

from typing import Any


def model_class_for(auto_class: Any, config: Any) -> type | None:
    """The class ``auto_class`` builds for ``config``; None for a family transformers does not know
    (remote code), which is then left to transformers' own choice and message."""
    mapping = getattr(auto_class, "_model_mapping", None)
    try:
        return mapping[type(config)] if mapping is not None else None
    except KeyError:
        return None


def supported_attention(model_class: type | None, wanted: str) -> str:
    """``wanted``, or eager where ``model_class`` does not implement it."""
    if model_class is None or wanted == "eager":
        return wanted
    supports = {"sdpa": "_supports_sdpa", "flex_attention": "_supports_flex_attn"}.get(wanted)
    if supports is not None and not getattr(model_class, supports, False):
        return "eager"
    return wanted
