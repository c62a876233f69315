"""Supervised fine-tuning of (prompt, response) pairs: every weight (full), or a LoRA adapter over a
16/32-bit base (lora) or a 4-bit NF4 one (qlora). The prompt's tokens are masked out of the loss."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playground.core.device import Device
from playground.finetune.config import FinetuneConfig
from playground.finetune.data import prepare
from playground.finetune.methods import Built, parameter_info


def load_model(config: FinetuneConfig, device: Device) -> tuple[Any, Any]:
    """The base model ready to train: whole (full), or wrapped with a fresh LoRA adapter."""
    from peft import get_peft_model, prepare_model_for_kbit_training

    from playground.core.settings import Settings
    from playground.finetune.train import model_kwargs
    from playground.models.store import ModelStore

    store = ModelStore(Settings.from_env())
    tokenizer = store.hf_tokenizer(config.base_model)
    model = store.private_causal_lm(config.base_model, **model_kwargs(config, device))
    if config.method == "full":
        model.train()
        for parameter in model.parameters():
            parameter.requires_grad_(True)
        return model, tokenizer
    if config.method == "qlora":
        model = prepare_model_for_kbit_training(model)
    return get_peft_model(model, lora_config(config)), tokenizer


def lora_config(config: FinetuneConfig) -> Any:
    from peft import LoraConfig

    return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=list(config.target_modules), task_type="CAUSAL_LM")


def build_sft(config: FinetuneConfig, run_dir: Path, device: Device, callback_of: Any) -> Built:
    from transformers import Trainer

    from playground.finetune.train import collate, training_arguments

    model, tokenizer = load_model(config, device)
    train_set, eval_set, notes = prepare(config, tokenizer)
    trainer = Trainer(model=model, args=training_arguments(run_dir, config, device), train_dataset=train_set,
                      eval_dataset=eval_set, data_collator=collate(tokenizer.pad_token_id or 0),
                      callbacks=[callback_of(tokenizer)])
    return Built(trainer, tokenizer, notes, parameter_info(model))
