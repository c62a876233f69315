"""The logit lens: read the residual stream after every layer through the model's final norm and LM head.

Row 0 is the embeddings, row ``i + 1`` the stream after block ``i``; the last row is exactly the model's
own next-token logits, so the rows show when the final answer appears on the way up. Each row costs one
LM-head product (tokens x vocabulary), the price of the whole view, so only the last ``positions``
tokens are read (24 by default, so a 64-token text answers in under a second).
"""

from __future__ import annotations

from typing import Any

import torch

from playground.core.validation import whole_number
from playground.internals.layout import Parts, read_logits
from playground.internals.tracing import Trace

DEFAULT_POSITIONS = 24
"""The last 24 tokens: 31 rows of them through the LM head answer in about 0.7 s here (32 took 1.0 s,
half in the product, half in the vocabulary-wide top-k, normaliser and rank; docs/benchmarks.md)."""
TOP = 5


CHUNK = 256
"""Vectors per LM-head product: each product reads the whole head (113 MB for SmolLM2), so rows go
through it together; 256 x 49,152 logits is 50 MB at a time."""


def lens_logits(parts: Parts, trace: Trace, rows: range, positions: slice = slice(None)) -> torch.Tensor:
    """Logits (rows x tokens x vocab) that the residual ``rows`` give through the final norm and LM head."""
    stream = trace.residual[rows.start:rows.stop, positions]
    with torch.inference_mode():
        return read_logits(parts, stream).float()


def row_chunks(rows: int, width: int) -> list[range]:
    per = max(1, CHUNK // max(width, 1))
    return [range(start, min(rows, start + per)) for start in range(0, rows, per)]


def logit_lens(parts: Parts, trace: Trace, decode: Any, positions: int = DEFAULT_POSITIONS,
               top: int = TOP) -> dict[str, Any]:
    """Per row and position: the top tokens and their probabilities, and the probability (and rank) the
    row gives the model's final prediction at that position."""
    positions = whole_number("positions", positions, 1, 512, "how many of the last tokens to read")
    start = max(0, trace.num_tokens - positions)
    window = slice(start, trace.num_tokens)
    rows = parts.num_layers + 1
    final = torch.argmax(lens_logits(parts, trace, range(rows - 1, rows), window)[0], dim=-1)
    top_ids, top_probs, final_probs, final_ranks = [], [], [], []
    for chunk in row_chunks(rows, window.stop - window.start):
        logits = lens_logits(parts, trace, chunk, window)
        # probabilities only where they are read: the vocabulary-wide softmax is never materialised
        normaliser = torch.logsumexp(logits, dim=-1, keepdim=True)
        best = torch.topk(logits, top, dim=-1)
        index = final[None, :, None].expand(len(chunk), -1, 1)
        chosen = logits.gather(2, index)
        top_ids += best.indices.tolist()
        top_probs += torch.round((best.values - normaliser).exp().double(), decimals=6).tolist()
        final_probs += torch.round((chosen - normaliser)[..., 0].exp().double(), decimals=6).tolist()
        final_ranks += ((logits > chosen).sum(-1) + 1).tolist()
    texts = {token_id: decode(token_id) for token_id in {i for row in top_ids for cell in row for i in cell}}
    return {"model": trace.model, "tokens": list(trace.tokens), "positions": list(range(start, trace.num_tokens)),
            "layers": ["embeddings", *(f"layer {index}" for index in range(parts.num_layers))],
            "final_ids": final.tolist(), "final_texts": [texts.get(i) or decode(i) for i in final.tolist()],
            "top_ids": top_ids, "top_texts": [[[texts[i] for i in cell] for cell in row] for row in top_ids],
            "top_probs": top_probs, "final_probs": final_probs, "final_ranks": final_ranks}
