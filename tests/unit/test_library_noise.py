"""Start-up log: the optional libraries' own noise is gone, their real warnings are not (issue 19)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import logging
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
import playground
import bitsandbytes, torchao
logging.getLogger("torchao").warning("a real torchao warning")
logging.getLogger("bitsandbytes.backends.cpu.ops").error("a real bitsandbytes error")
"""


def test_importing_the_quantization_libraries_logs_only_what_matters():
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    log = result.stderr
    for noise in ("Failed to load", "No module named 'kernels'", "Detected no triton", "Enum subclass"):
        assert noise not in log, log
    assert "a real torchao warning" in log and "a real bitsandbytes error" in log
