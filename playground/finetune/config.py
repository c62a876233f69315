"""A fine-tuning job's settings: validated once, saved as the run folder's config.json.

The same file drives the worker from the page, from the shell and under ``accelerate launch``.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from playground.core.errors import InvalidInputError
from playground.core.settings import DEFAULT_CAUSAL_MODEL
from playground.core.validation import number, settings_object, whole_number
from playground.finetune.method_registry import REGISTRY, TrainingMethod, training_method
from playground.finetune.rewards import ARITHMETIC_REWARDS, parse_rewards

TARGET_PRESETS = {"attention": ("attention",), "all-linear": ("all-linear",)}
"""The adapted layers a page offers, kept by name in a run's config and resolved on the loaded model (every
linear layer of the attention, or peft's all-linear): see playground.finetune.targets."""
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # matched whole (fullmatch): "$" lets "name\n" in
METHODS = tuple(REGISTRY)
"""The registered training methods (see playground.finetune.method_registry)."""
ADAPTER_METHODS = tuple(name for name, method in REGISTRY.items() if method.saves == "adapter")
"""Methods whose result is a LoRA adapter over the base model; the others save whole weights."""
TEXT_SETTINGS = ("base_model", "method", "dataset", "config_name", "split", "prompt_column", "response_column",
                 "messages_column", "chosen_column", "rejected_column", "teacher", "student", "evaluate_on",
                 "run_name")
WHOLE_NUMBERS = (  # (setting, lowest, highest, hint); JSON bodies and sliders may send 30.0, which counts as 30
    ("max_steps", 1, 100_000, "each step trains on one batch"),
    ("batch_size", 1, 512, "lower it if memory runs out"),
    ("gradient_accumulation", 1, 1024, "1 updates the weights after every batch"),
    ("max_seq_length", 16, 8192, "sequences shorter than 16 tokens cannot hold a prompt and an answer"),
    ("lora_r", 1, 1024, "rank 0 would train nothing"),
    ("lora_alpha", 1, 4096, "usually twice lora_r"),
    ("eval_every", 1, 100_000, "steps between two evaluations"),
    ("eval_size", 1, 10_000, "how many held-out examples to score"),
    ("save_every", 1, 100_000, "steps between two checkpoints"),
    ("warmup_steps", 0, 100_000, "0 starts at the full learning rate"),
    ("seed", 0, 2**31 - 1, "any whole number from 0"),
    ("probe_tokens", 1, 512, "how many tokens each probe answer may have"),
    ("group_size", 2, 64, "GRPO compares answers within a group: at least 2"),
    ("completion_tokens", 1, 2048, "how many tokens each sampled answer may have"),
)

RATIOS = (  # (setting, lowest, highest, hint): numbers with a decimal point
    ("dpo_beta", 0, 10, "0.1 is usual; higher keeps the policy nearer the reference"),
    ("kl_beta", 0, 10, "0.04 is usual; 0 lets the policy drift from the base"),
    ("temperature", 0, 5, "1 samples the model's own distribution"),
    ("distill_alpha", 0, 1, "0 is plain fine-tuning, 1 learns from the teacher only"),
    ("distill_temperature", 0, 20, "1 is the teacher's own distribution; 2 to 4 soften it"),
)


@dataclass(frozen=True)
class FinetuneConfig:
    """Everything a run needs; ``__post_init__`` refuses absurd values with a clear message."""

    base_model: str = DEFAULT_CAUSAL_MODEL
    method: Literal["full", "lora", "qlora", "dpo", "distill", "reward", "reward_full", "grpo"] = "lora"
    dataset: str = "pirate"
    config_name: str = ""
    """A Hub dataset's configuration (subset); empty for its default."""
    split: str = "train"
    """A Hub dataset's split, slices included ('train[:500]')."""
    prompt_column: str = "prompt"
    response_column: str = "response"
    messages_column: str = ""
    """SFT from chat turns: a column of [{role, content}, ...] whose last turn (the assistant's) is learnt."""
    chosen_column: str = "chosen"
    rejected_column: str = "rejected"
    dpo_beta: float = 0.1
    """DPO: how far the policy may move from the reference (higher: stays closer)."""
    teacher: str = ""
    """distill: the teacher, empty for the base model, or a finished run's folder (the runner resolves run ids)."""
    student: str = "half"
    """distill: 'half' (the base with every other layer removed, the kept ones' weights) or a model id sharing
    the base's tokenizer."""
    distill_alpha: float = 0.5
    """distill: the weight of the KL to the teacher; 1 - alpha goes to the usual next-token loss."""
    distill_temperature: float = 2.0
    rewards: tuple[dict[str, Any], ...] = ()
    """grpo: the scorers and their weights (see playground.finetune.rewards); a list of objects or its JSON."""
    group_size: int = 4
    """grpo: answers sampled per prompt; each one's advantage is its reward against its group's mean."""
    kl_beta: float = 0.04
    """grpo: the weight of the KL to the reference (the base, adapter off); 0 drops the reference pass."""
    completion_tokens: int = 32
    """grpo: how many tokens each sampled answer may have."""
    temperature: float = 1.0
    """grpo: the sampling temperature of the groups' answers (0 would give every answer the same reward)."""
    evaluate_on: str = ""
    """A Prompt lab labelled set (sentiment, arithmetic, extraction) scored for base and trained at the run's
    end, as /finetune_evaluate would; empty: none."""
    max_steps: int = 30
    learning_rate: float = 1e-3
    batch_size: int = 4
    gradient_accumulation: int = 1
    max_seq_length: int = 128
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] = TARGET_PRESETS["attention"]
    eval_every: int = 10
    eval_size: int = 16
    save_every: int = 10
    warmup_steps: int = 3
    seed: int = 0
    probe_prompts: tuple[str, ...] = field(default_factory=tuple)
    probe_tokens: int = 40
    run_name: str = ""

    def __post_init__(self) -> None:
        # settings also arrive as JSON from the API and config files: wrong types get a message, not a TypeError
        for name in TEXT_SETTINGS:
            if not isinstance(getattr(self, name), str):
                raise InvalidInputError(f"{name} must be text, got {getattr(self, name)!r}.")
        for name in ("target_modules", "probe_prompts"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = TARGET_PRESETS.get(value, tuple(part.strip() for part in value.split(",") if part.strip()))
            elif not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
                raise InvalidInputError(f"{name} must be a list of text (or one comma-separated text), got {value!r}.")
            object.__setattr__(self, name, tuple(value))
        for name, low, high, hint in WHOLE_NUMBERS:
            object.__setattr__(self, name, whole_number(name, getattr(self, name), low, high, hint))
        object.__setattr__(self, "learning_rate", number(
            "learning_rate", self.learning_rate, 0, 0.1, "LoRA usually takes 1e-4 to 1e-3; 10 would blow the "
            "weights up at once", low_open=True))
        object.__setattr__(self, "lora_dropout", number(
            "lora_dropout", self.lora_dropout, 0, 1, "0 keeps every input; 0.05 to 0.1 is usual",
            high_open=True))
        for name, low, high, hint in RATIOS:
            object.__setattr__(self, name, number(name, getattr(self, name), low, high, hint,
                                                  low_open=name not in ("distill_alpha", "kl_beta")))
        self._check_rewards()
        if self.evaluate_on:
            from playground.prompting.techniques import tasks

            if self.training_method.scorer:
                raise InvalidInputError("A reward model scores answers and writes none: it cannot be evaluated on "
                                        "a labelled set (leave evaluate_on empty; its held-out accuracy is measured).")
            if self.evaluate_on not in tasks():
                raise InvalidInputError(f"evaluate_on must be a labelled set ({', '.join(tasks())}) or empty, got "
                                        f"{self.evaluate_on!r}.")
        training_method(self.method)  # an unknown name is refused with the known ones
        if not self.target_modules:
            raise InvalidInputError("target_modules is empty: name the layers LoRA adapts (or 'attention').")
        if self.run_name and not RUN_NAME.fullmatch(self.run_name):
            raise InvalidInputError("run_name may use letters, digits, '-', '_' and '.', up to 64 characters, "
                                    "starting with a letter or digit.")
        if len(self.probe_prompts) > 8:
            raise InvalidInputError("At most 8 probe prompts.")

    def _check_rewards(self) -> None:
        """``rewards`` parsed field by field (kept as plain objects, as the config file holds them); GRPO needs one."""
        object.__setattr__(self, "rewards", tuple(spec.to_dict() for spec in parse_rewards(self.rewards)))
        if training_method(self.method).data == "prompts" and not self.rewards:
            raise InvalidInputError("GRPO needs at least one reward (rewards): for example "
                                    '[{"kind": "regex", "pattern": "Answer: \\d+"}].')

    @property
    def training_method(self) -> TrainingMethod:
        """What this run's method is: what it saves, loads, reads and how it is estimated."""
        return training_method(self.method)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {**data, "target_modules": list(self.target_modules), "probe_prompts": list(self.probe_prompts),
                "rewards": [dict(spec) for spec in self.rewards]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FinetuneConfig:
        if not isinstance(data, dict):  # a config file or API body holding a list, a number, null...
            raise InvalidInputError(f"Settings must be a JSON object of named values, got {type(data).__name__}.")
        if data.get("kind") in ("pretrain", "pretrain_sweep"):  # a pre-training run listed beside fine-tuning ones
            raise InvalidInputError("This is a pre-training run (its config's kind is "
                                    f"'{data['kind']}'): this works on fine-tuning runs. A pre-training run's "
                                    "model/ folder loads as a local model wherever a model name is asked for.")
        return cls(**settings_object(cls, data))

    @classmethod
    def load(cls, path: str | Path) -> FinetuneConfig:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as error:  # ValueError: bad JSON, not UTF-8, a huge int
            raise InvalidInputError(f"Could not read the config {path}: {error}") from error
        return cls.from_dict(data)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")

    def with_changes(self, **changes: Any) -> FinetuneConfig:
        return replace(self, **changes)


PRESETS: dict[str, dict[str, Any]] = {
    "quick demo on CPU": dict(method="lora", dataset="pirate", max_steps=30, batch_size=4, max_seq_length=128,
                              lora_r=8, lora_alpha=16, learning_rate=1e-3, eval_every=10, save_every=10,
                              target_modules=TARGET_PRESETS["attention"]),
    "full fine-tune on CPU": dict(method="full", dataset="pirate", max_steps=20, batch_size=4, max_seq_length=128,
                                  learning_rate=5e-5, eval_every=10, save_every=20),
    # DPO reads two answers per row plus the reference pass, and TRL's chunked log-prob head has no fast CPU
    # kernel: a smaller batch. Measured on the concise set: 2e-4 halves the answers' length and keeps them
    # the model's own first sentence; 3e-4 and up make it short by not answering ("Awesome!").
    "DPO: concise answers on CPU": dict(method="dpo", dataset="concise", max_steps=24, batch_size=2,
                                        max_seq_length=128, lora_r=8, lora_alpha=16, learning_rate=2e-4,
                                        dpo_beta=0.1, eval_every=12, save_every=12, eval_size=8, warmup_steps=2,
                                        target_modules=TARGET_PRESETS["attention"]),
    "distill: half-depth student on CPU": dict(method="distill", dataset="pirate", max_steps=40, batch_size=4,
                                               max_seq_length=128, learning_rate=2e-4, distill_alpha=0.5,
                                               distill_temperature=2.0, eval_every=20, save_every=20),
    # A reward model on the same pairs as the DPO preset: it learns that the answer that stops wins.
    "reward model: concise answers on CPU": dict(method="reward", dataset="concise", max_steps=30, batch_size=4,
                                                 max_seq_length=128, lora_r=8, lora_alpha=16, learning_rate=5e-4,
                                                 eval_every=15, save_every=15, eval_size=14, warmup_steps=2,
                                                 target_modules=TARGET_PRESETS["attention"]),
    # GRPO on arithmetic prompts: the answer line's format and its correctness are the rewards (see
    # docs/benchmarks.md, "GRPO", for what it moves on this CPU).
    "GRPO: 'Answer: <number>' on CPU": dict(method="grpo", dataset="arithmetic_answers", max_steps=40, batch_size=2,
                                            group_size=4, completion_tokens=32, kl_beta=0.04, temperature=0.7,
                                            max_seq_length=128, lora_r=8, lora_alpha=16, learning_rate=1e-3,
                                            eval_every=20, save_every=20, eval_size=8, warmup_steps=2,
                                            rewards=[dict(spec) for spec in ARITHMETIC_REWARDS],
                                            target_modules=TARGET_PRESETS["attention"], evaluate_on="arithmetic"),
    "QLoRA on GPU": dict(method="qlora", dataset="pirate", max_steps=200, batch_size=16, max_seq_length=512,
                         lora_r=16, lora_alpha=32, learning_rate=2e-4, eval_every=50, save_every=50,
                         target_modules=TARGET_PRESETS["all-linear"]),
}
