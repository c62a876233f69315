"""A finished reward run as a scorer: load it, score (prompt, answer) pairs, and measure it on held-out pairs.

The text scored is the one TRL's RewardTrainer trained on: the chat template over the user's prompt and
the assistant's answer. The score is the scalar head's output at the last token; only differences
between scores mean anything (the loss sees r(chosen) - r(rejected)).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from playground.core.errors import InvalidInputError
from playground.finetune.config import FinetuneConfig
from playground.finetune.preference import Triple

MAX_ANSWERS = 64
BATCH = 8


@dataclass
class RewardModel:
    model: Any
    tokenizer: Any
    max_length: int

    @torch.no_grad()
    def score(self, prompts: Sequence[Any], answers: Sequence[str]) -> list[float]:
        """One score per (prompt, answer); a prompt is text or chat turns (as TRL passes conversational ones)."""
        texts = [self._text(prompt, answer) for prompt, answer in zip(prompts, answers, strict=True)]
        scores: list[float] = []
        for start in range(0, len(texts), BATCH):
            batch = self.tokenizer(texts[start:start + BATCH], return_tensors="pt", padding=True, truncation=True,
                                   max_length=self.max_length, add_special_tokens=False)
            device = next(self.model.parameters()).device
            logits = self.model(**{key: value.to(device) for key, value in batch.items()}).logits
            scores.extend(float(value) for value in logits[:, 0].float())
        return scores

    def _text(self, prompt: Any, answer: str) -> str:
        turns = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
        return self.tokenizer.apply_chat_template([*turns, {"role": "assistant", "content": answer}], tokenize=False)


def load_reward_model(run_dir: Path) -> RewardModel:
    """The run's scalar-head model (base + adapter and head, or whole weights), in eval mode."""
    from playground.core.settings import Settings
    from playground.models.store import ModelStore

    config = FinetuneConfig.load(run_dir / "config.json")
    if not config.training_method.scorer:
        raise InvalidInputError(f"Run {run_dir.name} trained with {config.method}, not a reward model: train one with "
                                "the method 'reward'.")
    store = ModelStore(Settings.from_env())
    whole = run_dir / "model"
    adapter = run_dir / "adapter"
    if (whole / "config.json").is_file():
        model, tokenizer = store.private_reward_model(str(whole)), store.hf_tokenizer(str(whole))
    elif (adapter / "adapter_config.json").is_file():
        from peft import PeftModel

        tokenizer = store.hf_tokenizer(config.base_model)
        base = store.private_reward_model(config.base_model, pad_token_id=_pad_id(tokenizer))
        model = PeftModel.from_pretrained(base, str(adapter))
    else:
        raise InvalidInputError(f"Run {run_dir.name} has no saved reward model yet: it is saved when the run "
                                "finishes or is stopped.")
    model.config.pad_token_id = _pad_id(tokenizer)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return RewardModel(model.eval(), tokenizer, max(config.max_seq_length, 512))


def _pad_id(tokenizer: Any) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def check_answers(prompt: str, answers: Sequence[str]) -> list[str]:
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidInputError("Type the prompt the answers reply to.")
    if isinstance(answers, str):
        answers = [line for line in answers.split("\n") if line.strip()]
    if not answers or not all(isinstance(answer, str) and answer.strip() for answer in answers):
        raise InvalidInputError("Give at least one answer to score (an empty answer cannot be scored).")
    if len(answers) > MAX_ANSWERS:
        raise InvalidInputError(f"At most {MAX_ANSWERS} answers at once; {len(answers)} were given.")
    return list(answers)


def held_out_accuracy(scorer: RewardModel, triples: Sequence[Triple]) -> dict[str, Any]:
    """How often chosen scores above rejected on ``triples`` (with its 95% Wilson interval), and both
    answers' scores, for the page's two distributions."""
    from playground.prompting.answers import wilson_interval

    prompts = [triple.chat() for triple in triples]
    chosen = scorer.score(prompts, [triple.chosen for triple in triples])
    rejected = scorer.score(prompts, [triple.rejected for triple in triples])
    wins = sum(c > r for c, r in zip(chosen, rejected, strict=True))
    low, high = wilson_interval(wins, len(triples))
    return {"pairs": len(triples), "accuracy": wins / max(len(triples), 1), "low": low, "high": high,
            "chosen": chosen, "rejected": rejected}
