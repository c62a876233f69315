"""A Hub model's weights, downloaded before its build takes the process-wide build lock.

``from_pretrained`` downloads inside the build (see :mod:`playground.models.build_lock`), so while one
user's 1 GB model came down, every other model build in the app waited: the attention tab's eager copy,
a quantized copy, a fine-tuned adapter's base. Fetched here first, outside the lock, the weights are in
the Hugging Face cache when the build starts, and the build reads them from there (transformers pins the
revision to its commit, so a cached file needs no further request).

The files are the ones transformers loads by default: ``model.safetensors``, else its sharded index and
shards, else the same for ``pytorch_model.bin``. Anything else (a variant, a layout this does not know,
a failure) is left to ``from_pretrained`` as before, inside the lock: slower for others, never wrong.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

log = logging.getLogger(__name__)

WEIGHT_LAYOUTS = (("model.safetensors", "model.safetensors.index.json"),
                  ("pytorch_model.bin", "pytorch_model.bin.index.json"))
"""(single file, sharded index) in transformers' order of preference."""


def weight_files(repo_files: Iterable[str], read_index: Callable[[str], dict]) -> list[str]:
    """The weight files transformers would load from a repo listing these files (top level only);
    ``read_index`` reads a sharded checkpoint's index (a small JSON file) by name."""
    files = set(repo_files)
    for single, index in WEIGHT_LAYOUTS:
        if single in files:
            return [single]
        if index in files:
            shards = sorted(set(read_index(index).get("weight_map", {}).values()))
            return [index, *shards] if shards and set(shards) <= files else []
    return []


def prefetch_weights(repo_id: str) -> list[str]:
    """Download ``repo_id``'s weights into the Hugging Face cache; returns the files fetched (none when the
    layout is unknown or anything fails: the build then downloads them itself)."""
    try:
        from huggingface_hub import HfApi, hf_hub_download

        info = HfApi().model_info(repo_id)
        names = [sibling.rfilename for sibling in info.siblings or [] if "/" not in sibling.rfilename]

        def read_index(filename: str) -> dict:
            path = hf_hub_download(repo_id, filename, revision=info.sha)
            return json.loads(Path(path).read_text(encoding="utf-8"))

        files = weight_files(names, read_index)
        for filename in files:
            hf_hub_download(repo_id, filename, revision=info.sha)
        return files
    except Exception as error:  # noqa: BLE001 - unknown repo, gated, network: from_pretrained says it better
        log.debug("Not prefetching %s: %s", repo_id, error)
        return []
