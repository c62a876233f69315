"""Process-wide settings read once from the environment (cache folder, offline mode, defaults)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from playground.core.device import detect_device

DEFAULT_CAUSAL_MODEL = "smollm2-135m-instruct"
DEFAULT_ENCODER_MODEL = "minilm-l6"

_TRUTHY = {"1", "true", "yes", "on"}
_FALSY = {"0", "false", "no", "off"}
WEIGHTS_DTYPES = ("float32", "bfloat16", "float16")


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUTHY


def default_cache_dir() -> Path:
    """Where prepared models live: $PLAYGROUND_CACHE, else a Space's /data, else the user cache.

    On a Hugging Face Space with persistent storage /data survives restarts, so the
    dequantized model is prepared once per Space rather than once per boot.
    """
    explicit = os.environ.get("PLAYGROUND_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    data = Path("/data")
    if os.environ.get("SPACE_ID") and data.is_dir() and os.access(data, os.W_OK):
        return data / "llm-playground"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "llm-playground"


@dataclass(frozen=True)
class Limits:
    """Caps that keep one shared server usable for everyone (a class, a public Space)."""

    upload_mb: int = 10
    train_steps: int = 100_000

    @property
    def upload_bytes(self) -> int:
        return self.upload_mb * 1024 * 1024


DEMO_LIMITS = Limits(upload_mb=2, train_steps=60)
"""``PLAYGROUND_DEMO=1``: a minute or two of CPU training per job, small uploads."""


@dataclass(frozen=True)
class Settings:
    """Immutable configuration; build one with :meth:`from_env` and pass it around."""

    cache_dir: Path = field(default_factory=default_cache_dir)
    default_model: str = DEFAULT_CAUSAL_MODEL
    offline: bool = False
    trust_remote_code: bool = False
    runs_dir_override: Path | None = None
    device: str = "cpu"
    """Where the shared models run: ``cuda`` when a GPU is found (``PLAYGROUND_DEVICE`` overrides)."""
    weights_dtype: str = "float32"
    """The shared models' weights: ``float32`` (the default: what every figure in the docs used), or
    ``bfloat16`` (half the bytes each decode step reads, a little less precise: 1.44x faster decoding on one
    test VM, slower on another whose kernels were the limit, so measure with ``python -m bench generate``;
    ``PLAYGROUND_DTYPE`` / ``--dtype``). Quantized and fine-tuned copies keep their own."""
    prepacked_weights: bool = True
    """On a CPU, the shared models' float32 Linear layers run on weights prepacked for oneDNN (2x a
    16-row decode step here; see :mod:`playground.models.prepacked`), at the cost of a second copy of
    those weights in memory (up to 2 GB of them). ``PLAYGROUND_PREPACK=0`` keeps transformers' own ``F.linear``."""
    demo: bool = False
    local_paths: bool = True
    """Whether users may name server folders and files as models or datasets. On for a laptop;
    off by default on a Space or in demo mode, where the server's files are not the users'."""

    def __post_init__(self) -> None:
        if self.weights_dtype not in WEIGHTS_DTYPES:
            raise ValueError(f"The weights dtype (PLAYGROUND_DTYPE or --dtype) must be one of "
                             f"{', '.join(WEIGHTS_DTYPES)}, got {self.weights_dtype!r}.")

    @property
    def limits(self) -> Limits:
        return DEMO_LIMITS if self.demo else Limits()

    @property
    def runs_dir(self) -> Path:
        """Fine-tuning run folders: ``PLAYGROUND_RUNS``, else ``<cache>/runs`` (under /data on a Space)."""
        return self.runs_dir_override or self.cache_dir / "runs"

    @classmethod
    def from_env(cls, **overrides: object) -> "Settings":
        demo = _env_flag("PLAYGROUND_DEMO")
        shared = demo or bool(os.environ.get("SPACE_ID"))
        local_paths = os.environ.get("PLAYGROUND_LOCAL_PATHS")
        settings = cls(
            cache_dir=default_cache_dir(),
            default_model=os.environ.get("PLAYGROUND_MODEL", DEFAULT_CAUSAL_MODEL),
            offline=_env_flag("HF_HUB_OFFLINE") or _env_flag("PLAYGROUND_OFFLINE"),
            trust_remote_code=_env_flag("PLAYGROUND_TRUST_REMOTE_CODE"),
            runs_dir_override=Path(os.environ["PLAYGROUND_RUNS"]) if os.environ.get("PLAYGROUND_RUNS") else None,
            device=detect_device(),
            weights_dtype=os.environ.get("PLAYGROUND_DTYPE", "float32").strip().lower() or "float32",
            prepacked_weights=os.environ.get("PLAYGROUND_PREPACK", "1").strip().lower() not in _FALSY,
            demo=demo,
            local_paths=not shared if local_paths is None else _env_flag("PLAYGROUND_LOCAL_PATHS"),
        )
        return replace(settings, **overrides) if overrides else settings
