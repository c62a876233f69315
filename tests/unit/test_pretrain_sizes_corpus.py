"""Issue 36: model sizes build the right families and count their parameters; bad sizes and texts get clear
errors; the shipped corpus splits deterministically."""

from __future__ import annotations

import pytest

from playground.core.errors import InvalidInputError
from playground.pretrain.corpus import blocks, clean_text, encode, make_corpus, shipped_text
from playground.pretrain.sizes import ModelSize, build_model, count_parameters
from playground.pretrain.tokenizer import sentinel, special_ids, train_bpe, with_pretraining_tokens
from tests.unit.pretrain_fixtures import small_bpe


@pytest.mark.parametrize("family, kind", [("decoder", "GPT2LMHeadModel"), ("encoder", "BertForMaskedLM"),
                                          ("encoder-decoder", "T5ForConditionalGeneration")])
def test_each_family_builds_a_random_model_of_its_size(family, kind):
    size = ModelSize(family, layers=2.0, width=32, heads=2, context=16, vocab=len(small_bpe()))
    model = build_model(size, special_ids(small_bpe()), seed=1)
    assert type(model).__name__ == kind and model.training
    count = count_parameters(model)
    per_stack = 12 * 2 * 32 ** 2  # Kaplan's N: attention 4 d^2 + feed-forward 8 d^2 per layer
    stacks = 2 if family == "encoder-decoder" else 1
    assert per_stack * stacks <= count.non_embedding <= 1.5 * per_stack * stacks  # + norms, biases, cross-attn
    assert count.embedding >= len(small_bpe()) * 32 and count.flops_per_token == 6 * count.non_embedding
    again = build_model(size, special_ids(small_bpe()), seed=1)
    assert all((a == b).all() for a, b in zip(model.parameters(), again.parameters(), strict=True))


@pytest.mark.parametrize("changes, message", [
    ({"family": "rnn"}, "family must be one of"),
    ({"width": 100, "heads": 3}, "does not split into 3 heads"),
    ({"layers": 0}, "Layers must be a whole number from 1"),
    ({"width": 2.5}, "Width must be a whole number"),
    ({"context": 100_000}, "Context must be a whole number from 8 to 1,024"),
    ({"width": 32, "heads": 16}, "dimensions per head"),
])
def test_bad_sizes_say_what_to_pick(changes, message):
    with pytest.raises(InvalidInputError, match=message):
        ModelSize(**changes)


def test_the_shipped_corpus_is_shakespeare_split_at_a_paragraph():
    corpus = make_corpus()
    assert corpus.train.startswith("A Midsummer Night's Dream") and len(shipped_text()) > 4_000_000
    assert corpus.train + corpus.held_out == shipped_text() and corpus.train.endswith("\n\n")
    assert 0.04 < len(corpus.held_out) / len(shipped_text()) < 0.06 and make_corpus() == corpus


def test_user_text_is_normalised_and_bad_text_is_refused():
    text, notes = clean_text("Cafe\u0301 one\r\ntwo\x07")
    assert text == "Café one\ntwo" and len(notes) == 2
    with pytest.raises(InvalidInputError, match="empty"):
        make_corpus("  \n ")
    with pytest.raises(InvalidInputError, match="binary"):
        make_corpus("\x00\x01\x02abc" * 100)
    with pytest.raises(InvalidInputError, match="must be a string"):
        make_corpus(b"bytes")  # type: ignore[arg-type]
    corpus = make_corpus("A short line of text.\n\nAnother one.")
    ids = encode(corpus.train, small_bpe())
    with pytest.raises(InvalidInputError, match="a context of 64 needs at least 64"):
        blocks(ids, 64)


def test_an_existing_tokenizer_gets_mask_pad_and_sentinels_on_a_copy():
    from transformers import GPT2TokenizerFast

    bare = train_bpe("the cat sat on the mat " * 200, 400)._tokenizer
    original = GPT2TokenizerFast(tokenizer_object=bare, eos_token="<eos>")
    extended = with_pretraining_tokens(original)
    assert original.mask_token is None and extended.mask_token == "[MASK]" and extended.pad_token is not None
    assert extended.convert_tokens_to_ids(sentinel(99)) != extended.unk_token_id
    assert extended.tokenize(f"the {sentinel(3)}") == ["the", "Ġ", sentinel(3)]
