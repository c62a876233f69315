"""``python -m playground.finetune --config runs/<id>/config.json [--resume]``.

The run folder is the config file's folder. Works the same under ``accelerate launch``. A config whose
``kind`` is a pre-training one goes to :mod:`playground.pretrain.worker`, so the runner's spawn, pid checks,
Stop and Resume serve both kinds of run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playground.finetune.run_kinds import PRETRAIN_KINDS, run_kind
from playground.finetune.train import train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m playground.finetune", description=__doc__)
    parser.add_argument("--config", type=Path, required=True, help="config.json inside the run folder")
    parser.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    args = parser.parse_args(argv)
    if not args.config.is_file():
        parser.error(f"{args.config} does not exist")
    run_dir = args.config.resolve().parent
    if run_kind(args.config) in PRETRAIN_KINDS:
        from playground.pretrain.worker import run

        return run(run_dir, resume=args.resume)
    return train(run_dir, resume=args.resume)


if __name__ == "__main__":
    sys.exit(main())
