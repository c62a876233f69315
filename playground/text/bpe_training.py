"""Training a small byte-level BPE on the user's own text, to watch merges being learned.

The ``tokenizers`` library does the training (the same trainer real vocabularies come from);
this module replays its first merges on the text's words to say how often each pair occurred
when it was merged, and tokenizes one sentence with only the first *k* merges, so a page can show
a vocabulary growing from bytes to subwords to whole words.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from playground.core.errors import InvalidInputError
from playground.core.paths import ASSETS
from playground.core.validation import whole_number
from playground.text.analysis import TokenizationResult, sanitize_text
from playground.text.backends import Token, byte_level_bytes

MAX_TRAIN_CHARS = 300_000
"""About a hundred pages: trains in well under a second, so the panel stays live."""
MAX_MERGES = 5_000
MIN_FREQUENCY = 2
"""A pair seen once is never merged: that is what stops a small text from memorising every word."""
STEPS_SHOWN = 30
STAGES = (100, 500, 2_000)
DEFAULT_SENTENCE = "Tokenizers split unbelievably long words into words or subwords."


def default_training_text() -> str:
    """The project's own prose (the Quenmoor documents and the lighthouse text): about 10,000 characters."""
    paths = [*sorted((ASSETS / "rag" / "docs").glob("*.md")), ASSETS / "quantization" / "reference.txt"]
    return "\n\n".join(path.read_text(encoding="utf-8").strip() for path in paths)


@dataclass(frozen=True)
class Merge:
    """One learned rule: ``left + right -> merged``, and how often the pair occurred at that step."""

    rank: int
    left: str
    right: str
    count: int | None

    @property
    def merged(self) -> str:
        return self.left + self.right

    def to_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "left": self.left, "right": self.right, "merged": self.merged,
                "count": self.count}


@dataclass(frozen=True)
class TrainedBPE:
    """The vocabulary and ordered merges learned from one text (pieces in GPT-2's byte alphabet)."""

    vocab: dict[str, int]
    merges: list[tuple[str, str]]
    words: Counter[str]
    seconds: float

    def tokenizer(self, merges: int) -> Any:
        """A tokenizer that applies only the first ``merges`` merges (the rest of the vocabulary
        is unreachable without them, so this is exactly the tokenizer at that step)."""
        from tokenizers import Tokenizer, decoders, models

        tokenizer = Tokenizer(models.BPE(vocab=self.vocab, merges=self.merges[:merges]))
        tokenizer.pre_tokenizer = _pre_tokenizer()
        tokenizer.decoder = decoders.ByteLevel()
        return tokenizer

    def tokenize(self, sentence: str, merges: int) -> TokenizationResult:
        """``sentence`` under the first ``merges`` merges, as the Tokenizer tab's other results are."""
        merges = min(merges, len(self.merges))
        tokenizer = self.tokenizer(merges)
        encoding = tokenizer.encode(sentence)
        tokens = []
        for token_id, piece, (start, end) in zip(encoding.ids, encoding.tokens, encoding.offsets, strict=True):
            raw = byte_level_bytes(piece)
            tokens.append(Token(token_id, raw.decode("utf-8", errors="replace"), piece, start, end,
                                False, False, raw))
        return TokenizationResult(f"{merges:,} merges", "byte-level BPE (trained here)", 256 + merges, None,
                                  sentence, tokens, tokenizer.decode(encoding.ids) == sentence)

    def first_merges(self, count: int = STEPS_SHOWN) -> list[Merge]:
        """The first ``count`` merges, readable, each with its pair's count when it was merged."""
        counts = _replay_counts(self.words, self.merges[:count])
        return [Merge(rank, readable(left), readable(right), counts[rank - 1])
                for rank, (left, right) in enumerate(self.merges[:count], start=1)]


def _pre_tokenizer() -> Any:
    from tokenizers import pre_tokenizers

    return pre_tokenizers.ByteLevel(add_prefix_space=False)


def readable(piece: str) -> str:
    """A byte-level piece as text ('Ġthe' -> ' the'); bytes that are part of a character show as <e2>."""
    raw = byte_level_bytes(piece)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "".join(f"<{byte:02x}>" if byte > 127 else chr(byte) for byte in raw)


def check_training_text(text: str | None) -> str:
    """The text to train on, or a message saying what to paste instead."""
    cleaned, _ = sanitize_text(text)
    if not cleaned.strip():
        raise InvalidInputError("Paste some text to train on: a few paragraphs at least (a few pages is better).")
    if len(cleaned) > MAX_TRAIN_CHARS:
        raise InvalidInputError(f"The training text is {len(cleaned):,} characters; the limit here is "
                                f"{MAX_TRAIN_CHARS:,} (about a hundred pages). Paste an excerpt.")
    return cleaned


def train_bpe(text: str | None, max_merges: int = max(STAGES)) -> TrainedBPE:
    """Learn up to ``max_merges`` merges from ``text`` with the ``tokenizers`` BPE trainer,
    starting from the 256 bytes (so any text, emoji included, can be tokenized)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    cleaned = check_training_text(text)
    max_merges = whole_number("max_merges", max_merges, 1, MAX_MERGES, "merges to learn")
    began = time.perf_counter()
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = _pre_tokenizer()
    trainer = trainers.BpeTrainer(vocab_size=len(alphabet) + max_merges, min_frequency=MIN_FREQUENCY,
                                  initial_alphabet=alphabet, show_progress=False, special_tokens=[])
    tokenizer.train_from_iterator(cleaned.splitlines(keepends=True), trainer)
    model = json.loads(tokenizer.to_str())["model"]
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    words = Counter(word for word, _ in _pre_tokenizer().pre_tokenize_str(cleaned))
    if not merges:
        raise InvalidInputError("Nothing to merge: no pair of characters occurs twice in this text. "
                                "Paste more text (a few paragraphs at least).")
    return TrainedBPE(model["vocab"], merges, words, time.perf_counter() - began)


def _replay_counts(words: Counter[str], merges: list[tuple[str, str]]) -> list[int]:
    """How often each merge's pair occurred when it was learned: the merges are applied in order to
    the text's words (as byte-level symbols), counting the pair just before each one."""
    symbols = {word: list(word) for word in words}
    counts = []
    for left, right in merges:
        count = 0
        merged = left + right
        for word, parts in symbols.items():
            if merged not in word:
                continue
            out, i = [], 0
            while i < len(parts):
                if i + 1 < len(parts) and parts[i] == left and parts[i + 1] == right:
                    out.append(merged)
                    count += words[word]
                    i += 2
                else:
                    out.append(parts[i])
                    i += 1
            symbols[word] = out
        counts.append(count)
    return counts


@dataclass(frozen=True)
class TrainingReport:
    """What the panel and ``/train_bpe`` show: the first merges and one sentence at each stage."""

    trained: TrainedBPE
    num_chars: int
    merges: list[Merge]
    stages: list[TokenizationResult]
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "num_merges": len(self.trained.merges), "num_chars": self.num_chars,
            "distinct_words": len(self.trained.words), "seconds": round(self.trained.seconds, 4),
            "merges": [merge.to_dict() for merge in self.merges],
            "stages": [{"merges": stage, "applied": min(stage, len(self.trained.merges)),
                        "num_tokens": result.num_tokens, "round_trip": result.round_trip,
                        "tokens": [{"text": token.text, "piece": token.piece, "id": token.id,
                                    "start": token.start, "end": token.end} for token in result.tokens]}
                       for stage, result in zip(STAGES, self.stages, strict=True)],
            "notes": list(self.notes),
        }


def training_report(text: str | None, sentence: str | None) -> TrainingReport:
    """Train on ``text`` and tokenize ``sentence`` after 100, 500 and 2,000 merges."""
    cleaned = check_training_text(text)
    shown, _ = sanitize_text(sentence)
    if not shown.strip():
        raise InvalidInputError("Type a sentence to tokenize with the trained merges.")
    trained = train_bpe(cleaned, max(STAGES))
    learned = len(trained.merges)
    notes = []
    if learned < max(STAGES):
        notes.append(f"Learned {learned:,} merges, not {max(STAGES):,}: after that no pair occurs "
                     f"{MIN_FREQUENCY} times or more in this text. Paste more text to learn more.")
    return TrainingReport(trained, len(cleaned), trained.first_merges(),
                          [trained.tokenize(shown, stage) for stage in STAGES], notes)
