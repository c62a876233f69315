"""Issue 36: each pre-training objective's corruption follows its rule, counted on a fixed sample."""

from __future__ import annotations

import torch

from playground.pretrain.corpus import encode, make_corpus
from playground.pretrain.objectives import IGNORE, fill_spans, make_batch, noise_mask, span_corrupt
from playground.pretrain.tokenizer import sentinel_tokens
from playground.pretrain.views import mlm_actions, objective_view
from tests.unit.pretrain_fixtures import small_bpe

CONTEXT = 128


def sample_rows(rows: int = 64) -> torch.Tensor:
    """The held-out text's first ``rows`` x 128 tokens: plain text, no special tokens."""
    ids = encode(make_corpus().held_out, small_bpe(), rows * CONTEXT)
    return torch.tensor(ids).view(rows, CONTEXT)


def test_clm_targets_are_the_inputs_shifted_by_one():
    rows = sample_rows(2)
    batch = make_batch("clm", rows, small_bpe(), torch.Generator().manual_seed(0))
    assert torch.equal(batch["input_ids"], rows) and torch.equal(batch["labels"], rows)  # the model shifts
    view = objective_view("clm", rows[0, :20].tolist(), small_bpe())
    assert view["inputs"][1:] == view["targets"][:-1] and len(view["targets"]) == 19
    assert view["counts"] == {"tokens": 20, "scored": 19}


def test_mlm_chooses_15_percent_and_splits_them_80_10_10():
    tokenizer = small_bpe()
    rows = sample_rows()  # 8,192 tokens
    batch = make_batch("mlm", rows, tokenizer, torch.Generator().manual_seed(7))
    actions = [a for orig, inp, lab in zip(rows, batch["input_ids"], batch["labels"], strict=True)
               for a in mlm_actions(orig.tolist(), inp.tolist(), lab.tolist(), tokenizer.mask_token_id)]
    chosen = [a for a in actions if a]
    assert abs(len(chosen) / len(actions) - 0.15) < 0.015
    assert abs(chosen.count("mask") / len(chosen) - 0.8) < 0.03
    assert abs(chosen.count("random") / len(chosen) - 0.1) < 0.025
    assert abs(chosen.count("unchanged") / len(chosen) - 0.1) < 0.025
    labels = batch["labels"]
    assert torch.equal(labels[labels != IGNORE], rows[labels != IGNORE])  # only chosen positions are scored
    assert torch.equal(batch["input_ids"][labels == IGNORE], rows[labels == IGNORE])


def test_mlm_is_repeatable_from_its_seed_and_the_view_counts_agree():
    ids = sample_rows(1)[0].tolist()
    first, again = (objective_view("mlm", ids, small_bpe(), seed=3) for _ in range(2))
    assert first == again and first["counts"]["chosen"] == len(first["chosen"]) > 0
    counts = first["counts"]
    assert counts["mask"] + counts["random"] + counts["unchanged"] == counts["chosen"]


def test_span_corruption_cuts_15_percent_in_spans_of_3_and_reconstructs_the_text():
    tokenizer = small_bpe()
    sentinels = set(tokenizer.convert_tokens_to_ids(sentinel_tokens()))
    generator = torch.Generator().manual_seed(11)
    for row in sample_rows(16):
        mask = noise_mask(len(row), generator)
        assert int(mask.sum()) == round(0.15 * CONTEXT) and not mask[0]  # 19 of 128; text starts kept
        inputs, target = span_corrupt(row, tokenizer, generator)
        spans = sum(int(t) in sentinels for t in inputs)
        assert spans == round(19 / 3) == sum(int(t) in sentinels for t in target)
        assert len(inputs) == CONTEXT - 19 + spans + 1 and len(target) == 19 + spans + 1
        assert int(inputs[-1]) == int(target[-1]) == tokenizer.eos_token_id
        assert fill_spans(inputs.tolist(), target.tolist(), sentinels, tokenizer.eos_token_id) == row.tolist()


def test_span_view_shows_sentinels_in_order_and_the_hidden_text():
    tokenizer = small_bpe()
    ids = sample_rows(1)[0, :60].tolist()
    view = objective_view("span", ids, tokenizer, seed=5)
    names = [span["sentinel"] for span in view["spans"]]
    assert names == sentinel_tokens(len(names)) and view["counts"]["cut"] == round(0.15 * 60)
    assert view["counts"]["tokens"] == 60 and view["input_text"].count("<extra_id_0>") == 1
    restored = view["input_text"].removesuffix("<eos>")
    for span in view["spans"]:
        restored = restored.replace(span["sentinel"], span["text"])
    assert restored == tokenizer.decode(ids)


def test_a_batch_of_span_corruption_needs_no_padding():
    batch = make_batch("span", sample_rows(4), small_bpe(), torch.Generator().manual_seed(0))
    assert batch["input_ids"].shape == (4, 128 - 19 + 6 + 1) and batch["labels"].shape == (4, 19 + 6 + 1)
