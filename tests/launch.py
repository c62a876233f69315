"""The fine-tuning worker's entry point under ``accelerate launch``, as a server with several GPUs runs it;
here two CPU processes. Shared by the job tests (LoRA on the real model) and the method tests (tiny models)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def accelerate_launch(config: Path, processes: int = 2) -> None:
    """Run ``python -m playground.finetune --config config`` under ``accelerate launch`` on the CPU; fails the
    test with the launcher's output when it does not exit cleanly."""
    launcher = Path(sys.executable).with_name("accelerate")
    result = subprocess.run([str(launcher), "launch", "--cpu", "--num_processes", str(processes), "--num_machines",
                             "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "playground.finetune",
                             "--config", str(config)], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
