"""Before launching: roughly how much memory and time a run will take, from the config alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from playground.core.device import device_kind
from playground.finetune.config import FinetuneConfig

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

    @property
    def total_gb(self) -> float:
        return self.weights_gb + self.training_state_gb + self.activations_gb

    def describe(self) -> str:
        return (f"≈ {self.total_gb:.1f} GB ({self.weights_gb:.2f} base weights, {self.training_state_gb:.2f} LoRA "
                f"weights + gradients + Adam state for {self.trainable_params:,} trainable parameters, "
                f"{self.activations_gb:.2f} activations) · ≈ {self.minutes:.0f} min on {self.device.upper()} "
                "(a rough guide; the page shows the real pace once it runs)")


def estimate(config: FinetuneConfig, model_config: Any, device: str) -> Estimate:
    """Memory and minutes for ``config`` on ``device`` (the app's ``Settings.device``: "cuda:1" counts as CUDA)."""
    device = device_kind(device)
    hidden = int(model_config.hidden_size)
    layers = int(model_config.num_hidden_layers)
    vocab = int(model_config.vocab_size)
    intermediate = int(getattr(model_config, "intermediate_size", 4 * hidden))
    kv = hidden * int(getattr(model_config, "num_key_value_heads", model_config.num_attention_heads)) \
        // int(model_config.num_attention_heads)
    shapes = {"q_proj": (hidden, hidden), "k_proj": (hidden, kv), "v_proj": (hidden, kv), "o_proj": (hidden, hidden),
              "gate_proj": (hidden, intermediate), "up_proj": (hidden, intermediate),
              "down_proj": (intermediate, hidden)}
    base_params = layers * sum(a * b for a, b in shapes.values()) + vocab * hidden
    trainable = layers * sum(config.lora_r * (a + b) for name, (a, b) in shapes.items()
                             if name in config.target_modules)
    bytes_per_weight = 0.55 if config.method == "qlora" else (2 if device == "cuda" else 4)
    tokens = config.batch_size * config.max_seq_length
    activations = tokens * hidden * layers * 34 * (2 if device == "cuda" else 4) / 1e9  # a common rule of thumb
    seconds = config.max_steps * config.gradient_accumulation * tokens * CPU_SECONDS_PER_TOKEN
    if device == "cuda":
        seconds /= GPU_SPEEDUP
    return Estimate(base_params * bytes_per_weight / 1e9, trainable, trainable * 16 / 1e9, activations,
                    seconds / 60, device)
