"""``python -m bench.gpu [--out DIR] [--budget SECONDS]``: every GPU check in one go, then the report.

Without CUDA it prints one line and exits 0 before importing anything heavy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from bench.gpu.report import DOCS, NO_CUDA, exit_status, first_failure, write

BUDGET_SECONDS = 8 * 60


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gpu")
    parser.add_argument("--out", type=Path, default=DOCS, help="folder for gpu.md and gpu.json (default docs/)")
    parser.add_argument("--budget", type=float, default=BUDGET_SECONDS, help="seconds for all checks together")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print(NO_CUDA)
        return 0
    from bench.gpu.checks import machine, run_all  # loads models: only with a GPU

    results = run_all(args.budget)
    md, js = write(results, machine(), args.out)
    for result in results:
        print(f"{result.status:>11}  {result.seconds:6.1f} s  {result.name}  {result.note}")
    print(f"wrote {md} and {js}")
    failure = first_failure(results)
    if failure:
        print(f"first failure: {failure.name}: {failure.note}")
    return exit_status(results)


if __name__ == "__main__":
    sys.exit(main())
