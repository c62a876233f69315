"""Cold and warm start of ``make run``: from the command to the first served page.

Cold: a fresh clone with no .venv and an empty model cache (install + prepare + serve).
Warm: the same ``make run`` again, which must reuse both. pip's own download cache is
whatever this machine has; the table says so.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from bench import machine_line

COMMAND = "python -m bench startup --write"
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def time_make_run(folder: Path, cache: Path, timeout: float) -> float:
    """Seconds from ``make run`` to an HTTP 200 on its port; the server is stopped after."""
    port = free_port()
    env = {**os.environ, "PLAYGROUND_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    env.pop("VIRTUAL_ENV", None)
    started = time.perf_counter()
    process = subprocess.Popen(["make", "run", f"PORT={port}"], cwd=folder, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        while time.perf_counter() - started < timeout:
            if process.poll() is not None:
                raise RuntimeError(f"make run exited with {process.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.25)
        raise TimeoutError(f"no page after {timeout} s")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def run(argv: list[str]) -> str:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        clone, cache = Path(tmp) / "clone", Path(tmp) / "cache"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        cold = time_make_run(clone, cache, args.timeout)
        warm = min(time_make_run(clone, cache, args.timeout) for _ in range(2))
    return "\n".join([
        "## Start-up: `make run` to a served page",
        "",
        f"`{COMMAND}` on {machine_line()}: a fresh clone of HEAD, empty model cache, "
        "pip's download cache as this machine has it.",
        "",
        "| start | seconds | what it does |",
        "|---|---:|---|",
        f"| cold | {cold:.1f} | create .venv, install requirements, dequantize the GGUF once, serve |",
        f"| warm | {warm:.1f} | reuse .venv and the prepared model (best of 2), serve |",
        "",
        f"Warm start is {cold / warm:.0f}x faster than cold.",
    ])
