"""``python -m playground.pretrain runs/<id>``: train the pre-training run (or sweep) whose folder is given.

The app starts these runs through ``python -m playground.finetune --config runs/<id>/config.json`` (the
runner's one worker command, which dispatches on the config's ``kind``); this is the same worker by folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playground.pretrain.worker import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m playground.pretrain", description=__doc__)
    parser.add_argument("run_dir", type=Path, help="the run folder holding config.json")
    args = parser.parse_args(argv)
    if not (args.run_dir / "config.json").is_file():
        parser.error(f"{args.run_dir / 'config.json'} does not exist")
    return run(args.run_dir.resolve())


if __name__ == "__main__":
    sys.exit(main())
