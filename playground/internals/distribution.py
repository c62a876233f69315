"""The next-token distribution, and how temperature, top-k and top-p reshape it before a draw.

The reshaping is transformers' own processors in ``generate``'s order (temperature, then top-k,
then top-p: see :mod:`playground.generation.sampling`), so the cut-off drawn here is the one the
Prompt lab's sampling applies. The repetition penalty is left off: it depends on a generation's history.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from playground.generation.sampling import SamplingSettings, logits_processors

SHOWN = 20
"""Tokens listed: past the 20th, even a flat distribution's bars are too thin to read."""


def settings_for(temperature: float, top_k: int, top_p: float) -> SamplingSettings:
    """Validated settings (the same ranges and messages as generation's)."""
    return SamplingSettings(max_new_tokens=1, temperature=temperature, top_k=top_k, top_p=top_p,
                            repetition_penalty=1.0)


def reshaped_scores(logits: torch.Tensor, settings: SamplingSettings) -> torch.Tensor:
    """Processed scores of one row of raw logits (-inf where a token is cut); greedy keeps only the top."""
    scores = logits.float()[None]
    if settings.greedy:
        kept = torch.full_like(scores, -math.inf)
        top = int(torch.argmax(scores))
        kept[0, top] = scores[0, top]
        return kept[0]
    return logits_processors(settings, 0)(torch.zeros((1, 0), dtype=torch.long), scores)[0]


def entropy_bits(probs: torch.Tensor) -> float:
    logs = torch.log2(probs.clamp_min(1e-30))
    return max(0.0, float(-(probs * logs).sum()))


@dataclass(frozen=True)
class Distribution:
    """The raw and the reshaped distribution of one next token, with the cut-off."""

    ids: tuple[int, ...]
    texts: tuple[str, ...]
    raw: tuple[float, ...]
    reshaped: tuple[float, ...]
    kept_count: int
    kept_mass: float
    entropy_bits: float
    reshaped_entropy_bits: float
    settings: SamplingSettings

    def to_dict(self) -> dict[str, Any]:
        return {"tokens": [{"id": token_id, "text": text, "prob": round(raw, 6), "reshaped_prob": round(new, 6),
                            "kept": new > 0, "rank": rank}
                           for rank, (token_id, text, raw, new) in
                           enumerate(zip(self.ids, self.texts, self.raw, self.reshaped, strict=True), 1)],
                "kept_count": self.kept_count, "kept_mass": round(self.kept_mass, 6),
                "entropy_bits": round(self.entropy_bits, 4),
                "reshaped_entropy_bits": round(self.reshaped_entropy_bits, 4),
                "settings": {"temperature": self.settings.temperature, "top_k": self.settings.top_k,
                             "top_p": self.settings.top_p}}


def distribution(logits: torch.Tensor, settings: SamplingSettings, decode: Any, shown: int = SHOWN) -> Distribution:
    """The ``shown`` most likely tokens of raw ``logits`` (one row) before and after ``settings``."""
    raw = torch.softmax(logits.float(), dim=-1)
    reshaped = torch.softmax(reshaped_scores(logits, settings), dim=-1)
    top = torch.topk(raw, min(shown, raw.numel()))
    kept = reshaped > 0
    ids = top.indices.tolist()
    return Distribution(ids=tuple(ids), texts=tuple(decode(token_id) for token_id in ids),
                        raw=tuple(top.values.tolist()), reshaped=tuple(reshaped[top.indices].tolist()),
                        kept_count=int(kept.sum()), kept_mass=float(raw[kept].sum()),
                        entropy_bits=entropy_bits(raw), reshaped_entropy_bits=entropy_bits(reshaped),
                        settings=settings)


def sample(logits: torch.Tensor, settings: SamplingSettings, seed: int) -> int:
    """One draw from the reshaped distribution with its own generator (greedy: the top token)."""
    scores = reshaped_scores(logits, settings)
    if settings.greedy:
        return int(torch.argmax(scores))
    generator = torch.Generator().manual_seed(int(seed))
    return int(torch.multinomial(torch.softmax(scores, dim=-1), 1, generator=generator)[0])
