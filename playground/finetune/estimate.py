"""Before launching: roughly how much memory and time a run will take, from the config alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from playground.core.device import device_kind
from playground.finetune.config import FinetuneConfig
from playground.finetune.method_registry import training_method
from playground.internals.layout import config_value

CPU_SECONDS_PER_TOKEN = 3.5 / (4 * 128)
"""Measured here (2 cores): a LoRA step on SmolLM2-135M at batch 4 x 128 tokens takes about 3.5 s."""
GPU_SPEEDUP = 40.0


@dataclass(frozen=True)
class Estimate:
    weights_gb: float
    trainable_params: int
    training_state_gb: float
    activations_gb: float
    minutes: float
    device: str
    method: str = "lora"
    total_params: int = 0
    adapted_modules: tuple[str, ...] = ()

    @property
    def total_gb(self) -> float:
        return self.weights_gb + self.training_state_gb + self.activations_gb

    @property
    def trainable_share(self) -> float:
        return self.trainable_params / self.total_params if self.total_params else 0.0

    def describe(self) -> str:
        method = training_method(self.method)
        weights = "teacher + student weights" if method.trains == "student" else "base weights"
        return (f"≈ {self.total_gb:.1f} GB ({self.weights_gb:.2f} {weights}, {self.training_state_gb:.2f} "
                f"{method.state_words} for {self.trainable_params:,} trainable parameters "
                f"({self.trainable_share:.2%} of {self.total_params:,}), {self.activations_gb:.2f} activations) · "
                f"≈ {self.minutes:.0f} min on {self.device.upper()} (a rough guide; the page shows the real pace "
                "once it runs)" + (f" · LoRA adapts {', '.join(self.adapted_modules)}" if self.adapted_modules else ""))


def skeleton(model_config: Any) -> Any:
    """The model's modules on the meta device: real shapes and names, no memory, built in milliseconds."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(model_config)


def estimate(config: FinetuneConfig, model_config: Any, device: str) -> Estimate:
    """Memory and minutes for ``config`` on ``device`` (the app's ``Settings.device``: "cuda:1" counts as CUDA).

    Parameter counts come from the model's own modules (any family, mixture-of-experts included), and LoRA's
    from wrapping them with peft, on the meta device; the adapted modules are named as the run will adapt them.
    """
    device = device_kind(device)
    method = config.training_method
    model = skeleton(model_config)
    text_config = model.config.get_text_config()
    hidden = int(config_value(text_config, "hidden_size", "n_embd", "d_model"))
    layers = int(config_value(text_config, "num_hidden_layers", "n_layer", "num_layers"))
    base_params = sum(parameter.numel() for parameter in model.parameters())
    activation_bytes = 2 if device == "cuda" else 4
    tokens = config.batch_size * config.max_seq_length * sequences_per_row(config)
    adapted: tuple[str, ...] = ()
    if method.trains == "all":
        trainable, state_bytes, weight_bytes = base_params, 12, 4  # fp32 weights, gradients, Adam m and v
        weights = base_params * weight_bytes
    elif method.trains == "student":
        blocks = base_params - sum(parameter.numel() for name, parameter in model.named_parameters()
                                   if ".layers." not in name and ".h." not in name)
        trainable = base_params - blocks // 2  # the half-depth student
        state_bytes = 12
        weights = (base_params + trainable) * 4
    else:
        trainable, adapted = lora_parameters(model, config)
        state_bytes = 16  # fp32 LoRA weights, gradients, Adam m and v
        weights = base_params * (0.55 if method.base_in_4bit else activation_bytes)  # NF4 with its scales
    activations = tokens * hidden * layers * 34 * activation_bytes / 1e9  # a common rule of thumb
    timed_rows = config.batch_size * (config.group_size if method.data == "prompts" else 1)
    seconds = config.max_steps * config.gradient_accumulation * timed_rows * config.max_seq_length * \
        CPU_SECONDS_PER_TOKEN * method.time_factor
    if device == "cuda":
        seconds /= GPU_SPEEDUP
    total = trainable if method.trains == "student" else base_params
    return Estimate(weights / 1e9, trainable, trainable * state_bytes / 1e9, activations, seconds / 60, device,
                    config.method, total + (trainable if method.trains == "adapter" else 0), adapted)


def sequences_per_row(config: FinetuneConfig) -> int:
    """Sequences a row puts through the model in a step: GRPO's group of answers per prompt, DPO's and the
    reward model's two answers, one otherwise. (``time_factor`` is per answer for GRPO, whose group size is a
    setting, and per row for the others, both answers included.)"""
    method = config.training_method
    return config.group_size if method.data == "prompts" else method.answers_per_row


def lora_parameters(model: Any, config: FinetuneConfig) -> tuple[int, tuple[str, ...]]:
    """LoRA's trainable parameters on ``model`` (a skeleton) and the modules it adapts, as peft wraps them."""
    from peft import LoraConfig, get_peft_model

    from playground.finetune.targets import adapted_modules, resolve_targets

    wrapped = get_peft_model(model, LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha,
                                               target_modules=resolve_targets(model, config.target_modules).peft))
    trainable = sum(parameter.numel() for parameter in wrapped.parameters() if parameter.requires_grad)
    return trainable, tuple(adapted_modules(wrapped))
