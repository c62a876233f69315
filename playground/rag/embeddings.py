"""Sentence embeddings with the embedded MiniLM encoder (the sentence-transformers recipe)."""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from playground.core.keyed_cache import LRUCache
from playground.core.settings import DEFAULT_ENCODER_MODEL
from playground.models.store import ModelStore

EMBEDDER = DEFAULT_ENCODER_MODEL
MAX_WORD_PIECES = 256
"""all-MiniLM-L6-v2 was trained on 256 word pieces; longer chunks are cut there when embedded."""
BATCH = 32


class Embedder:
    """Mean-pooled, L2-normalised MiniLM vectors; repeated texts come from a cache (a class
    indexing the same shipped documents embeds them once)."""

    def __init__(self, store: ModelStore, model: str = EMBEDDER, cache_size: int = 20_000) -> None:
        self.store = store
        self.model = model
        self._cache: LRUCache[np.ndarray] = LRUCache(cache_size)

    @property
    def dimensions(self) -> int:
        return int(self.store.config(self.model).hidden_size)

    def embed(self, texts: list[str]) -> np.ndarray:
        """One row per text, unit length, float32."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        keys = [hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest() for text in texts]
        vectors = {i: v for i, key in enumerate(keys) if (v := self._cache.peek(key)) is not None}
        missing = [i for i in range(len(texts)) if i not in vectors]
        for begin in range(0, len(missing), BATCH):
            batch = missing[begin:begin + BATCH]
            for index, vector in zip(batch, self._encode([texts[i] for i in batch]), strict=True):
                vectors[index] = vector
                self._cache.put(keys[index], vector)
        return np.stack([vectors[i] for i in range(len(texts))])

    def _encode_all(self, texts: list[str]) -> np.ndarray:
        """Encode in batches, bypassing the cache (benchmarks time the encoder itself)."""
        return np.concatenate([self._encode(texts[i:i + BATCH]) for i in range(0, len(texts), BATCH)])

    def _encode(self, texts: list[str]) -> np.ndarray:
        tokenizer = self.store.hf_tokenizer(self.model)
        encoder = self.store.encoder(self.model)
        batch = tokenizer(texts, padding=True, truncation=True, max_length=MAX_WORD_PIECES, return_tensors="pt")
        batch = batch.to(encoder.device)
        with torch.inference_mode():
            hidden = encoder(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1).cpu().numpy().astype(np.float32)
