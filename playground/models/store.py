"""The shared store of loaded models and tokenizers: one load per key, shared by every user.

What a name means is decided in :mod:`playground.models.registry`; this module loads and caches.
"""

from __future__ import annotations

import threading
from contextlib import nullcontext
from typing import Any, Literal

from playground.core.hub import hub_unreachable
from playground.core.keyed_cache import KeyedCache
from playground.core.progress import ProgressFn
from playground.core.settings import Settings
from playground.models.attention_choice import model_class_for, supported_attention
from playground.models.build_lock import MODEL_KINDS, auto_class_for, build_lock
from playground.models.prefetch import prefetch_weights
from playground.models.registry import (
    EMBEDDED_MODELS,
    ModelSource,
    hub_kwargs,
    is_causal,
    load_error,
    resolve,
)

PARTS = ("tokenizer", "model")


class ModelStore:
    """Loaded models and tokenizers, shared by every user of one app behind per-key locks.

    A slow load (a download, a dequantization) holds up only callers of its own key; model
    builds alone take turns process-wide (see :mod:`playground.models.build_lock`).

    Nothing here is mutated after loading: a caller that needs another configuration (for
    example eager attention) asks for it by key and gets its own copy.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._cache: KeyedCache[Any] = KeyedCache()
        self._preparing = {(name, part): threading.Lock() for name in EMBEDDED_MODELS for part in PARTS}
        """One preparation at a time per embedded model and part: two keys needing the same
        dequantized folder at once (sdpa and eager, say) wait for one build, not do two."""

    def get_or_load(self, key: tuple[str, ...], load: Any) -> Any:
        return self._cache.get_or_load(key, load)

    def _from_pretrained(self, kind: str, name: str, part: Literal["tokenizer", "model"],
                         progress: ProgressFn | None, **kwargs: Any) -> Any:
        """Resolve ``name`` and load it with the transformers Auto class for ``kind``, once.

        Every failure becomes an :class:`UnknownModelError` that says what was tried.
        """

        def load() -> Any:
            return self._place(self._load_now(kind, name, part, progress, **kwargs))

        variant = tuple(str(value) for value in kwargs.values())
        return self.get_or_load((kind, name.strip(), *variant), load)

    def _load_now(self, kind: str, name: str, part: Literal["tokenizer", "model"],
                  progress: ProgressFn | None, **kwargs: Any) -> Any:
        """Find the files, then build; only the build of a model takes the process-wide lock."""
        import torch

        auto_class = auto_class_for(kind)
        source = self._source(name, part, progress)
        from_hub = not (source.is_local or self.settings.offline)  # offline mode reads the cache and says so
        hub_down = hub_unreachable() if from_hub else None
        if from_hub and not hub_down and kind in MODEL_KINDS:
            if progress:
                progress(0.3, f"Fetching {source.name}'s weights from the Hub (or the local cache)")
            prefetch_weights(source.location)  # outside the build lock: other models' builds go on meanwhile
        if progress:
            progress(0.6, f"Loading {source.name}" + (" from the local cache (the Hub does not answer)"
                                                      if hub_down else ""))
        try:
            with build_lock(kind):
                loaded = auto_class.from_pretrained(source.location, **kwargs,
                                                    **hub_kwargs(source, self.settings, hub_down,
                                                                 builds_model=kind in MODEL_KINDS))
        except Exception as error:  # transformers raises many types; all mean "not loadable"
            raise load_error(source, self.settings, error, hub_down) from error
        return loaded.eval() if isinstance(loaded, torch.nn.Module) else loaded

    def _source(self, name: str, part: Literal["tokenizer", "model"], progress: ProgressFn | None) -> ModelSource:
        """Where ``name``'s files are, preparing an embedded model's once; no other load waits for it."""
        with self._preparing.get((name.strip(), part), nullcontext()):
            return resolve(name, self.settings, part, progress)

    def _place(self, loaded: Any) -> Any:
        """Move a shared model to the app's device (the GPU when there is one), or on a CPU prepack its
        Linear weights for oneDNN (see :mod:`playground.models.prepacked`); tokenizers stay put."""
        import torch

        if not isinstance(loaded, torch.nn.Module):
            return loaded
        if self.settings.device != "cpu":
            return loaded.to(self.settings.device)
        if self.settings.prepacked_weights:
            from playground.models.prepacked import prepack_linears

            prepack_linears(loaded)
        return loaded

    def private_causal_lm(self, name: str, **kwargs: Any) -> Any:
        """A fresh causal LM that no one else holds (a quantized copy, say): not cached, so it
        is freed when the caller drops it. It is built under the build lock like any model."""
        return self._load_now("causal-lm", name, "model", None, **kwargs)

    def private_reward_model(self, name: str, **kwargs: Any) -> Any:
        """A fresh sequence classifier with one output (a reward model's scalar head) over ``name``'s
        weights, not cached: the head of a causal LM's folder starts random, a reward run's is its own."""
        return self._load_now("reward-model", name, "model", None, num_labels=1, **kwargs)

    def hf_tokenizer(self, name: str, progress: ProgressFn | None = None) -> Any:
        """A transformers tokenizer for ``name`` (embedded, folder or Hub id)."""
        return self._from_pretrained("hf-tokenizer", name, "tokenizer", progress)

    def causal_lm(self, name: str, attn_implementation: str = "sdpa",
                  progress: ProgressFn | None = None) -> Any:
        """A causal LM in eval mode, its weights in the server's dtype; each attention implementation
        is its own cached copy (eager where the family lacks the one asked for)."""
        implementation = self.attention_implementation("causal-lm", name, attn_implementation)
        return self._from_pretrained("causal-lm", name, "model", progress,
                                     attn_implementation=implementation, dtype=self.settings.weights_dtype)

    def encoder(self, name: str, attn_implementation: str = "sdpa",
                progress: ProgressFn | None = None) -> Any:
        """A bidirectional encoder (BERT-style) in eval mode, without a task head."""
        implementation = self.attention_implementation("encoder", name, attn_implementation)
        return self._from_pretrained("encoder", name, "model", progress, attn_implementation=implementation)

    def attention_implementation(self, kind: str, name: str, wanted: str) -> str:
        """``wanted`` where ``name``'s family implements it, else eager (see
        :mod:`playground.models.attention_choice`)."""
        if wanted == "eager":
            return wanted
        return supported_attention(model_class_for(auto_class_for(kind), self.config(name)), wanted)

    def seq2seq_lm(self, name: str, progress: ProgressFn | None = None) -> Any:
        """An encoder-decoder (T5-style) in eval mode, for the model card; nothing here generates with one."""
        return self._from_pretrained("seq2seq-lm", name, "model", progress)

    def config(self, name: str) -> Any:
        """The model's config alone (no weights), to decide how to load it."""
        return self._from_pretrained("config", name, "model", None)

    def is_causal(self, name: str) -> bool:
        """Whether ``name`` writes text left to right (a decoder) rather than reading it whole."""
        spec = EMBEDDED_MODELS.get(name.strip())
        if spec is not None:
            return spec.kind == "causal-lm"
        return is_causal(self.config(name))
