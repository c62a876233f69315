"""Held-out measures after (or before) training: perplexity on answer tokens, DPO's implicit reward
margin and how often chosen beats rejected, and a student's KL to its teacher.

Each reads the same held-out rows the run set aside (its seed's shuffle), so numbers before and after
training, and across runs of one dataset, are comparable.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from typing import Any

import torch

from playground.finetune.data import IGNORE
from playground.finetune.preference import Triple


def _batches(examples: list[dict], pad_id: int, size: int = 8) -> Any:
    from playground.finetune.train import collate

    pad = collate(pad_id)
    for start in range(0, len(examples), size):
        yield pad(examples[start:start + size])


def _device(model: Any) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def perplexity(model: Any, examples: list[dict], pad_id: int) -> float:
    """exp(mean negative log-likelihood per answer token) over ``examples`` (encoded, prompt masked)."""
    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    for batch in _batches(examples, pad_id):
        batch = {key: value.to(_device(model)) for key, value in batch.items()}
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
        labels = batch["labels"][:, 1:]
        losses = torch.nn.functional.cross_entropy(logits.float().transpose(1, 2), labels, ignore_index=IGNORE,
                                                   reduction="sum")
        total += float(losses)
        count += int((labels != IGNORE).sum())
    model.train(was_training)
    return math.exp(total / max(count, 1))


@torch.no_grad()
def answer_logprob(model: Any, tokenizer: Any, prompt: str, answer: str, turns: tuple = ()) -> float:
    """log p(answer | chat-formatted prompt, or the conversation ``turns``), summed over the answer's tokens."""
    from playground.finetune.data import Pair, encode

    example = encode(Pair(0, prompt, answer, turns), tokenizer, 4096)
    ids = torch.tensor([example["input_ids"]], device=_device(model))
    labels = torch.tensor([example["labels"]], device=_device(model))[:, 1:]
    logits = model(input_ids=ids).logits[:, :-1].float()
    picked = torch.log_softmax(logits, -1).gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return float((picked * (labels != IGNORE)).sum())


def preference_scores(policy: Any, tokenizer: Any, triples: list[Triple], beta: float,
                      reference: Any = None) -> dict[str, float]:
    """DPO's implicit reward margin, beta * [(log pi - log ref)(chosen) - (log pi - log ref)(rejected)],
    averaged over ``triples``, and the share where it is positive (chosen beats rejected).

    ``reference`` None: the policy with its LoRA adapter disabled, as during DPO training.
    """
    margins = []
    was_training = policy.training
    policy.eval()
    for triple in triples:
        mine = [answer_logprob(policy, tokenizer, triple.prompt, answer, triple.turns)
                for answer in (triple.chosen, triple.rejected)]
        context = policy.disable_adapter() if reference is None else nullcontext()
        with context:
            ref = [answer_logprob(reference or policy, tokenizer, triple.prompt, answer, triple.turns)
                   for answer in (triple.chosen, triple.rejected)]
        margins.append(beta * ((mine[0] - ref[0]) - (mine[1] - ref[1])))
    policy.train(was_training)
    return {"reward_margin": sum(margins) / len(margins), "chosen_wins": sum(m > 0 for m in margins) / len(margins),
            "pairs": len(margins)}


@torch.no_grad()
def kl_to_teacher(student: Any, teacher: Any, examples: list[dict], pad_id: int, temperature: float = 1.0) -> float:
    """Mean KL(teacher || student) per answer token on ``examples``, at ``temperature``."""
    from playground.finetune.methods.distill import forward_kl

    values, weights = [], []
    was_training = student.training
    student.eval()
    for batch in _batches(examples, pad_id):
        batch = {key: value.to(_device(student)) for key, value in batch.items()}
        inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
        kl = forward_kl(student(**inputs).logits.float(), teacher(**inputs).logits.float(), batch["labels"],
                        temperature)
        values.append(float(kl))
        weights.append(int((batch["labels"][:, 1:] != IGNORE).sum()))
    student.train(was_training)
    return sum(v * w for v, w in zip(values, weights, strict=True)) / max(sum(weights), 1)
