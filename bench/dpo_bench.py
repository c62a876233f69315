"""What DPO on the shipped concise pairs does to the model's answers: held-out questions answered by the base
model and by the preset's trained adapter, greedy, their lengths in tokens side by side.

Not a speed figure: the check that the shipped set "visibly moves the model on this CPU in a few minutes",
with the preset's own settings, through the worker's own entry point (``train``), in a scratch runs folder.
"""

from __future__ import annotations

import argparse
from typing import Any

import torch

from bench import machine_line
from bench.preset_training import trained_preset
from playground.core.settings import Settings
from playground.finetune.config import PRESETS, FinetuneConfig
from playground.models.store import ModelStore

PRESET = "DPO: concise answers on CPU"
QUESTIONS = ("What is the capital of Portugal?", "How many legs does an insect have?",
             "What colour are bananas when ripe?", "What is the largest planet in the solar system?",
             "How many hours are in a day?", "What is the boiling point of water in Celsius?")
"""Not in the concise set (the first three are its probes)."""
NEW_TOKENS = 60


def answers(model: Any, tokenizer: Any) -> list[str]:
    """Greedy answers with the Prompt lab's default repetition penalty (the 135M model loops without one)."""
    replies = []
    for question in QUESTIONS:
        text = tokenizer.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True,
                                             tokenize=False)
        ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            output = model.generate(ids, max_new_tokens=NEW_TOKENS, do_sample=False, repetition_penalty=1.1)
        replies.append(tokenizer.decode(output[0, ids.shape[1]:], skip_special_tokens=True).strip())
    return replies


def run(argv: list[str]) -> str:
    parser = argparse.ArgumentParser(prog="python -m bench dpo")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    args = parser.parse_args(argv)
    store = ModelStore(Settings.from_env())
    tokenizer = store.hf_tokenizer(args.model)
    before = answers(store.private_causal_lm(args.model, dtype=torch.float32).eval(), tokenizer)
    config = FinetuneConfig(**{**PRESETS[PRESET], "base_model": args.model})
    with trained_preset(store, args.model, config, "DPO") as trained:
        after = answers(trained.model, tokenizer)
    seconds, steps = trained.seconds, trained.steps
    lengths = [[len(tokenizer(reply)["input_ids"]) for reply in replies] for replies in (before, after)]
    rows = "\n".join(f"| {question} | {b} | {a} | {reply[:90]} |"
                     for question, b, a, reply in zip(QUESTIONS, *lengths, after, strict=True))
    mean = [sum(counts) / len(counts) for counts in lengths]
    return (f"## DPO on the concise pairs: what it does to the answers\n\n`python -m bench dpo --write` on "
            f"{machine_line()}; {args.model}, the “{PRESET}” preset ({config.max_steps} steps, batch "
            f"{config.batch_size}, learning rate {config.learning_rate:g}, beta {config.dpo_beta:g}), trained in "
            f"{seconds:.0f} s through the worker's entry point; greedy answers, at most {NEW_TOKENS} new tokens, "
            f"repetition penalty 1.1, on questions not in the set.\n\n"
            f"| question | base tokens | DPO tokens | the DPO answer |\n|---|---:|---:|---|\n{rows}\n"
            f"| **mean** | **{mean[0]:.1f}** | **{mean[1]:.1f}** | |\n\n"
            f"DPO loss {steps[0]['loss']:.3f} → {steps[-1]['loss']:.3f}, reward margin "
            f"{steps[-1].get('reward_margin', 0):+.2f} at the last step. At 3e-4 and up the answers get shorter still "
            "by not answering (“Awesome!”, “I'm not sure.”): the preference over-optimised.")
