"""Tokenizers for pre-training: a byte-level BPE trained on the corpus, or an existing one given the tokens
the objectives need (padding, BERT's ``[MASK]``, T5's sentinels ``<extra_id_0>``...).

One tokenizer serves all three objectives, so their losses and samples compare like for like. Sentinels are
real special tokens (never split, never produced by ordinary text), 100 of them as in T5: span corruption of a
1,024-token sequence needs about 26. An existing tokenizer is copied before tokens are added, since the app
shares loaded tokenizers between users.
"""

from __future__ import annotations

import copy
from typing import Any

from playground.core.errors import InvalidInputError
from playground.core.validation import whole_number

PAD, EOS, UNK, MASK = "<pad>", "<eos>", "<unk>", "[MASK]"
SENTINELS = 100
MAX_BPE_CHARS = 2_000_000
"""BPE merges settle long before this (a few seconds of training); the model still trains on all the text."""


def sentinel(index: int) -> str:
    return f"<extra_id_{index}>"


def sentinel_tokens(count: int = SENTINELS) -> list[str]:
    return [sentinel(index) for index in range(count)]


def train_bpe(text: str, vocab_size: int = 4096) -> Any:
    """A byte-level BPE of ``vocab_size`` entries (specials included) learned from ``text``.

    Byte-level, as GPT-2's: any text encodes without an unknown token, so the user's own text always works.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = [PAD, EOS, UNK, MASK, *sentinel_tokens()]
    low = len(specials) + 256 + 1
    vocab_size = whole_number("Vocabulary size", vocab_size, low, 65_536,
                              "the 256 bytes and the special tokens come first, merges fill the rest")
    tokenizer = Tokenizer(models.BPE(unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, min_frequency=2,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator([text[:MAX_BPE_CHARS]], trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token=PAD, eos_token=EOS, unk_token=UNK,
                                   mask_token=MASK, additional_special_tokens=sentinel_tokens())


def with_pretraining_tokens(tokenizer: Any) -> Any:
    """A copy of ``tokenizer`` that has a pad, an end, a mask token and the sentinels (added where missing).

    A causal tokenizer such as SmolLM2's has an end token but no mask or sentinels: they are added as new
    special tokens, so the model's vocabulary is ``len(tokenizer)``, not the tokenizer's ``vocab_size``.
    """
    if not hasattr(tokenizer, "add_special_tokens"):
        raise InvalidInputError("Pre-training needs a transformers tokenizer (one loaded with AutoTokenizer).")
    tokenizer = copy.deepcopy(tokenizer)
    added: dict[str, Any] = {}
    if tokenizer.eos_token is None:
        added["eos_token"] = EOS
    if tokenizer.pad_token is None:
        added["pad_token"] = PAD
    if tokenizer.mask_token is None:
        added["mask_token"] = MASK
    missing = [token for token in sentinel_tokens() if token not in tokenizer.get_vocab()]
    if missing:
        added["additional_special_tokens"] = missing
    if added:  # keeping the tokenizer's own extra special tokens (a chat template's markers)
        tokenizer.add_special_tokens(added, replace_extra_special_tokens=False)
    return tokenizer


def special_ids(tokenizer: Any) -> dict[str, int]:
    """The ids a model config and the objectives need: pad, eos, mask and the first sentinel."""
    return {"pad": tokenizer.pad_token_id, "eos": tokenizer.eos_token_id, "mask": tokenizer.mask_token_id,
            "sentinel": tokenizer.convert_tokens_to_ids(sentinel(0))}


def sentinel_ids(tokenizer: Any, count: int) -> list[int]:
    """The ids of ``<extra_id_0>`` .. ``<extra_id_{count-1}>``, in order."""
    if count > SENTINELS:
        raise InvalidInputError(f"Span corruption here has {SENTINELS} sentinel tokens, and this sequence needs "
                                f"{count}: use a shorter context.")
    return tokenizer.convert_tokens_to_ids(sentinel_tokens(count))
