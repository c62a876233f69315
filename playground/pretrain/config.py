"""A pre-training run's settings: validated once, saved as the run folder's config.json (``kind: pretrain``).

The fine-tuning runner starts, stops and lists these runs in the same runs folder; its worker entry point
reads ``kind`` and hands the folder to :mod:`playground.pretrain.worker`. The user's own text is kept beside
the config (``corpus.txt``), not inside it, so listing runs never carries megabytes of text around.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from playground.core.errors import InvalidInputError
from playground.core.settings import DEFAULT_CAUSAL_MODEL
from playground.core.validation import settings_object
from playground.finetune.config import RUN_NAME
from playground.pretrain.loop import TrainSettings
from playground.pretrain.objectives import OBJECTIVES
from playground.pretrain.sizes import ModelSize

KIND = "pretrain"
CORPORA = ("shakespeare", "text")
BPE = "bpe"
CORPUS_FILE = "corpus.txt"
MAX_TEXT_CHARS = 5_000_000
"""The user's own text: a few MB trains these models for far longer than a class waits."""
MIN_VOCAB, MAX_VOCAB = 512, 16_384


@dataclass(frozen=True)
class PretrainConfig:
    """Everything a pre-training run needs; ``__post_init__`` refuses a bad value with a clear message."""

    kind: str = KIND
    family: str = "decoder"
    objective: str = ""
    """clm, mlm or span; empty: the family's own (decoder: clm, encoder: mlm, encoder-decoder: span)."""
    layers: int = 2
    width: int = 64
    heads: int = 2
    context: int = 64
    tokenizer: str = BPE
    """'bpe': a byte-level BPE of ``vocab_size`` learned on the corpus; else a model name whose tokenizer is
    reused (e.g. the embedded smollm2-135m-instruct's 49k vocabulary: a far bigger embedding table)."""
    vocab_size: int = 2048
    corpus: str = "shakespeare"
    text: str = ""
    """The user's text when ``corpus`` is 'text'."""
    steps: int = 60
    batch_size: int = 8
    learning_rate: float = 3e-3
    eval_every: int = 20
    eval_sequences: int = 16
    seed: int = 0
    prompt: str = "ROMEO:\n"
    sample_tokens: int = 24
    run_name: str = ""

    def __post_init__(self) -> None:
        if self.kind != KIND:
            raise InvalidInputError(f"A pre-training config has kind '{KIND}', got {self.kind!r}.")
        self.size()  # family, layers, width, heads and context, each with its own message
        expected = OBJECTIVES[self.family]
        if not self.objective:
            object.__setattr__(self, "objective", expected)
        elif self.objective != expected:
            raise InvalidInputError(f"The {self.family} family trains with '{expected}' (GPT: clm, BERT: mlm, T5: "
                                    f"span), not {self.objective!r}: change the family or the objective.")
        if not isinstance(self.tokenizer, str) or not self.tokenizer.strip():
            raise InvalidInputError("tokenizer must be 'bpe' (learned on the corpus) or a model name whose "
                                    "tokenizer to reuse.")
        if self.tokenizer == BPE:
            self.size().with_vocab(self.vocab_size)  # the bounds every model size has
            if not MIN_VOCAB <= self.vocab_size <= MAX_VOCAB:
                raise InvalidInputError(f"vocab_size must be from {MIN_VOCAB:,} to {MAX_VOCAB:,} for a BPE learned "
                                        f"here, got {self.vocab_size!r} (2,000 to 8,000 suits a few MB of text).")
            object.__setattr__(self, "vocab_size", int(self.vocab_size))
        self._check_corpus()
        self.settings()  # steps, batch size, learning rate, eval_every...
        if self.run_name and not (isinstance(self.run_name, str) and RUN_NAME.fullmatch(self.run_name)):
            raise InvalidInputError("run_name may use letters, digits, '-', '_' and '.', up to 64 characters, "
                                    "starting with a letter or digit.")

    def _check_corpus(self) -> None:
        if self.corpus not in CORPORA:
            raise InvalidInputError(f"corpus must be 'shakespeare' (shipped) or 'text' (yours, in 'text'), "
                                    f"got {self.corpus!r}.")
        if not isinstance(self.text, str):
            raise InvalidInputError(f"text must be a string, got {type(self.text).__name__}.")
        if self.corpus == "text" and not self.text.strip():
            raise InvalidInputError("corpus is 'text' but text is empty: paste some text (a few hundred KB is "
                                    "best), or use corpus 'shakespeare'.")
        if self.corpus == "shakespeare" and self.text:
            raise InvalidInputError("text is given but corpus is 'shakespeare': set corpus to 'text' to train on it.")
        if len(self.text) > MAX_TEXT_CHARS:
            raise InvalidInputError(f"The text is {len(self.text):,} characters; at most {MAX_TEXT_CHARS:,} here.")

    @property
    def max_steps(self) -> int:
        """What the runner caps and the status counts."""
        return self.steps

    def size(self, vocab: int | None = None) -> ModelSize:
        """The model's shape; its vocabulary is the tokenizer's (known only once the tokenizer exists)."""
        return ModelSize(self.family, self.layers, self.width, self.heads, self.context,
                         vocab if vocab is not None else (self.vocab_size if self.tokenizer == BPE else 4096))

    def settings(self) -> TrainSettings:
        try:
            return TrainSettings(steps=self.steps, batch_size=self.batch_size, learning_rate=self.learning_rate,
                                 eval_every=self.eval_every, eval_sequences=self.eval_sequences, seed=self.seed,
                                 prompt=self.prompt, sample_tokens=self.sample_tokens)
        except TypeError as error:  # a string where a number belongs, compared against a bound
            raise InvalidInputError(f"A training setting has the wrong type: {error}.") from error

    def to_dict(self) -> dict[str, Any]:
        """Plain data without the text itself (its length instead): what listings and the page show."""
        data = asdict(self)
        data.pop("text")
        return {**data, "text_chars": len(self.text)}

    @classmethod
    def from_dict(cls, data: Any) -> PretrainConfig:
        if isinstance(data, dict):  # text_chars is what to_dict reports in place of the text itself
            data = {key: value for key, value in data.items() if key != "text_chars"}
        return cls(**settings_object(cls, data))

    @classmethod
    def load(cls, path: str | Path) -> PretrainConfig:
        path = Path(path)
        data = read_json(path)
        if data.get("corpus") == "text" and (path.parent / CORPUS_FILE).is_file():
            data["text"] = (path.parent / CORPUS_FILE).read_text(encoding="utf-8")
        return cls.from_dict(data)

    def save(self, path: str | Path) -> None:
        path = Path(path)
        if self.text:
            (path.parent / CORPUS_FILE).write_text(self.text, encoding="utf-8")
        path.write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")

    def with_changes(self, **changes: Any) -> PretrainConfig:
        return replace(self, **changes)


def read_json(path: Path) -> dict[str, Any]:
    """A config file as a dict, or a clear error."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:
        raise InvalidInputError(f"Could not read the config {path}: {error}") from error
    if not isinstance(data, dict):
        raise InvalidInputError(f"The config {path} is not a JSON object.")
    return data


DEFAULT_TOKENIZER_MODEL = DEFAULT_CAUSAL_MODEL
