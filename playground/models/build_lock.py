"""The one process-wide lock transformers needs: around building a model, never around the rest.

transformers' ``from_pretrained`` of a *model* swaps process-wide state while it builds it:
``no_init_weights`` replaces torch's init functions and ``PreTrainedModel.init_weights``,
``no_tie_weights`` replaces ``PreTrainedModel.tie_weights``, and a dtype sets torch's default
dtype, each put back on the way out. Two model builds that overlap put back each other's
replacements: with loads in two threads (two tabs opening at once) models came back with
``lm_head.weight`` "MISSING" and random weights, and later loads stayed broken. So model
builds take turns here, whichever models they are.

Everything else runs outside this lock: resolving a name to its files (the embedded GGUF's
one-time preparation, a local folder, a Hub id) and loading tokenizers and configs, which
swap none of that state. Resolving transformers' lazy Auto class attributes is serialised
too, as it was when the race was seen. One load per key is the store's own business.

The lock covers the whole ``from_pretrained`` call because transformers offers no public seam
between fetching and building, so a Hub model's weights are downloaded before it, outside the lock
(:mod:`playground.models.prefetch`): other model builds do not wait for a download.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager, nullcontext
from types import MappingProxyType
from typing import Any

AUTO_CLASSES = MappingProxyType({
    "hf-tokenizer": "AutoTokenizer",
    "causal-lm": "AutoModelForCausalLM",
    "encoder": "AutoModel",
    "seq2seq-lm": "AutoModelForSeq2SeqLM",
    "reward-model": "AutoModelForSequenceClassification",
    "config": "AutoConfig",
})
MODEL_KINDS = frozenset({"causal-lm", "encoder", "seq2seq-lm", "reward-model"})
"""The kinds whose ``from_pretrained`` builds a torch model, and so needs the lock."""

_BUILD_LOCK = threading.RLock()


def auto_class_for(kind: str) -> Any:
    """transformers' Auto class for ``kind``, its lazy attribute resolved under the lock."""
    with _BUILD_LOCK:
        import transformers

        return getattr(transformers, AUTO_CLASSES[kind])


def build_lock(kind: str) -> AbstractContextManager[Any]:
    """What to hold around ``from_pretrained`` for ``kind``: the lock for a model, nothing otherwise."""
    return _BUILD_LOCK if kind in MODEL_KINDS else nullcontext()
