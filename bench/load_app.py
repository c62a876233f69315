"""The app under load: started as its own process, watched for CPU, asked for its queue settings."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_seconds(pid: int | None = None) -> float | None:
    """User plus system CPU seconds of this process (or of ``pid``, via psutil where installed)."""
    if pid is None:
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    try:
        import psutil

        times = psutil.Process(pid).cpu_times()
        return times.user + times.system
    except Exception:  # noqa: BLE001 - psutil missing or the process gone: not reported
        return None


def machine_busy_seconds() -> float | None:
    """CPU seconds every process on this machine has used (all cores), via psutil where installed."""
    try:
        import psutil

        times = psutil.cpu_times()
        # guest time is already inside user time on Linux
        return sum(times) - sum(getattr(times, name, 0.0) for name in
                                ("idle", "iowait", "steal", "guest", "guest_nice"))
    except Exception:  # noqa: BLE001
        return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def local_env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def start_app(timeout: float, env: dict[str, str] | None = None,
              log: Path | None = None) -> tuple[subprocess.Popen, str, float, Path]:
    """``app.py`` on 127.0.0.1 and a free port, in its own process group (so it can be killed with
    whatever it started); (process, url, seconds to answer, log file). ``env`` defaults to
    :func:`local_env`; ``log`` (appended to) to a new temporary file."""
    import tempfile

    if log is None:
        handle, name = tempfile.mkstemp(prefix="load-bench-app-", suffix=".log")
        os.close(handle)
        log = Path(name)
    port = free_port()
    started = time.perf_counter()
    with open(log, "ab") as sink:
        process = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)],
                                   cwd=ROOT, env=env or local_env(), stdout=sink, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_up(url, process, timeout)
    except Exception as error:
        stop_app(process)
        raise RuntimeError(f"{error} (the app's output: {log})") from error
    except BaseException:
        stop_app(process)
        raise
    return process, url, time.perf_counter() - started, log


def wait_until_up(url: str, process: subprocess.Popen | None, timeout: float) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the app exited with {process.returncode} before answering")
        try:
            with opener.open(url.rstrip("/") + "/config", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def stop_app(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def queue_settings(url: str) -> dict | None:
    """The running app's queue settings from its ``/server_info`` endpoint; None where it has none."""
    from gradio_client import Client

    try:
        return Client(url, verbose=False, analytics_enabled=False).predict(api_name="/server_info")["queue"]
    except Exception:  # noqa: BLE001 - an older app, or another one: described as unknown in the report
        return None
