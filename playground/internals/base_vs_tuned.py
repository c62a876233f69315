"""Base against fine-tuned: what the training changed inside, on the same text.

A finished run's model (base + LoRA/QLoRA/DPO adapter, or a full or distilled model) gets its own hookable
view, and three of the Inside tab's views are computed for both models and subtracted:

- the **next-token distribution**: the union of both top tokens with each model's probability, and
  KL(base || tuned) in bits;
- the **logit lens** as a difference: KL(base || tuned) between what each layer of the two models would
  predict at each of the last positions (layer x position, bits): where in depth the predictions part;
- **head attribution** for one token: each head's direct contribution to its logit in both models and
  tuned - base (layer x head): which heads the training re-weighted.

A distilled student has fewer layers than its teacher: its distribution and its own lens are compared,
the layer-by-layer differences are not defined and say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from playground.core.errors import InvalidInputError
from playground.internals import attribution
from playground.internals.inspector import compare
from playground.internals.logit_lens import DEFAULT_POSITIONS, lens_logits, row_chunks
from playground.internals.tracing import ModelView, Trace, trace

if TYPE_CHECKING:
    from playground.finetune.adapters import AdapterModels
    from playground.finetune.runner import JobRunner
    from playground.generation.engine import GenerationEngine
    from playground.internals.inspector import ModelInspector

LN2 = float(torch.log(torch.tensor(2.0)))


@dataclass(frozen=True)
class InternalsRequest:
    """A finished run, a text, and the token whose head attribution is compared (empty: the base's top one).
    ``chat``: both models read the text as a user's turn, as a chat fine-tune was trained, and predict the first
    token of their answer; otherwise the raw text, whose next token often ends the user's turn."""

    run_id: str
    text: str
    token: str = ""
    chat: bool = False

    def __post_init__(self) -> None:
        if not (self.run_id or "").strip():
            raise InvalidInputError("Choose a run first: its fine-tuned model is compared with its base.")
        if not (self.text or "").strip():
            raise InvalidInputError("Type some text: both models predict the token that comes after it.")


@dataclass(frozen=True)
class InternalsComparison:
    run_id: str
    base_model: str
    tokens: list[str]
    distribution: dict[str, Any]
    lens_positions: list[int]
    lens_kl_bits: list[list[float]] | None
    """(embeddings + layers) x positions; None where the two models' depths differ."""
    token: str
    token_id: int
    heads_base: list[list[float]]
    heads_tuned: list[list[float]]
    heads_difference: list[list[float]] | None
    note: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "base_model": self.base_model, "tokens": self.tokens,
                "distribution": self.distribution, "lens_positions": self.lens_positions,
                "lens_kl_bits": self.lens_kl_bits, "token": self.token, "token_id": self.token_id,
                "heads_base": self.heads_base, "heads_tuned": self.heads_tuned,
                "heads_difference": self.heads_difference, "note": self.note}


def lens_divergence(base: ModelView, base_trace: Trace, tuned: ModelView, tuned_trace: Trace,
                    positions: int = DEFAULT_POSITIONS) -> tuple[list[int], list[list[float]]]:
    """KL(base || tuned) in bits between the two lenses, per row (embeddings, then each layer) and position."""
    start = max(0, base_trace.num_tokens - positions)
    window = slice(start, base_trace.num_tokens)
    rows = base.parts.num_layers + 1
    divergence: list[list[float]] = []
    for chunk in row_chunks(rows, window.stop - window.start):
        old = torch.log_softmax(lens_logits(base.parts, base_trace, chunk, window), dim=-1)
        new = torch.log_softmax(lens_logits(tuned.parts, tuned_trace, chunk, window), dim=-1)
        kl = (old.exp() * (old - new)).sum(-1).clamp_min(0) / LN2
        divergence += torch.round(kl.double(), decimals=6).tolist()
    return list(range(start, base_trace.num_tokens)), divergence


def compare_internals(inspector: ModelInspector, base_model: str, tuned_model: Any, run_id: str,
                      request: InternalsRequest) -> InternalsComparison:
    """The three views for the base (the Inside tab's view and cached trace) and the tuned model (its own
    view, the same token ids)."""
    base_view = inspector.view(base_model)
    text = inspector.as_user_turn(base_model, request.text) if request.chat else request.text
    base_trace = inspector.trace(text, base_model)
    tuned_view = inspector.view_of_model(tuned_model, f"run {run_id}")
    tuned_trace = trace(tuned_view, list(base_trace.ids), list(base_trace.tokens), base_trace.total_tokens)
    decode = lambda token_id: inspector.decode(base_model, token_id)  # noqa: E731 - one line, used thrice
    side = compare(base_trace.logits, tuned_trace.logits, decode)
    side["tokens"] = [{"id": t["id"], "text": t["text"], "base_prob": t["prob"], "tuned_prob": t["ablated_prob"]}
                      for t in side["tokens"]]
    token_id = inspector.token_id(text, base_model, request.token or None)
    heads_base = attribution.direct_attribution(base_view.parts, base_trace, token_id)["heads"]
    heads_tuned = attribution.direct_attribution(tuned_view.parts, tuned_trace, token_id)["heads"]
    same_depth = (base_view.parts.num_layers, base_view.parts.num_heads) == (tuned_view.parts.num_layers,
                                                                             tuned_view.parts.num_heads)
    positions, kl = lens_divergence(base_view, base_trace, tuned_view, tuned_trace) if same_depth else ([], None)
    difference = ((torch.tensor(heads_tuned) - torch.tensor(heads_base)).tolist() if same_depth else None)
    note = None if same_depth else (
        f"The fine-tuned model has {tuned_view.parts.num_layers} layers x {tuned_view.parts.num_heads} heads and "
        f"the base {base_view.parts.num_layers} x {base_view.parts.num_heads} (a distilled student): the "
        "distributions compare, layer-by-layer differences are not defined.")
    return InternalsComparison(
        run_id=run_id, base_model=base_model, tokens=list(base_trace.tokens),
        distribution={"tokens": side["tokens"], "top_base": side["top_before"], "top_tuned": side["top_after"],
                      "top_changed": side["top_changed"], "kl_bits": side["kl_bits"]},
        lens_positions=positions, lens_kl_bits=kl, token=decode(token_id), token_id=token_id,
        heads_base=heads_base, heads_tuned=heads_tuned, heads_difference=difference, note=note)


def compare_run(inspector: ModelInspector, runner: JobRunner, engine: GenerationEngine, adapters: AdapterModels,
                request: InternalsRequest) -> InternalsComparison:
    """``/compare_internals``: the run's trained model against its base model on the request's text."""
    from playground.finetune.trained import tuned_model

    config, tuned = tuned_model(runner, engine, adapters, request.run_id)
    return compare_internals(inspector, config.base_model, tuned, request.run_id, request)
