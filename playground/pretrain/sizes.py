"""The shape of a model trained from scratch, checked before anything is built, and the model it builds.

One dataclass for the three families so a sweep can vary sizes the same way for each. Every family gets a
feed-forward four times its width, as GPT-2, BERT and T5 do, so the non-embedding parameter count is about
``12 * layers * width**2`` per stack (Kaplan et al.'s N), which is what scaling laws count.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

from playground.core.errors import InvalidInputError
from playground.core.validation import whole_number

Family = Literal["decoder", "encoder", "encoder-decoder"]
FAMILIES: tuple[str, ...] = ("decoder", "encoder", "encoder-decoder")
BOUNDS: dict[str, tuple[int, int, str]] = {
    "layers": (1, 12, "a CPU trains 1 to 6 layers in minutes"),
    "width": (16, 768, "the hidden size: 64 to 256 trains in minutes on a CPU"),
    "heads": (1, 16, "attention heads; the width must split evenly between them"),
    "context": (8, 1024, "tokens per training sequence: 64 to 256 keeps a CPU step short"),
    "vocab": (64, 65_536, "the tokenizer's size: a BPE of 2,000 to 8,000 suits a few MB of text"),
}
FFN_RATIO = 4


@dataclass(frozen=True)
class ModelSize:
    """A family and its sizes; sliders send floats (64.0), which count as the whole numbers they are."""

    family: str = "decoder"
    layers: int = 2
    width: int = 64
    heads: int = 2
    context: int = 128
    vocab: int = 4096

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise InvalidInputError(f"Model family must be one of {', '.join(FAMILIES)}, got {self.family!r}.")
        for name, (low, high, hint) in BOUNDS.items():
            object.__setattr__(self, name, whole_number(name.capitalize(), getattr(self, name), low, high, hint))
        if self.width % self.heads:
            nearest = self.heads * max(self.width // self.heads, 1)
            raise InvalidInputError(f"Width {self.width} does not split into {self.heads} heads: pick a width that "
                                    f"is a multiple of the heads (e.g. {nearest}) or a head count that divides it.")
        if self.width // self.heads < 4:
            raise InvalidInputError(f"{self.heads} heads of width {self.width} leave {self.width // self.heads} "
                                    "dimensions per head; use fewer heads (at least 4 dimensions each).")

    @property
    def head_dim(self) -> int:
        return self.width // self.heads

    def to_dict(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in fields(self)}

    def with_vocab(self, vocab: int) -> ModelSize:
        """The same shape for a tokenizer of ``vocab`` entries (the vocabulary is the tokenizer's choice)."""
        return ModelSize(self.family, self.layers, self.width, self.heads, self.context, vocab)


def model_config(size: ModelSize, special_ids: dict[str, int]) -> Any:
    """A transformers config for ``size``; ``special_ids`` holds pad, eos and (for BERT) mask token ids.

    GPT-2 for the decoder (learned positions, 4x MLP: the model nanoGPT reproduces), BERT for the encoder
    (with its masked-LM head) and T5 for the encoder-decoder (relative positions, no context limit of its own).
    Dropout is off: runs this short never overfit, and without it a run is repeatable from its seed.
    """
    from transformers import BertConfig, GPT2Config, T5Config

    pad, eos = special_ids["pad"], special_ids["eos"]
    if size.family == "decoder":
        return GPT2Config(vocab_size=size.vocab, n_positions=size.context, n_embd=size.width, n_layer=size.layers,
                          n_head=size.heads, n_inner=FFN_RATIO * size.width, resid_pdrop=0.0, embd_pdrop=0.0,
                          attn_pdrop=0.0, bos_token_id=eos, eos_token_id=eos, pad_token_id=pad)
    if size.family == "encoder":
        return BertConfig(vocab_size=size.vocab, hidden_size=size.width, num_hidden_layers=size.layers,
                          num_attention_heads=size.heads, intermediate_size=FFN_RATIO * size.width,
                          max_position_embeddings=size.context, type_vocab_size=1, hidden_dropout_prob=0.0,
                          attention_probs_dropout_prob=0.0, pad_token_id=pad)
    return T5Config(vocab_size=size.vocab, d_model=size.width, d_kv=size.head_dim, d_ff=FFN_RATIO * size.width,
                    num_layers=size.layers, num_decoder_layers=size.layers, num_heads=size.heads, dropout_rate=0.0,
                    pad_token_id=pad, eos_token_id=eos, decoder_start_token_id=pad)


def build_model(size: ModelSize, special_ids: dict[str, int], seed: int = 0) -> Any:
    """A randomly initialised model of ``size`` (the same weights for the same seed), in training mode."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = auto_class(size.family).from_config(model_config(size, special_ids))
    return model.train()


def auto_class(family: str) -> Any:
    """The transformers Auto class that builds (and later loads) a model of ``family``."""
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoModelForSeq2SeqLM

    return {"decoder": AutoModelForCausalLM, "encoder": AutoModelForMaskedLM,
            "encoder-decoder": AutoModelForSeq2SeqLM}[family]


@dataclass(frozen=True)
class ParameterCount:
    """Total parameters and the non-embedding ones (Kaplan et al. fit laws on those: embeddings are lookups)."""

    total: int
    embedding: int

    @property
    def non_embedding(self) -> int:
        return self.total - self.embedding

    @property
    def flops_per_token(self) -> int:
        """Training FLOPs per token, ``6 N`` (2 forward, 4 backward per weight), N non-embedding as in Kaplan."""
        return 6 * self.non_embedding

    def to_dict(self) -> dict[str, int]:
        return {"total": self.total, "embedding": self.embedding, "non_embedding": self.non_embedding,
                "flops_per_token": self.flops_per_token}


def count_parameters(model: Any) -> ParameterCount:
    """Unique parameters (tied input and output embeddings count once); embeddings are token and position tables."""
    import torch

    seen: set[int] = set()
    total = embedding = 0
    for module in model.modules():
        for parameter in module.parameters(recurse=False):
            if id(parameter) in seen:
                continue
            seen.add(id(parameter))
            total += parameter.numel()
            if isinstance(module, torch.nn.Embedding):
                embedding += parameter.numel()
    return ParameterCount(total, embedding)


def count_for(size: ModelSize) -> ParameterCount:
    """The parameters ``size`` would have, counted on a model built on the meta device (no memory, no weights):
    what a page shows live while the sliders move, and what a sweep plans its steps with.

    Built under the app's model-build lock: a model loading in another thread swaps transformers' process-wide
    ``tie_weights`` meanwhile, and the output layer would come back untied and be counted twice."""
    import torch

    from playground.models.build_lock import build_lock

    with build_lock("causal-lm"), torch.device("meta"):
        model = auto_class(size.family).from_config(model_config(size, {"pad": 0, "eos": 1, "mask": 2}))
    return count_parameters(model)
