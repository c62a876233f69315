"""Group relative policy optimisation with TRL's GRPOTrainer: a LoRA adapter is the policy, and the same
model with the adapter off is the reference for the KL term, so no second copy of the weights is held.

For each prompt the policy samples ``group_size`` answers; the rewards (see :mod:`playground.finetune.rewards`)
score them, and each answer's advantage is its reward minus its group's mean, over the group's spread.
The group is the baseline: no value model is trained (PPO's critic), which is why GRPO fits a CPU.
After every generation the worker writes a ``groups`` event: each prompt's answers with their rewards
and advantages, as the page shows them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from playground.core.device import Device
from playground.finetune.config import FinetuneConfig
from playground.finetune.events import append_event
from playground.finetune.methods import Built, parameter_info
from playground.finetune.methods.sft import lora_config
from playground.finetune.prompt_rows import as_dataset, split_prompt_rows
from playground.finetune.rewards import parse_rewards, scorers

GROUPS_SHOWN = 4
"""Groups kept in a ``groups`` event: enough to read, small enough for a page polled every 2 s."""


def build_grpo(config: FinetuneConfig, run_dir: Path, device: Device, callback_of: Any) -> Built:
    from trl import GRPOConfig, GRPOTrainer

    from playground.core.settings import Settings
    from playground.finetune.train import model_kwargs, training_arguments
    from playground.models.store import ModelStore

    train_set, held_out = split_prompt_rows(config)
    store = ModelStore(Settings.from_env())
    tokenizer = store.hf_tokenizer(config.base_model)
    model = store.private_causal_lm(config.base_model, **model_kwargs(config, device))
    functions, weights = scorers(parse_rewards(config.rewards), reward_model=reward_model_of(run_dir))
    # batch_size counts prompts; TRL's batch counts answers, group_size per prompt.
    arguments = training_arguments(
        run_dir, config.with_changes(batch_size=config.batch_size * config.group_size), device, GRPOConfig,
        num_generations=config.group_size, max_completion_length=config.completion_tokens, beta=config.kl_beta,
        temperature=config.temperature, reward_weights=weights, gradient_checkpointing=False,
        log_completions=False, num_generations_eval=config.group_size)
    groups = GroupsCallback(run_dir, config.group_size)
    trainer = GRPOTrainer(model=model, reward_funcs=functions, args=arguments, train_dataset=as_dataset(train_set),
                          eval_dataset=as_dataset(held_out), processing_class=tokenizer,
                          peft_config=lora_config(config, model), callbacks=[callback_of(tokenizer), groups])
    groups.trainer = trainer
    return Built(trainer, tokenizer, [], parameter_info(trainer.model))


def reward_model_of(run_dir: Path) -> Any:
    """Loads a ``reward_model`` reward's run (an id beside this run, or a folder) as a scoring function."""
    def load(run: str) -> Any:
        from playground.finetune.reward_model import load_reward_model

        folder = Path(run) if Path(run).is_dir() else run_dir.parent / run
        return load_reward_model(folder).score

    return load


def latest_groups(logs: dict[str, Any], group_size: int, shown: int = GROUPS_SHOWN) -> list[dict[str, Any]]:
    """TRL's record of the latest generation (prompts, completions, each reward's scores, advantages) as
    groups: one prompt's answers side by side, each with its score per reward and its advantage."""
    from playground.finetune.rewards import text_of

    prompts, completions = list(logs["prompt"]), list(logs["completion"])
    advantages = list(logs["advantages"])
    rewards = {name: list(values) for name, values in logs["rewards"].items()}
    groups = []
    for start in range(0, min(len(prompts), shown * group_size), group_size):
        answers = [{"text": text_of(completions[i]), "advantage": _rounded(advantages[i]),
                    "rewards": {name: _rounded(values[i]) for name, values in rewards.items()}}
                   for i in range(start, min(start + group_size, len(completions)))]
        groups.append({"prompt": _prompt_text(prompts[start]), "answers": answers})
    return groups


def _rounded(value: Any) -> float | None:
    import math

    return round(float(value), 4) if value is not None and math.isfinite(float(value)) else None


def _prompt_text(prompt: Any) -> str:
    if isinstance(prompt, str):
        return prompt
    users = [turn.get("content", "") for turn in prompt if isinstance(turn, dict) and turn.get("role") == "user"]
    return str(users[-1]) if users else ""


class GroupsCallback(TrainerCallback):
    """After each logged step, the latest generation's groups as a ``groups`` event (rank 0 only).

    ``trainer`` is set once the trainer exists: TRL keeps the latest generation in ``trainer._logs`` (what
    its own ``log_completions`` table prints), which no callback argument carries.
    """

    def __init__(self, run_dir: Path, group_size: int) -> None:
        self.run_dir, self.group_size, self.trainer = run_dir, group_size, None

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kwargs: Any) -> None:
        from playground.finetune.train import is_main_process

        if self.trainer is None or not is_main_process() or "loss" not in (logs or {}):
            return
        groups = latest_groups(self.trainer._logs, self.group_size)
        if groups:
            append_event(self.run_dir, "groups", step=state.global_step, groups=groups)
