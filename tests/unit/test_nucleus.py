"""The nucleus warper keeps exactly the tokens transformers' TopPLogitsWarper keeps, bit for bit,
and finds them from the largest scores alone where the distribution is peaked."""

from __future__ import annotations

import pytest
import torch
from transformers.generation.logits_process import TopPLogitsWarper

from playground.generation import nucleus
from playground.generation.nucleus import NucleusWarper

VOCAB = 5_000


def peaked(rows: int, seed: int) -> torch.Tensor:
    """Scores like a chat model's at temperature 0.7: a few likely tokens over a long, low tail."""
    generator = torch.Generator().manual_seed(seed)
    scores = torch.randn(rows, VOCAB, generator=generator) * 2
    top = torch.randint(0, VOCAB, (rows, 12), generator=generator)
    return scores.scatter(1, top, 10 + 4 * torch.rand(rows, 12, generator=generator))


def awkward(seed: int) -> torch.Tensor:
    """Rows only a full sort can settle, beside ordinary ones: flat, tied across the edge, cut by top-k."""
    generator = torch.Generator().manual_seed(seed)
    scores = peaked(6, seed)
    scores[0] = torch.randn(VOCAB, generator=generator) * 0.1  # nearly flat: the nucleus is most of it
    scores[1, :] = -5.0
    scores[1, :40] = 3.0  # forty tied tokens of 2.4% each: at top_p 0.9 the edge falls between two of them
    scores[2, 100:] = -float("inf")  # top-k already cut it to 100 tokens
    scores[3, :] = -float("inf")
    scores[3, 7] = 0.0  # one token left
    return scores


@pytest.mark.parametrize("top_p", [0.3, 0.9, 0.95, 0.999])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_it_keeps_what_transformers_keeps(top_p, seed):
    for scores in (peaked(16, seed), awkward(seed)):
        expected = TopPLogitsWarper(top_p)(None, scores.clone())
        assert torch.equal(NucleusWarper(top_p)(None, scores.clone()), expected)


def test_an_edge_within_the_margin_goes_to_the_full_sort(monkeypatch):
    """Two tokens hold exactly top_p: float rounding could put the edge on either side of the next."""
    scores = torch.full((1, VOCAB), -30.0)
    scores[0, :2] = 0.0  # about half the mass each
    scores[0, 2] = -0.5
    half = float(torch.softmax(scores, -1)[0, 0])
    sorted_whole = []
    monkeypatch.setattr(TopPLogitsWarper, "__call__",
                        lambda self, ids, s: sorted_whole.append(len(s)) or s)
    NucleusWarper(2 * half)(None, scores)
    assert sorted_whole == [1]


def test_peaked_rows_are_settled_without_a_full_sort(monkeypatch):
    sorted_whole = []
    full = TopPLogitsWarper.__call__
    monkeypatch.setattr(TopPLogitsWarper, "__call__",
                        lambda self, ids, s: sorted_whole.append(len(s)) or full(self, ids, s))
    scores = peaked(16, 5)
    NucleusWarper(0.95)(None, scores)
    assert sorted_whole == []
    NucleusWarper(0.9)(None, awkward(5))
    assert sorted_whole == [2]  # the flat row and the tied one; top-k's cut and a lone token are settled


def test_a_wide_nucleus_reads_more_candidates_before_sorting(monkeypatch):
    monkeypatch.setattr(nucleus, "FIRST_CANDIDATES", 16)
    scores = peaked(4, 3)
    scores[:, :200] = 12.0 + torch.linspace(0, 1, 200)  # a nucleus of about two hundred tokens
    assert torch.equal(NucleusWarper(0.9)(None, scores.clone()), TopPLogitsWarper(0.9)(None, scores.clone()))
