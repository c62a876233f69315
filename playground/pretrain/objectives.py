"""What each pre-training objective turns a piece of text into: the training batch, and a view for the page.

- CLM (GPT): every position predicts the next token; the targets are the inputs shifted by one.
- MLM (BERT): 15% of positions are chosen; of those 80% become ``[MASK]``, 10% a random token, 10% stay, and
  only the chosen positions are scored. transformers' ``DataCollatorForLanguageModeling`` draws them, so the
  rule is the library's own, driven by our seeded generator.
- Span corruption (T5): 15% of tokens in spans of mean length 3 are cut out, each span replaced by one sentinel
  in the input; the target lists each sentinel followed by the tokens it hides. T5's own algorithm
  (``random_spans_noise_mask``) decides the spans, so every sequence of a length has the same number of
  spans and noise tokens and a batch needs no padding.
"""

from __future__ import annotations

from typing import Any

import torch

from playground.core.errors import InvalidInputError
from playground.pretrain.tokenizer import sentinel_ids

OBJECTIVES = {"decoder": "clm", "encoder": "mlm", "encoder-decoder": "span"}
"""The objective each family was built for (GPT, BERT, T5)."""
IGNORE = -100
MLM_RATE, MASK_SHARE, RANDOM_SHARE = 0.15, 0.8, 0.1
NOISE_DENSITY, MEAN_SPAN = 0.15, 3.0
RULES = {
    "clm": "Each position's target is the next token: the targets are the inputs shifted left by one.",
    "mlm": "15% of the tokens are chosen; 80% of those become [MASK], 10% a random token, 10% stay as they "
           "are. The loss counts only the chosen positions.",
    "span": "15% of the tokens, in spans of 3 on average, are cut; each span becomes one sentinel in the input, "
            "and the target spells out each sentinel's hidden tokens.",
}


def check_objective(objective: str) -> str:
    if objective not in RULES:
        raise InvalidInputError(f"Objective must be one of {', '.join(RULES)}, got {objective!r}.")
    return objective


def make_batch(objective: str, rows: torch.Tensor, tokenizer: Any, generator: torch.Generator) -> dict[str, Any]:
    """Training tensors for ``rows`` (``[batch, length]`` token ids of plain text) under ``objective``."""
    if check_objective(objective) == "clm":
        return {"input_ids": rows, "labels": rows.clone()}  # the model shifts the labels itself
    if objective == "mlm":
        inputs, labels = mlm_mask(rows, tokenizer, generator)
        return {"input_ids": inputs, "labels": labels}
    inputs, labels = zip(*(span_corrupt(row, tokenizer, generator) for row in rows), strict=True)
    return {"input_ids": torch.stack(inputs), "labels": torch.stack(labels)}


def mlm_mask(rows: torch.Tensor, tokenizer: Any, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's corruption by transformers' collator; special tokens are never chosen."""
    from transformers import DataCollatorForLanguageModeling

    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=MLM_RATE, mask_replace_prob=MASK_SHARE,
                                               random_replace_prob=RANDOM_SHARE)
    collator.generator = generator  # the collator draws from self.generator when it has one
    special = torch.isin(rows, torch.tensor(tokenizer.all_special_ids))
    return collator.torch_mask_tokens(rows.clone(), special_tokens_mask=special)


def noise_mask(length: int, generator: torch.Generator, density: float = NOISE_DENSITY,
               mean_span: float = MEAN_SPAN) -> torch.Tensor:
    """T5's ``random_spans_noise_mask``: True where a token is cut; the sequence starts with kept tokens."""
    if length < 2:
        raise InvalidInputError("Span corruption needs sequences of at least 2 tokens.")
    noise = min(max(round(length * density), 1), length - 1)
    spans = max(round(noise / mean_span), 1)
    noise_lengths = _segment(noise, spans, generator)
    kept_lengths = _segment(length - noise, spans, generator)
    mask = torch.zeros(length, dtype=torch.bool)
    position = 0
    for kept, cut in zip(kept_lengths.tolist(), noise_lengths.tolist(), strict=True):
        position += kept
        mask[position:position + cut] = True
        position += cut
    return mask


def _segment(items: int, segments: int, generator: torch.Generator) -> torch.Tensor:
    """``items`` split into ``segments`` non-empty runs at random: the lengths, summing to ``items``."""
    segments = min(segments, items)
    cuts = torch.randperm(items - 1, generator=generator)[:segments - 1].sort().values + 1
    edges = torch.cat([torch.tensor([0]), cuts, torch.tensor([items])])
    return edges.diff()


def span_corrupt(row: torch.Tensor, tokenizer: Any, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One sequence's (input, target): spans replaced by sentinels, then the sentinels with what they hide."""
    mask = noise_mask(len(row), generator)
    starts = mask & ~torch.cat([torch.tensor([False]), mask[:-1]])
    sentinels = torch.tensor(sentinel_ids(tokenizer, int(starts.sum())))
    span_index = starts.long().cumsum(0) - 1
    eos = torch.tensor([tokenizer.eos_token_id])
    marked = torch.where(starts, sentinels[span_index.clamp(min=0)], row)
    inputs = torch.cat([marked[~mask | starts], eos])
    hidden_with_sentinels = torch.stack([torch.where(starts, sentinels[span_index.clamp(min=0)], -1), row], 1)
    target = hidden_with_sentinels[mask].flatten()
    return inputs, torch.cat([target[target >= 0], eos])


def fill_spans(inputs: list[int], target: list[int], sentinel_set: set[int], eos: int) -> list[int]:
    """The text back from a span-corrupted input and its target (or a model's predicted target)."""
    hidden: dict[int, list[int]] = {}
    current: int | None = None
    for token in target:
        if token == eos:
            break
        if token in sentinel_set:
            current = token
            hidden[current] = []
        elif current is not None:
            hidden[current].append(token)
    restored: list[int] = []
    for token in inputs:
        if token == eos:
            break
        restored.extend(hidden.get(token, []) if token in sentinel_set else [token])
    return restored
