"""The estimate counts what a step puts through the model: GRPO's group of answers per prompt, the two answers
of DPO and the reward model, one sequence otherwise."""

from __future__ import annotations

import pytest
from transformers import LlamaConfig

from playground.finetune.config import FinetuneConfig
from playground.finetune.estimate import estimate, sequences_per_row
from playground.finetune.rewards import ARITHMETIC_REWARDS

TINY = LlamaConfig(vocab_size=256, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                   num_attention_heads=4, num_key_value_heads=2)
GRPO = dict(method="grpo", dataset="arithmetic_answers", rewards=[dict(spec) for spec in ARITHMETIC_REWARDS])


@pytest.mark.parametrize(("settings", "sequences"), [
    (dict(method="lora"), 1), (dict(method="dpo", dataset="concise"), 2), (dict(method="reward", dataset="concise"), 2),
    ({**GRPO, "group_size": 4}, 4), ({**GRPO, "group_size": 8}, 8)])
def test_each_method_counts_the_sequences_a_row_puts_through_the_model(settings, sequences):
    assert sequences_per_row(FinetuneConfig(**settings)) == sequences


def test_a_grpo_estimate_grows_with_the_group():
    four, eight = (estimate(FinetuneConfig(**GRPO, group_size=group), TINY, "cpu") for group in (4, 8))
    assert eight.minutes == pytest.approx(2 * four.minutes)
    assert eight.activations_gb == pytest.approx(2 * four.activations_gb)
    assert eight.trainable_params == four.trainable_params  # the same LoRA policy
