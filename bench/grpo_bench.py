"""What the GRPO preset does to the model's arithmetic answers: mean reward, the "Answer: <number>" line and
correct answers, before and after, on questions the run never sees.

Not a speed figure: the check that the shipped preset "visibly moves the embedded model on this CPU in a few
minutes", with the preset's own settings, through the worker's own entry point (``train``), in a scratch runs
folder. The rewards are scored by the same functions the trainer calls.
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass
from typing import Any

import torch

from bench import machine_line
from bench.preset_training import trained_preset
from playground.core.settings import Settings
from playground.finetune.config import PRESETS, FinetuneConfig
from playground.finetune.prompt_rows import load_prompt_rows
from playground.finetune.rewards import exact_match, parse_rewards, regex_reward, scorers
from playground.models.store import ModelStore
from tools.make_arithmetic_answers import INSTRUCTION, question

PRESET = "GRPO: 'Answer: <number>' on CPU"
COMMAND = "python -m bench grpo --write"
FORMAT = r"Answer: -?\d+"


@dataclass(frozen=True)
class Measured:
    """One model's answers to the held-out questions: sampled as in training, and greedy."""

    mean_reward: float
    sampled_format: float
    sampled_correct: float
    greedy_format: float
    greedy_correct: float
    example: str


NOTE = ("The reward the preset can move is the format: within 40 steps the sampled answers end in the rewarded "
        "line almost always, greedy ones always. Correct answers do not rise: exact match pays only where the "
        "model already computes the sum, and a 135M model's arithmetic is not something a 40-step LoRA on 2 "
        "prompts per step teaches (the greedy drop is within the noise of 24 questions: 7 against 5). A longer "
        "run (more steps, a group of 8) or a larger model is where exact match starts to pay.")
"""What the recorded run showed (seed 0 gives the same table): reread it when the preset changes."""


def fresh_questions(count: int, config: FinetuneConfig, seed: int = 7) -> list[tuple[str, str]]:
    """Questions of the shipped set's kinds that are not in it (prompt, answer)."""
    known = {row.prompt for row in load_prompt_rows(config)}
    rng, picked = random.Random(seed), {}
    while len(picked) < count:
        text, answer = question(rng)
        prompt = f"{text} {INSTRUCTION}"
        if prompt not in known:
            picked.setdefault(prompt, str(answer))
    return list(picked.items())


def completions(model: Any, tokenizer: Any, prompts: list[str], config: FinetuneConfig, samples: int,
                sample: bool) -> list[list[str]]:
    """Each prompt's answers, as the trainer renders and samples them (chat template, temperature, length)."""
    tokenizer.padding_side = "left"
    texts = [tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True,
                                           tokenize=False) for p in prompts]
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    settings = dict(do_sample=True, temperature=config.temperature, top_k=0, top_p=1.0) if sample else \
        dict(do_sample=False)
    with torch.no_grad():
        output = model.generate(**batch, max_new_tokens=config.completion_tokens, num_return_sequences=samples,
                                pad_token_id=tokenizer.pad_token_id, **settings)
    decoded = tokenizer.batch_decode(output[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    return [decoded[i * samples:(i + 1) * samples] for i in range(len(prompts))]


def measure(model: Any, tokenizer: Any, questions: list[tuple[str, str]], config: FinetuneConfig,
            samples: int) -> Measured:
    prompts, answers = [q for q, _ in questions], [a for _, a in questions]
    functions, weights = scorers(parse_rewards(config.rewards))
    torch.manual_seed(0)
    sampled = completions(model, tokenizer, prompts, config, samples, sample=True)
    flat = [(p, text, a) for p, texts, a in zip(prompts, sampled, answers, strict=True) for text in texts]
    scores = [f([p for p, _, _ in flat], [t for _, t, _ in flat], answer=[a for _, _, a in flat])
              for f in functions]
    rewards = [sum(w * s[i] for w, s in zip(weights, scores, strict=True)) for i in range(len(flat))]
    greedy = [texts[0] for texts in completions(model, tokenizer, prompts, config, 1, sample=False)]

    def rate(values: list[float]) -> float:
        return sum(values) / len(values)

    return Measured(rate(rewards), rate([regex_reward(t, FORMAT) for _, t, _ in flat]),
                    rate([exact_match(t, a) for _, t, a in flat]),
                    rate([regex_reward(t, FORMAT) for t in greedy]),
                    rate([exact_match(t, a) for t, a in zip(greedy, answers, strict=True)]), greedy[0])


def run(argv: list[str]) -> str:
    parser = argparse.ArgumentParser(prog="python -m bench grpo")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--questions", type=int, default=24)
    parser.add_argument("--samples", type=int, default=4, help="sampled answers per question")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                        help="try a setting other than the preset's, e.g. --set learning_rate=1e-3")
    args = parser.parse_args(argv)
    overrides = {key: json.loads(value) for key, value in (item.split("=", 1) for item in args.set)}
    config = FinetuneConfig(**{**PRESETS[PRESET], "base_model": args.model, **overrides})
    store = ModelStore(Settings.from_env())
    tokenizer = store.hf_tokenizer(args.model)
    questions = fresh_questions(args.questions, config)
    before = measure(store.private_causal_lm(args.model, dtype=torch.float32).eval(), tokenizer, questions, config,
                     args.samples)
    with trained_preset(store, args.model, config, "GRPO") as trained:
        after = measure(trained.model, tokenizer, questions, config, args.samples)
    seconds, steps = trained.seconds, trained.steps
    first, last = steps[: max(1, len(steps) // 5)], steps[-max(1, len(steps) // 5):]

    def mean_of(events: list[dict[str, Any]], key: str) -> float:
        values = [e[key] for e in events if e.get(key) is not None]
        return sum(values) / len(values) if values else float("nan")

    rows = [("mean reward, sampled (format + correct, 0 to 2)", "mean_reward", "{:.2f}"),
            ("'Answer: <number>' line, sampled", "sampled_format", "{:.0%}"),
            ("correct, sampled", "sampled_correct", "{:.0%}"),
            ("'Answer: <number>' line, greedy", "greedy_format", "{:.0%}"),
            ("correct, greedy", "greedy_correct", "{:.0%}")]
    changed = f" with {', '.join(args.set)}" if args.set else ""
    table = "\n".join(f"| {title} | {fmt.format(getattr(before, key))} | {fmt.format(getattr(after, key))} |"
                      for title, key, fmt in rows)
    return (f"## GRPO on the arithmetic prompts: what it does to the answers\n\n`{COMMAND}` on "
            f"{machine_line()}; {args.model}, the “{PRESET}” preset{changed} "
            f"({config.max_steps} steps, {config.batch_size} "
            f"prompts x {config.group_size} answers per step, {config.completion_tokens} answer tokens, temperature "
            f"{config.temperature:g}, learning rate {config.learning_rate:g}, KL beta {config.kl_beta:g}, rewards: "
            f"the format regex and exact match, weight 1 each), trained in {seconds:.0f} s through the worker's "
            f"entry point. Measured on {len(questions)} questions of the same kinds that are not in the set: "
            f"{args.samples} sampled answers each (as in training) and one greedy answer (no repetition penalty: it "
            f"corrupts digits).\n\n"
            f"| on held-out questions | base | after GRPO |\n|---|---:|---:|\n{table}\n\n"
            f"In training, the mean reward of the first fifth of the steps {mean_of(first, 'reward_mean'):.2f}, of "
            f"the last fifth {mean_of(last, 'reward_mean'):.2f}. A greedy answer after GRPO: "
            f"“{after.example.strip()[:160]}” (base: “{before.example.strip()[:160]}”)."
            f"\n\n{NOTE}")
