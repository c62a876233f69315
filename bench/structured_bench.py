"""Structured output: constrained rows against free rows in one batch, and the grammar's share of a step.

Baseline, in the same run and the same engine: a batch of free rows only (the same prompts and settings).
Then the mixed batch: half the rows held to a JSON schema (llguidance), half free. For each we report the
rows' decode tokens/s (median over rows and repeats), and for the constrained rows the time their masks and
matchers took per token and as a share of the batch's wall time. The grammar engine's own cost (compile
and mask time for the schema over SmolLM2's vocabulary) is measured here too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from importlib.metadata import version

from bench import machine_line
from playground.core.settings import Settings
from playground.generation.constraints import Constraint
from playground.generation.engine import Ask
from playground.generation.sampling import SamplingSettings
from playground.prompting.structured import EXAMPLE_SCHEMA, check
from playground.workspace import Workspace

COMMAND = "python -m bench structured --write"
MODEL = "smollm2-135m-instruct"
PEOPLE = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Charles Babbage", "Katherine Johnson", "John von Neumann"]
NEW_TOKENS = 64
LONG = Constraint("json_schema", json.dumps({"type": "object", "properties": {"story": {"type": "string",
                                                                                  "minLength": 2000}},
                                              "required": ["story"]}))
"""For the speed comparison: a schema the rows cannot finish within the budget, so constrained and free rows
stay in the batch for the same steps (the example schema's rows finish early and leave the batch smaller)."""
SELECTION = (
    "**Engine choice.** The two candidates that install as small wheels were measured on the same schema and "
    "walk (the lines above and below, from this run): llguidance compiles a schema in about a millisecond, "
    "outlines-core in hundreds of milliseconds to seconds (it builds an index over the whole vocabulary for each "
    "schema, so each new schema a learner types would wait that long), and per step llguidance's mask, computed "
    "and unpacked, costs about what outlines-core's list of allowed tokens costs before it is turned into a mask. "
    "llguidance is one abi3 wheel with no dependencies; xgrammar 0.2.9 was not installed: its wheel pulls "
    "triton, ninja and more that this CPU app does not otherwise need. llguidance's own "
    "`apply_token_bitmask_inplace` goes through `torch.compile` (27 s on its first call here), so the engine "
    "unpacks the bitmask with numpy instead.")


def asks(rows: int, constrained: int, constraint: Constraint) -> list[Ask]:
    settings = SamplingSettings(max_new_tokens=NEW_TOKENS)
    return [Ask(MODEL, f"Describe {PEOPLE[i % len(PEOPLE)]} as JSON: name, age at death, languages written in.",
                settings, constraint=constraint if i < constrained else None) for i in range(rows)]


def batch(ws: Workspace, rows: int, constrained: int, constraint: Constraint) -> dict:
    started = time.perf_counter()
    generations = ws.generation.generate_many(asks(rows, constrained, constraint))
    wall = time.perf_counter() - started
    held, free = generations[:constrained], generations[constrained:]
    rate = lambda group: [g.decode_tokens_per_second for g in group if g.decode_tokens_per_second]  # noqa: E731
    return {"wall": wall, "held": rate(held), "free": rate(free),
            "grammar": sum(g.grammar_seconds for g in held), "held_tokens": sum(g.tokens_out for g in held),
            "valid": sum(check(g.text, constraint).valid for g in held), "held_n": len(held),
            "free_parses": sum(check(g.text, constraint).parses for g in free), "free_n": len(free),
            "tokens": sum(g.tokens_out for g in generations)}


def engine_cost(ws: Workspace, constraint: Constraint) -> dict:
    """Compile time and per-step mask time of the schema alone, on the embedded model's tokenizer."""
    started = time.perf_counter()
    grammar = ws.generation.grammar(MODEL, constraint)
    first = time.perf_counter() - started
    started = time.perf_counter()
    grammar = ws.generation.grammar(MODEL, constraint)
    compile_s = time.perf_counter() - started
    _, tokenizer = ws.generation.load(MODEL)
    walk = tokenizer(json.dumps({"name": "Ada Lovelace", "age": 36, "languages": ["English", "French"]},
                                separators=(",", ":")), add_special_tokens=False)["input_ids"]
    row, times = grammar.start(), []
    for token in walk:
        started = time.perf_counter()
        row.allowed(grammar.width)
        times.append(time.perf_counter() - started)
        row.advance(token)
    return {"first": first, "compile": compile_s, "mask": statistics.median(times), "mean": statistics.mean(times),
            "worst": max(times), "walk": len(walk)}


def outlines_cost(ws: Workspace, constraint: Constraint) -> str:
    """outlines-core on the same schema and walk, where it is installed (``pip install outlines-core==0.2.14``):
    the measurement behind the engine choice, reproducible. Not in the lock: the app does not use it."""
    try:
        from outlines_core import Guide, Index, Vocabulary
        from outlines_core.json_schema import build_regex_from_schema
    except ImportError:
        return "outlines-core is not installed here: the engine-choice numbers below are from when it was."
    _, tokenizer = ws.generation.load(MODEL)
    byte_of = {char: byte for byte, char in _bytes_to_unicode().items()}
    special, pieces = set(tokenizer.all_special_ids), {}
    for piece, token in tokenizer.get_vocab().items():
        if token not in special:
            key = bytes(byte_of[c] for c in piece) if all(c in byte_of for c in piece) else piece.encode()
            pieces.setdefault(key, []).append(token)
    started = time.perf_counter()
    index = Index(build_regex_from_schema(constraint.source, r"[ ]?"), Vocabulary(tokenizer.eos_token_id, pieces))
    compile_s = time.perf_counter() - started
    guide, times = Guide(index), []
    for token in tokenizer(json.dumps({"name": "Ada Lovelace", "age": 36, "languages": ["English", "French"]},
                                      separators=(",", ":")), add_special_tokens=False)["input_ids"]:
        started = time.perf_counter()
        guide.get_tokens()
        times.append(time.perf_counter() - started)
        guide.advance(token)
    return (f"outlines-core {version('outlines-core')}, measured in this run on the same schema and walk: "
            f"{1000 * compile_s:.0f} ms to compile (an index over the whole vocabulary, per schema); its allowed-token "
            f"list took {1000 * statistics.mean(times):.3f} ms a step on average "
            f"({1000 * statistics.median(times):.3f} ms median, {1000 * max(times):.3f} ms at worst: inside a string "
            "it lists some 48,000 tokens), before any mask is built from it.")


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte-to-character table, which byte-level BPE vocabularies (SmolLM2's) are written in."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {b: chr(b) for b in printable}, 0
    for b in range(256):
        if b not in table:
            table[b], extra = chr(256 + extra), extra + 1
    return table


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def run(argv: list[str]) -> str:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rows", type=int, default=4)
    args = parser.parse_args(argv)
    ws = Workspace.create(Settings.from_env())
    constraint = Constraint("json_schema", EXAMPLE_SCHEMA)
    load = os.getloadavg()[0]
    cost = engine_cost(ws, constraint)
    outlines = outlines_cost(ws, constraint)
    batch(ws, args.rows, args.rows // 2, LONG)  # warm: the model, the chat template, first allocations
    free_only = [batch(ws, args.rows, 0, LONG) for _ in range(args.repeat)]
    mixed = [batch(ws, args.rows, args.rows // 2, LONG) for _ in range(args.repeat)]
    example = [batch(ws, args.rows, args.rows // 2, constraint) for _ in range(args.repeat)]
    load = max(load, os.getloadavg()[0])
    free_rate = median([r for run in free_only for r in run["free"]])
    mixed_free = median([r for run in mixed for r in run["free"]])
    mixed_held = median([r for run in mixed for r in run["held"]])
    grammar_ms = 1000 * sum(run["grammar"] for run in mixed) / max(1, sum(run["held_tokens"] for run in mixed))
    share = median([run["grammar"] / run["wall"] for run in mixed])
    valid = sum(run["valid"] for run in example), sum(run["held_n"] for run in example)
    parses = sum(run["free_parses"] for run in example), sum(run["free_n"] for run in example)
    example_ms = 1000 * sum(run["grammar"] for run in example) / max(1, sum(run["held_tokens"] for run in example))
    lines = ["## Structured output: constrained and free rows in one batch", "",
             f"`{COMMAND}` on {machine_line()}; {MODEL}, greedy, repetition penalty 1.2, {NEW_TOKENS} new tokens at "
             f"most, chat template on; {args.rows} rows a batch (half constrained in the mixed one, to a schema with "
             f"one long string so every row stays for all {NEW_TOKENS} steps), median over rows of {args.repeat} "
             f"runs after a warm one; load average up to {load:.1f} (the machine is shared).", "",
             "| batch | free rows, tokens/s each | constrained rows, tokens/s each | grammar per constrained token "
             "| grammar's share of the batch's time |", "|---|---:|---:|---:|---:|",
             f"| free only (baseline) | {free_rate:.1f} | - | - | - |",
             f"| half constrained | {mixed_free:.1f} | {mixed_held:.1f} | {grammar_ms:.3f} ms | {share:.2%} |", "",
             f"With the Prompt lab's example schema (name, age, languages), in batches of the same shape: "
             f"constrained outputs that parse and fit the schema: {valid[0]} of {valid[1]}, the grammar taking "
             f"{example_ms:.3f} ms per constrained token; free outputs that parse "
             f"as JSON: {parses[0]} of {parses[1]} (the model wraps its JSON in prose or a code fence, or runs out "
             f"of tokens). The grammar alone: {cost['first']:.2f} s for the first request on the model (llguidance's "
             f"tokenizer view, kept per model), then {1000 * cost['compile']:.1f} ms to compile the schema; "
             f"{1000 * cost['mean']:.3f} ms a mask on average ({1000 * cost['mask']:.3f} ms median, "
             f"{1000 * cost['worst']:.3f} ms at worst) over a {cost['walk']}-token walk through it.", "",
             "Rows of one batch share each forward pass, so every row's tokens/s is the batch's step rate: the "
             "constrained rows' masks add their share above to each step, for free rows too; differences in the "
             "tokens/s columns beyond that share are the shared machine's noise. A free row's tokens are the same "
             "with or without constrained neighbours (tests/unit/test_structured.py).", "", SELECTION, "",
             outlines]
    return "\n".join(lines)
