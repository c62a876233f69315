"""Writes assets/finetune/arithmetic_answers.jsonl: the GRPO preset's prompts (one-step sums, differences and
products of small numbers) and their answers, from a fixed seed, so the file can be made again exactly.

    python tools/make_arithmetic_answers.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

ROWS = 240
SEED = 2026
INSTRUCTION = "End your reply with a line of the form 'Answer: <number>'."
OUT = Path(__file__).resolve().parent.parent / "assets" / "finetune" / "arithmetic_answers.jsonl"


def question(rng: random.Random) -> tuple[str, int]:
    kind = rng.choice(("plus", "minus", "times"))
    if kind == "times":
        a, b = rng.randint(2, 12), rng.randint(2, 9)
        return f"What is {a} times {b}?", a * b
    a, b = rng.randint(10, 60), rng.randint(2, 30)
    if kind == "minus":
        return f"What is {a} minus {b}?", a - b
    return f"What is {a} plus {b}?", a + b


def main() -> None:
    rng = random.Random(SEED)
    seen: dict[str, int] = {}
    while len(seen) < ROWS:
        text, answer = question(rng)
        seen.setdefault(text, answer)
    lines = [json.dumps({"prompt": f"{text} {INSTRUCTION}", "response": str(answer)}) for text, answer in seen.items()]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    probes = ["What is 23 plus 19? " + INSTRUCTION, "What is 7 times 8? " + INSTRUCTION,
              "What is 45 minus 17? " + INSTRUCTION]
    OUT.with_name("arithmetic_answers_probes.json").write_text(json.dumps(probes, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
