"""Fine-tuning data mechanics: chat-template encoding, prompt masking, batch collation and the loss.

Runs on the embedded SmolLM2 tokenizer and the tiny random Llama of tests/unit/conftest.py, so
every test takes well under a second; no real model is loaded and nothing is trained for long.
"""

from __future__ import annotations

import pytest
import torch

from playground.finetune.data import IGNORE, Pair, encode, prompt_text
from playground.finetune.train import collate

PAIRS = [Pair(1, "Name a colour.", "Blue."),
         Pair(2, "Write one sentence about the sea and the lighthouse keeper who watches it.",
              "The keeper watched the grey sea roll in under a sky heavy with rain."),
         Pair(3, "Hi", "Hello! How can I help you today?")]
PAD = -7  # a pad id no real token has: padded positions are then unmistakable


def prompt_ids(pair: Pair, tokenizer) -> list[int]:
    return tokenizer(prompt_text(pair, tokenizer), add_special_tokens=False)["input_ids"]


@pytest.mark.parametrize("pair", PAIRS, ids=["short", "long", "greeting"])
def test_labels_mask_exactly_the_prompt(pair, tokenizer):
    example = encode(pair, tokenizer, 512)
    ids, labels = example["input_ids"], example["labels"]
    prompt = prompt_ids(pair, tokenizer)
    assert len(ids) == len(labels) > len(prompt)
    assert ids[:len(prompt)] == prompt  # the prompt's ids are a prefix of the example's
    assert labels[:len(prompt)] == [IGNORE] * len(prompt)
    assert labels[len(prompt):] == ids[len(prompt):]  # every response token is its own label
    assert IGNORE not in labels[len(prompt):]
    answer = tokenizer.decode(labels[len(prompt):])
    assert answer.startswith(pair.response) and pair.prompt not in answer


def test_the_prompt_is_the_chat_template_with_a_generation_prompt(tokenizer):
    text = prompt_text(PAIRS[0], tokenizer)
    assert PAIRS[0].prompt in text and PAIRS[0].response not in text
    assert text.rstrip().endswith("assistant")  # SmolLM2: "<|im_start|>assistant\n" opens the answer


@pytest.mark.parametrize("max_length", [1, 8, 20, 30])
def test_max_length_cuts_ids_and_labels_together(max_length, tokenizer):
    pair = PAIRS[1]
    full = encode(pair, tokenizer, 10_000)
    cut = encode(pair, tokenizer, max_length)
    assert len(full["input_ids"]) > 30
    assert cut["input_ids"] == full["input_ids"][:max_length]
    assert cut["labels"] == full["labels"][:max_length]
    prompt = len(prompt_ids(pair, tokenizer))
    assert cut["labels"].count(IGNORE) == min(prompt, max_length)


def test_a_prompt_longer_than_max_length_leaves_nothing_to_learn(tokenizer):
    pair = PAIRS[1]
    prompt = len(prompt_ids(pair, tokenizer))
    example = encode(pair, tokenizer, prompt - 2)
    assert len(example["input_ids"]) == prompt - 2
    assert example["labels"] == [IGNORE] * (prompt - 2)


def test_collate_pads_to_the_longest_and_masks_the_padding(tokenizer):
    examples = [encode(pair, tokenizer, 512) for pair in PAIRS]
    batch = collate(PAD)(examples)
    lengths = [len(example["input_ids"]) for example in examples]
    width = max(lengths)
    assert set(batch) == {"input_ids", "labels", "attention_mask"}
    for key in batch:
        assert batch[key].shape == (len(examples), width) and batch[key].dtype == torch.long
    for row, (example, length) in enumerate(zip(examples, lengths, strict=True)):
        assert batch["input_ids"][row, :length].tolist() == example["input_ids"]
        assert batch["input_ids"][row, length:].tolist() == [PAD] * (width - length)
        assert batch["labels"][row, :length].tolist() == example["labels"]
        assert batch["labels"][row, length:].tolist() == [IGNORE] * (width - length)
        assert batch["attention_mask"][row].tolist() == [1] * length + [0] * (width - length)
    # a padded position is never trained on, and every attended position is a real token
    assert ((batch["attention_mask"] == 0) <= (batch["labels"] == IGNORE)).all()
    assert ((batch["input_ids"] == PAD) == (batch["attention_mask"] == 0)).all()


def test_collate_of_equal_lengths_adds_no_padding(tokenizer):
    example = encode(PAIRS[0], tokenizer, 512)
    batch = collate(PAD)([example, example])
    assert batch["input_ids"].shape == (2, len(example["input_ids"]))
    assert batch["attention_mask"].all() and not (batch["input_ids"] == PAD).any()


def test_collated_rows_respect_max_seq_length(tokenizer):
    max_length = 16
    batch = collate(tokenizer.pad_token_id or 0)([encode(pair, tokenizer, max_length) for pair in PAIRS])
    assert batch["input_ids"].shape[1] <= max_length


def response_cross_entropy(logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> float:
    """By hand: the next-token cross-entropy averaged over the positions whose label is a response token."""
    terms = []
    for row, position in (batch["labels"][:, 1:] != IGNORE).nonzero().tolist():
        log_probs = torch.log_softmax(logits[row, position].double(), dim=-1)  # position predicts position + 1
        terms.append(-float(log_probs[int(batch["labels"][row, position + 1])]))
    return sum(terms) / len(terms)


def test_the_loss_counts_only_response_tokens_and_trains(tiny_lm, tokenizer):
    batch = collate(tokenizer.pad_token_id or 0)([encode(pair, tokenizer, 64) for pair in PAIRS])
    tiny_lm.zero_grad(set_to_none=True)
    tiny_lm.train()
    try:
        out = tiny_lm(**batch)
        assert out.loss.item() == pytest.approx(response_cross_entropy(out.logits.detach(), batch), rel=1e-5)

        # the same batch with the prompt's labels left in scores differently: the mask is what drops them
        unmasked = {**batch, "labels": batch["input_ids"].masked_fill(batch["attention_mask"] == 0, IGNORE)}
        assert tiny_lm(**unmasked).loss.item() != pytest.approx(out.loss.item(), rel=1e-3)

        out.loss.backward()
        grads = [p.grad for p in tiny_lm.parameters() if p.requires_grad]
        assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
        assert any(g.abs().sum() > 0 for g in grads)
    finally:
        tiny_lm.zero_grad(set_to_none=True)
        tiny_lm.eval()


def test_a_padded_row_scores_as_it_does_alone(tiny_lm, tokenizer):
    """Padding changes nothing: the short row's logits inside the batch equal its logits unbatched."""
    short, long = encode(PAIRS[0], tokenizer, 64), encode(PAIRS[1], tokenizer, 64)
    assert len(short["input_ids"]) < len(long["input_ids"])
    pad = collate(tokenizer.pad_token_id or 0)
    with torch.no_grad():
        batched = tiny_lm(**pad([short, long])).logits[0, :len(short["input_ids"])]
        alone = tiny_lm(**pad([short])).logits[0]
    assert torch.allclose(batched, alone, atol=1e-4)
