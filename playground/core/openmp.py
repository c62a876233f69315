"""Hand a thread's idle OpenMP workers back, so that the thread decoding keeps its workers spinning.

torch's CPU kernels run in OpenMP teams (libgomp on Linux). libgomp keeps a pool of worker threads
for every thread that has run a parallel region, for as long as that thread lives. Once the pools
together hold more threads than there are CPUs, libgomp takes the machine for oversubscribed and lets
every worker spin only briefly before it sleeps, even while the other pools sit idle; a decode step is
a few hundred small parallel regions, and each then waits for a sleeping worker to be woken.

On a 2-vCPU machine a model loaded in one thread and decoded in another (the app: a handler thread
loads, the model's batch thread decodes) ran a 1536x576 product in 225 us instead of 88, and one
request decoded 8-10 tokens/s instead of 16 (``docs/benchmarks.md``). So threads that have finished
their own torch work free their pools: each handler when it returns, a caller before it waits for a
batch, a batch thread when it has nothing to do. A pool is made again, in about 0.1 ms, by the next
parallel region of that thread.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

OMP_PAUSE_SOFT = 1
"""``omp_pause_soft`` (OpenMP 5.0): free the threads, keep the runtime initialised."""


@lru_cache(maxsize=1)
def _pause_functions() -> tuple[Callable[[int], int], ...]:
    """``omp_pause_resource_all`` of every libgomp loaded in this process (torch ships its own)."""
    functions = []
    for path in _loaded_libgomps():
        try:
            function = ctypes.CDLL(path).omp_pause_resource_all
        except (OSError, AttributeError):  # an old libgomp without OpenMP 5.0
            continue
        function.argtypes, function.restype = [ctypes.c_int], ctypes.c_int
        functions.append(function)
    return tuple(functions)


def _loaded_libgomps() -> list[str]:
    """Paths of the libgomp copies mapped into this process; none where /proc is absent (macOS)."""
    import torch  # noqa: F401 - torch loads its OpenMP runtime on import

    maps = Path("/proc/self/maps")
    if not maps.exists():
        return []
    paths = {line.split()[-1] for line in maps.read_text().splitlines() if "/libgomp" in line}
    return sorted(paths)


def release_openmp_workers() -> None:
    """Free the calling thread's OpenMP worker threads, if it has any (about 1 us when it has none).

    Inside a parallel region libgomp refuses and nothing happens; other threads' pools are untouched.
    """
    for pause in _pause_functions():
        try:
            pause(OMP_PAUSE_SOFT)
        except OSError as error:  # never worth failing a request over
            log.debug("omp_pause_resource_all failed: %s", error)


def can_release_openmp_workers() -> bool:
    """Whether this process can free threads' OpenMP pools (a libgomp is loaded); for /server_info."""
    return bool(_pause_functions())
