"""``python -m bench <name> [--write]``: run one benchmark, print it, optionally record it."""

from __future__ import annotations

import argparse
import importlib
import sys

from bench import DOC, write_section

BENCHMARKS = {
    "tokenize": "bench.tokenize_bench",
    "startup": "bench.startup_bench",
    "attention": "bench.attention_bench",
    "inside": "bench.inside_bench",
    "causes": "bench.causes_bench",
    "ig": "bench.ig_bench",
    "generate": "bench.generate_bench",
    "backends": "bench.backends_bench",
    "evaluate": "bench.eval_bench",
    "quant": "bench.quant_bench",
    "rag": "bench.rag_bench",
    "finetune": "bench.finetune_bench",
    "pretrain": "bench.pretrain_bench",
    "dpo": "bench.dpo_bench",
    "grpo": "bench.grpo_bench",
    "load": "bench.load_bench",
    "contention": "bench.contention_bench",
    "speculative": "bench.speculative_bench",
    "structured": "bench.structured_bench",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("name", choices=sorted(BENCHMARKS))
    parser.add_argument("--write", action="store_true",
                        help="record the result in docs/benchmarks.md (load, contention: docs/reliability.md)")
    args, rest = parser.parse_known_args(argv)
    module = importlib.import_module(BENCHMARKS[args.name])
    markdown = module.run(rest)
    print(markdown)
    if args.write:
        # a module may name its own document (and that document's opening lines)
        name = getattr(module, "section", lambda _: args.name)(rest)
        write_section(name, markdown, getattr(module, "DOC", DOC),
                      getattr(module, "HEADER", "# Benchmarks\n"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
