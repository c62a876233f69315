"""A reward model with TRL's RewardTrainer: the base model with a scalar head (a sequence classifier with
one output) learns to score the chosen answer above the rejected one, the Bradley-Terry loss
-log sigmoid(r(chosen) - r(rejected)). ``reward`` trains a LoRA adapter and the head (peft keeps the new
head trainable and saves it with the adapter); ``reward_full`` trains every weight.

It reads the same preference pairs as DPO (shipped, uploaded, Hub, or the class's votes); TRL logs how
often chosen scores higher in a batch and the mean margin, which the step events carry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playground.core.device import Device
from playground.finetune.config import FinetuneConfig
from playground.finetune.methods import Built, parameter_info
from playground.finetune.preference import as_dataset, split_triples


def build_reward(config: FinetuneConfig, run_dir: Path, device: Device, callback_of: Any) -> Built:
    from peft import LoraConfig
    from trl import RewardConfig, RewardTrainer

    from playground.core.settings import Settings
    from playground.finetune.targets import resolve_targets
    from playground.finetune.train import model_kwargs, training_arguments
    from playground.models.store import ModelStore

    train_set, held_out = split_triples(config)
    store = ModelStore(Settings.from_env())
    tokenizer = store.hf_tokenizer(config.base_model)
    model = store.private_reward_model(config.base_model, **model_kwargs(config, device))
    model.config.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    peft_config = None
    if config.training_method.trains == "adapter":
        peft_config = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                                 target_modules=resolve_targets(model, config.target_modules).peft, task_type="SEQ_CLS")
    else:
        model.train()
    # As for DPO: no gradient checkpointing, so the methods' steps compare like for like.
    arguments = training_arguments(run_dir, config, device, RewardConfig, max_length=config.max_seq_length,
                                   gradient_checkpointing=False)
    trainer = RewardTrainer(model=model, args=arguments, train_dataset=as_dataset(train_set),
                            eval_dataset=as_dataset(held_out), processing_class=tokenizer, peft_config=peft_config,
                            callbacks=[callback_of(tokenizer)])
    return Built(trainer, tokenizer, left_out(len(trainer.train_dataset), len(train_set), config),
                 parameter_info(trainer.model))


def left_out(kept: int, given: int, config: FinetuneConfig) -> list[str]:
    """TRL drops pairs longer than ``max_seq_length``: a note says how many; none left is an error."""
    from playground.core.errors import InvalidInputError

    if kept == 0:
        raise InvalidInputError(f"Every training pair is longer than max_seq_length ({config.max_seq_length} "
                                "tokens) with its prompt: raise it.")
    if kept < given:
        return [f"{given - kept} of {given} training pair(s) are longer than max_seq_length "
                f"({config.max_seq_length} tokens) and were left out."]
    return []
