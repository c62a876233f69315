"""Speculative decoding (prompt lookup; a draft model with ``--draft-model``) against plain greedy decoding,
on shipped prompts.

Baseline, in the same run and through the same forward helper and KV cache: plain greedy decoding, one
forward per token (``playground.generation.speculative.plain_greedy``). For each prompt: the acceptance
rate, forwards per new token, and the median time of each over a few repeats. Prompts range from copying
(where lookup finds the answer in the prompt) to open writing (where it rarely does). ``--draft-model PATH``
(a folder or Hub id sharing the target's tokenizer) adds a draft model row per prompt; since none smaller
than the embedded 135M ships, pair it with a bigger ``--model`` (say a SmolLM2-360M folder, with the embedded
``smollm2-135m-instruct`` as the draft).
"""

from __future__ import annotations

import argparse
import os
import statistics

from bench import machine_line
from playground.core.settings import Settings
from playground.generation import speculative
from playground.workspace import Workspace

COMMAND = "python -m bench speculative --write"
MODEL = "smollm2-135m-instruct"
PROMPTS = {
    "copy a list": "Copy this list exactly, then stop: apples, pears, plums, cherries, grapes, lemons, limes, "
                   "oranges, peaches, apricots.",
    "extract a field": "From this record, give the customer's full address.\nName: Mara Holt\nAddress: 14 Harbour "
                       "Lane, Quenport, QM4 7TT\nOrder: 3 lanterns, 1 kelp honey cake\nAddress:",
    "fix code": "Fix the bug in this Python function and give the whole function:\ndef mean(values):\n    total = 0\n"
                "    for value in values:\n        total += value\n    return total / len(value)\n",
    "open writing": "Write a short poem about the sea.",
}
NEW_TOKENS = 64


def measure(ws: Workspace, prompt: str, repeat: int, model: str = MODEL, draft_model: str = "") -> dict:
    method = "draft model" if draft_model else "prompt lookup"
    request = speculative.SpeculativeRequest(prompt, model, method, max_new_tokens=NEW_TOKENS,
                                             draft_model=draft_model)
    speculative.speculative(ws.store, request)  # warm: the chat template, the first allocations
    results = [speculative.speculative(ws.store, request).to_dict() for _ in range(repeat)]
    last = results[-1]
    return {"acceptance": last["acceptance"], "forwards": last["forwards"], "new_tokens": last["new_tokens"],
            "same": all(r["same_as_greedy"] for r in results),
            "seconds": statistics.median(r["seconds"] for r in results),
            "plain": statistics.median(r["plain_seconds"] for r in results)}


def run(argv: list[str]) -> str:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--model", default=MODEL, help="the target model")
    parser.add_argument("--draft-model", default="", help="add a draft model row per prompt (same tokenizer)")
    args = parser.parse_args(argv)
    ws = Workspace.create(Settings.from_env())
    load = os.getloadavg()[0]
    methods = {"prompt lookup": ""} | ({f"draft {args.draft_model}": args.draft_model} if args.draft_model else {})
    rows = {(name, method): measure(ws, prompt, args.repeat, args.model, draft)
            for name, prompt in PROMPTS.items() for method, draft in methods.items()}
    load = max(load, os.getloadavg()[0])
    lines = [f"`{COMMAND}` on {machine_line()}; {args.model}, greedy, {NEW_TOKENS} new tokens at most, chat "
             f"template on; median of {args.repeat} runs after a warm one; load average up to {load:.1f}.", "",
             "| prompt | method | new tokens | forwards | acceptance | plain greedy (s) | speculative (s) | "
             "speed-up | same tokens |", "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for (name, method), row in rows.items():
        acceptance = "no drafts" if row["acceptance"] is None else f"{row['acceptance']:.0%}"
        lines.append(f"| {name} | {method} | {row['new_tokens']} | {row['forwards']} | {acceptance} | "
                     f"{row['plain']:.2f} | {row['seconds']:.2f} | {row['plain'] / row['seconds']:.2f}x | "
                     f"{'yes' if row['same'] else 'NO'} |")
    lines += ["", "Baseline: plain greedy decoding in the same run, through the same forward helper and KV cache, "
              "one forward per token. A verification forward over [last token + up to 8 drafted tokens] costs "
              "about one decode step on this CPU (it reads the same weights), so the speed-up follows forwards "
              "saved where drafts are accepted, and a rejected draft costs a little extra compute. The 135M "
              "model's greedy answers loop (no repetition penalty here, since speculative decoding must equal "
              "plain greedy), and lookup accelerates a loop too."]
    if args.draft_model:
        lines += ["", f"Draft model rows: {args.draft_model} writes the guesses (4 first, 2 more after a fully "
                  "accepted guess, 1 fewer after a rejection); its own forwards are inside the speculative time."]
    return "\n".join(lines)
