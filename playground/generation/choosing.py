"""The next token of every row of a batch, chosen at once, each by its own settings and generator.

Rows with the same settings go through transformers' processors together (the repetition penalty
reads each row's own history and skips each row's own prompt), then softmax, argmax, the chosen
token's probability and rank are one operation for the whole batch. Per row it is a handful of
vocabulary-wide operations; on a busy CPU each costs milliseconds, so doing them per row (about
a dozen each) took a fifth of a step with 17 rows under the classroom load. Every operation
here works row by row, so a row's pick is bit for bit what it would be alone; only the draw of a
sampled token is per row, from the row's own generator.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import torch

from playground.generation.sampling import SamplingSettings, processors_skipping

log = logging.getLogger(__name__)

Pick = tuple[int, float, int]
"""(token id, its probability under the processed scores, its rank under them: 1 = their top)."""


class Chooser(Protocol):
    """What a row brings to the choice of its next token."""

    settings: SamplingSettings
    rng: torch.Generator

    @property
    def penalized(self) -> Sequence[int]:
        """The ids the repetition penalty counts (the generated ones, or the prompt's too)."""
        ...


def processing_key(settings: SamplingSettings) -> tuple[float, float, int, float]:
    """Rows whose settings agree on this are processed together (seeds, stops and lengths may differ)."""
    if settings.greedy:
        return (settings.repetition_penalty, 0.0, 0, 1.0)
    return (settings.repetition_penalty, settings.temperature, settings.top_k, settings.top_p)


def processed_scores(logits: torch.Tensor, rows: Sequence[Chooser]) -> torch.Tensor:
    """``[rows, vocab]`` raw logits through each row's processors, in ``generate``'s order."""
    groups: dict[tuple[float, float, int, float], list[int]] = {}
    for index, row in enumerate(rows):
        groups.setdefault(processing_key(row.settings), []).append(index)
    scores = logits.clone()  # processors are out of place today; the raw logits must survive for the views
    for indices in groups.values():
        histories = [list(rows[index].penalized) for index in indices]
        width = max(len(history) for history in histories)
        ids = torch.tensor([[0] * (width - len(history)) + history for history in histories],
                           dtype=torch.long, device=logits.device).reshape(len(indices), width)
        pads = torch.tensor([width - len(history) for history in histories], dtype=torch.long,
                            device=logits.device)
        processors = processors_skipping(rows[indices[0]].settings, pads)
        if not processors:
            continue
        if len(indices) == len(rows):
            return processors(ids, scores)
        where = torch.tensor(indices, dtype=torch.long, device=logits.device)
        scores[where] = processors(ids, scores[where])
    return scores


def choose_tokens(logits: torch.Tensor, rows: Sequence[Chooser]) -> list[Pick | Exception]:
    """The next token of each row from its raw logits (``[rows, vocab]``), or why its choice failed.

    A failure in the shared operations is retried row by row, so only the row that causes it fails;
    a failed draw fails its own row (the other rows' generators have drawn exactly once).
    """
    try:
        with torch.inference_mode():
            scores = processed_scores(logits, rows)
            probs = torch.softmax(scores, dim=-1)
            tokens = torch.argmax(scores, dim=-1).tolist()
    except Exception as error:
        if len(rows) == 1:
            log.exception("choosing the next token failed; that request alone is failed")
            return [error]
        log.info("choosing tokens for %d rows failed; retrying row by row", len(rows), exc_info=True)
        return [choose_tokens(logits[index:index + 1], [row])[0] for index, row in enumerate(rows)]
    failed: dict[int, Exception] = {}
    with torch.inference_mode():
        for index, row in enumerate(rows):
            if not row.settings.greedy:
                try:
                    tokens[index] = int(torch.multinomial(probs[index:index + 1], num_samples=1,
                                                          generator=row.rng)[0, 0])
                except Exception as error:  # noqa: BLE001 - its own draw failing fails only its row
                    log.exception("drawing a token failed; that request alone is failed")
                    failed[index] = error
        chosen = torch.tensor(tokens, dtype=torch.long, device=logits.device)[:, None]
        chances = probs.gather(1, chosen)[:, 0].tolist()
        ranks = ((scores > scores.gather(1, chosen)).sum(dim=-1) + 1).tolist()
    return [failed[index] if index in failed else (tokens[index], chances[index], ranks[index])
            for index in range(len(rows))]
