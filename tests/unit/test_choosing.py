"""Choosing every row's next token at once gives each row what transformers' processors give it alone."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import torch

from playground.generation.choosing import choose_tokens
from playground.generation.sampling import SamplingSettings, logits_processors

VOCAB = 500


@dataclass
class FakeRow:
    """A row as the chooser sees it: settings, history and its own generator (no model needed)."""

    settings: SamplingSettings
    ids: list[int]
    prompt_length: int
    rng: torch.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.rng = torch.Generator().manual_seed(self.settings.seed)

    @property
    def penalized(self) -> list[int]:
        return self.ids if self.settings.penalize_prompt else self.ids[self.prompt_length:]


def reference(logits: torch.Tensor, row: FakeRow) -> tuple[int, float, int]:
    """transformers' processors on the row alone (``generate``'s way), then softmax, argmax or one draw."""
    history = torch.tensor([row.ids], dtype=torch.long)
    scores = logits_processors(row.settings, row.prompt_length)(history, logits.clone())
    probs = torch.softmax(scores, dim=-1)
    if row.settings.greedy:
        token = int(torch.argmax(scores, dim=-1)[0])
    else:
        token = int(torch.multinomial(probs, num_samples=1, generator=row.rng)[0, 0])
    return token, float(probs[0, token]), int((scores[0] > scores[0, token]).sum()) + 1


SETTINGS = [
    SamplingSettings(),  # greedy with the default penalty
    SamplingSettings(repetition_penalty=1.0),
    SamplingSettings(repetition_penalty=1.5),
    SamplingSettings(penalize_prompt=True),
    SamplingSettings(temperature=0.7, top_p=0.95, seed=3),
    SamplingSettings(temperature=0.7, top_p=0.95, seed=4),  # same processing, its own generator
    SamplingSettings(temperature=1.2, top_k=20, seed=7),
    SamplingSettings(temperature=1.0, seed=9, repetition_penalty=1.0),
    SamplingSettings(),  # same as the first, another history
]


def rows_with_histories(seed: int) -> list[FakeRow]:
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for index, settings in enumerate(SETTINGS):
        prompt = torch.randint(0, VOCAB, (5 + 3 * index,), generator=generator).tolist()
        generated = torch.randint(0, 40, (index % 4,), generator=generator).tolist()  # repeats, and none
        rows.append(FakeRow(settings, prompt + generated, len(prompt)))
    return rows


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_batch_of_mixed_rows_chooses_what_each_row_would_alone(seed):
    logits = torch.randn(len(SETTINGS), VOCAB, generator=torch.Generator().manual_seed(seed)) * 4
    together = choose_tokens(logits, rows_with_histories(seed))
    alone = [reference(logits[index:index + 1], row) for index, row in enumerate(rows_with_histories(seed))]
    assert together == alone  # token, probability and rank: bit for bit


def test_the_penalty_reads_each_rows_own_history():
    logits = torch.zeros(2, VOCAB)
    logits[:, 7] = logits[:, 8] = 2.0  # a tie, broken towards 7 by argmax
    rows = [FakeRow(SamplingSettings(repetition_penalty=2.0), [1, 2, 7], 2),  # generated 7: penalized
            FakeRow(SamplingSettings(repetition_penalty=2.0), [7, 1, 2], 2)]  # 7 in the prompt only
    (first, _, _), (second, _, _) = choose_tokens(logits, rows)
    assert (first, second) == (8, 7)


def test_a_row_whose_draw_fails_fails_alone():
    logits = torch.randn(3, VOCAB)
    logits[1] = float("nan")
    rows = [FakeRow(SamplingSettings(temperature=0.8, seed=s), [1, 2], 2) for s in (1, 2, 3)]
    picks = choose_tokens(logits, rows)
    assert isinstance(picks[1], Exception)
    fresh = [FakeRow(SamplingSettings(temperature=0.8, seed=s), [1, 2], 2) for s in (1, 3)]
    assert [picks[0], picks[2]] == [reference(logits[i:i + 1], row) for i, row in zip((0, 2), fresh, strict=True)]
