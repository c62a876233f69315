"""The embedded model's original Q4_1 GGUF through llama.cpp (optional: ``llama-cpp-python``).

Wrapped to look like a transformers causal LM to the generation loop (``forward`` returning
logits and a cache handle), so greedy decoding, the repetition penalty and every measurement
are exactly the ones the other methods get.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

CONTEXT = 1024


class LlamaCppLM:
    """A llama.cpp context that answers ``forward(input_ids, past_key_values=...)`` like a model.

    llama.cpp keeps its own KV cache: ``past_key_values`` is only a marker that the prompt was
    already read, and each later call feeds just the new token.
    """

    device = torch.device("cpu")

    def __init__(self, gguf: Path, eos_token_id: int) -> None:
        from llama_cpp import Llama

        # logits_all: the measurements need every position's logits (perplexity, KL)
        self.llm = Llama(model_path=str(gguf), n_ctx=CONTEXT, n_threads=os.cpu_count(), logits_all=True,
                         verbose=False)
        self.generation_config = SimpleNamespace(eos_token_id=eos_token_id)

    def all_logits(self, ids: list[int]) -> torch.Tensor:
        """Logits at every position of ``ids`` (a fresh context each time)."""
        self._check(len(ids))
        self.llm.reset()
        self.llm.eval(ids)
        return torch.from_numpy(np.array(self.llm.scores[: len(ids)], dtype=np.float32))

    def forward(self, input_ids: torch.Tensor, past_key_values: Any = None, **_: Any) -> SimpleNamespace:
        ids = input_ids[0].tolist()
        if past_key_values is None:
            self.llm.reset()
        self._check(self.llm.n_tokens + len(ids))
        self.llm.eval(ids)
        last = np.array(self.llm.scores[self.llm.n_tokens - 1], dtype=np.float32)
        return SimpleNamespace(logits=torch.from_numpy(last)[None, None, :], past_key_values=True)

    __call__ = forward

    def _check(self, length: int) -> None:
        if length > CONTEXT:
            raise ValueError(f"llama.cpp context here holds {CONTEXT} tokens; this needs {length}.")


def gguf_weight_bytes(gguf: Path) -> int:
    """Bytes of the tensors stored in the GGUF (quantized blocks and their scales)."""
    from gguf import GGUFReader

    return int(sum(int(tensor.n_bytes) for tensor in GGUFReader(str(gguf)).tensors))
