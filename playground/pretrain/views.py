"""Objectives side by side: what each one turns one sample of text into, as plain data for a page.

Built from the same functions the training batches use (:mod:`playground.pretrain.objectives`), so what the
page shows is what the model trains on.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import torch

from playground.pretrain.objectives import IGNORE, RULES, check_objective, make_batch
from playground.pretrain.tokenizer import sentinel_tokens


def objective_view(objective: str, ids: list[int], tokenizer: Any, seed: int = 0) -> dict[str, Any]:
    """``ids`` (plain text tokens) under ``objective``, drawn with ``seed``: tokens, inputs, targets and counts."""
    check_objective(objective)
    generator = torch.Generator().manual_seed(seed)
    batch = make_batch(objective, torch.tensor([ids]), tokenizer, generator)
    inputs, labels = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()
    view = {"objective": objective, "rule": RULES[objective], "tokens": pieces(tokenizer, ids)}
    if objective == "clm":
        return {**view, **_clm(ids, tokenizer)}
    if objective == "mlm":
        return {**view, **_mlm(ids, inputs, labels, tokenizer)}
    return {**view, **_span(inputs, labels, tokenizer)}


def pieces(tokenizer: Any, ids: list[int]) -> list[str]:
    """Each token as readable text (' world', not 'Ġworld')."""
    return [tokenizer.decode([token]) for token in ids]


def _clm(ids: list[int], tokenizer: Any) -> dict[str, Any]:
    return {"inputs": pieces(tokenizer, ids[:-1]), "targets": pieces(tokenizer, ids[1:]),
            "input_text": tokenizer.decode(ids[:-1]), "target_text": tokenizer.decode(ids[1:]),
            "counts": {"tokens": len(ids), "scored": len(ids) - 1}}


def mlm_actions(original: list[int], inputs: list[int], labels: list[int], mask_id: int) -> list[str | None]:
    """Per position: None (not chosen), "mask", "random" or "unchanged" (a random draw of the same token
    reads as unchanged: the model cannot tell them apart either)."""
    actions: list[str | None] = []
    for token, shown, label in zip(original, inputs, labels, strict=True):
        if label == IGNORE:
            actions.append(None)
        else:
            actions.append("mask" if shown == mask_id else "unchanged" if shown == token else "random")
    return actions


def _mlm(ids: list[int], inputs: list[int], labels: list[int], tokenizer: Any) -> dict[str, Any]:
    actions = mlm_actions(ids, inputs, labels, tokenizer.mask_token_id)
    chosen = [{"index": index, "token": tokenizer.decode([ids[index]]), "input": tokenizer.decode([inputs[index]]),
               "action": action} for index, action in enumerate(actions) if action]
    counts = Counter(action for action in actions if action)
    return {"inputs": pieces(tokenizer, inputs), "chosen": chosen, "input_text": tokenizer.decode(inputs),
            "target_text": " | ".join(item["token"] for item in chosen),
            "counts": {"tokens": len(ids), "chosen": len(chosen), "mask": counts["mask"],
                       "random": counts["random"], "unchanged": counts["unchanged"]}}


def _span(inputs: list[int], target: list[int], tokenizer: Any) -> dict[str, Any]:
    sentinels = set(tokenizer.convert_tokens_to_ids(sentinel_tokens()))
    spans: list[dict[str, Any]] = []
    for token in target:
        if token == tokenizer.eos_token_id:
            break
        if token in sentinels:
            spans.append({"sentinel": tokenizer.convert_ids_to_tokens(token), "ids": []})
        elif spans:
            spans[-1]["ids"].append(token)
    hidden = [{"sentinel": span["sentinel"], "text": tokenizer.decode(span["ids"]), "tokens": len(span["ids"])}
              for span in spans]
    return {"inputs": pieces(tokenizer, inputs), "targets": pieces(tokenizer, target), "spans": hidden,
            "input_text": tokenizer.decode(inputs), "target_text": tokenizer.decode(target),
            "counts": {"tokens": len(inputs) - 1 - len(spans) + sum(span["tokens"] for span in hidden),
                       "spans": len(spans), "cut": sum(span["tokens"] for span in hidden),
                       "input_tokens": len(inputs), "target_tokens": len(target)}}
