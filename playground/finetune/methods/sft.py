"""Supervised fine-tuning of (prompt, response) pairs with TRL's SFTTrainer: every weight (full), or a
LoRA adapter over a 16/32-bit base (lora) or a 4-bit NF4 one (qlora).

The pairs reach TRL as conversational prompt/completion rows; it applies the chat template, masks
the prompt's tokens out of the loss (``completion_only_loss``), cuts rows at ``max_seq_length`` and
pads the batches. Distillation trains on the same rows through the same preparation.
"""

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
    if config.training_method.trains == "all":
        model.train()
        for parameter in model.parameters():
            parameter.requires_grad_(True)
        return model, tokenizer
    if config.training_method.base_in_4bit:
        model = prepare_model_for_kbit_training(model)
    return get_peft_model(model, lora_config(config, model)), tokenizer


def lora_config(config: FinetuneConfig, model: Any) -> Any:
    """The adapter's settings, its target modules resolved on ``model`` (see :mod:`playground.finetune.targets`)."""
    from peft import LoraConfig

    from playground.finetune.targets import resolve_targets

    return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=resolve_targets(model, config.target_modules).peft, task_type="CAUSAL_LM")


def sft_arguments(run_dir: Path, config: FinetuneConfig, device: Device) -> Any:
    """SFTConfig on the project's common settings (:func:`training_arguments`), with TRL's own: rows
    cut at ``max_seq_length``, the loss on the completion only."""
    from trl import SFTConfig

    from playground.finetune.train import training_arguments

    # TRL turns gradient checkpointing on by default; the methods are compared like for like without
    # it (and it roughly doubles a CPU step), as for DPO.
    return training_arguments(run_dir, config, device, SFTConfig, max_length=config.max_seq_length,
                              completion_only_loss=True, gradient_checkpointing=False)


def cut_rows(trainer: Any, config: FinetuneConfig) -> list[str]:
    """A note for the page when TRL cut rows at ``max_seq_length``: their answers' ends are not learnt."""
    cut = sum(len(ids) >= config.max_seq_length for dataset in (trainer.train_dataset, trainer.eval_dataset)
              for ids in dataset["input_ids"])
    return [f"{cut} row(s) were cut at max_seq_length ({config.max_seq_length} tokens)."] if cut else []


def adapter_in_fp32(model: Any) -> None:
    """Trainable weights TRL moved to bf16 back to fp32, on the CPU.

    TRL keeps a 4-bit base's adapter in bf16 (the QLoRA paper's GPU recipe). A CPU without bf16
    instructions, like this project's machines, runs those matmuls about 6x slower than fp32 (2.2 against
    14.4 ms for one LoRA pair's forward and backward here), and fp32 is the base's compute dtype there.
    """
    import torch

    for parameter in model.parameters():
        if parameter.requires_grad and parameter.dtype == torch.bfloat16:
            parameter.data = parameter.data.float()


def build_sft(config: FinetuneConfig, run_dir: Path, device: Device, callback_of: Any) -> Built:
    from trl import SFTTrainer

    model, tokenizer = load_model(config, device)
    train_set, eval_set = prepare(config, tokenizer)
    trainer = SFTTrainer(model=model, args=sft_arguments(run_dir, config, device), train_dataset=train_set,
                         eval_dataset=eval_set, processing_class=tokenizer, callbacks=[callback_of(tokenizer)])
    if device == "cpu":
        adapter_in_fp32(model)
    return Built(trainer, tokenizer, cut_rows(trainer, config), parameter_info(model))
