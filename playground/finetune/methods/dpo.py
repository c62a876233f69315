"""Direct preference optimisation with TRL's DPOTrainer: a LoRA adapter is the policy, and the same
model with the adapter switched off is the reference, so no second copy of the weights is held.

The loss pushes up log p(chosen) - log p(rejected) relative to the reference, scaled by ``dpo_beta``;
TRL logs the reward margin and how often the chosen answer wins, which the step events carry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playground.core.device import Device
from playground.finetune.config import FinetuneConfig
from playground.finetune.methods import Built, parameter_info
from playground.finetune.methods.sft import lora_config
from playground.finetune.preference import as_dataset, split_triples


def build_dpo(config: FinetuneConfig, run_dir: Path, device: Device, callback_of: Any) -> Built:
    from trl import DPOConfig, DPOTrainer

    from playground.core.settings import Settings
    from playground.finetune.train import model_kwargs, training_arguments
    from playground.models.store import ModelStore

    train_set, held_out = split_triples(config)
    store = ModelStore(Settings.from_env())
    tokenizer = store.hf_tokenizer(config.base_model)
    model = store.private_causal_lm(config.base_model, **model_kwargs(config, device))
    # TRL turns gradient checkpointing on by default; the other methods run without it, and the
    # trade-off table compares them like for like (and it roughly doubles a CPU step).
    arguments = training_arguments(run_dir, config, device, DPOConfig, beta=config.dpo_beta,
                                   max_length=config.max_seq_length, gradient_checkpointing=False)
    trainer = DPOTrainer(model=model, args=arguments, train_dataset=as_dataset(train_set),
                         eval_dataset=as_dataset(held_out), processing_class=tokenizer,
                         peft_config=lora_config(config, model), callbacks=[callback_of(tokenizer)])
    return Built(trainer, tokenizer, [], parameter_info(trainer.model))
