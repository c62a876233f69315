"""After a run: the fine-tuned model beside its base, the adapter as a zip, merged weights, the Hub.

The Hugging Face token is used for one call and never stored: not on disk, not in a run folder,
not in a log line.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from playground.core.errors import InvalidInputError, first_line
from playground.core.keyed_cache import LRUCache
from playground.models.store import ModelStore


class AdapterModels:
    """Base models with a run's adapter applied, on private copies (two kept at most)."""

    def __init__(self, store: ModelStore) -> None:
        self.store = store
        self._loaded: LRUCache[Any] = LRUCache(2)

    def model(self, base_model: str, adapter: Path) -> Any:
        def load() -> Any:
            from peft import PeftModel

            if not (adapter / "adapter_config.json").exists():
                raise InvalidInputError(f"No adapter in {adapter.name}: the run has not saved one yet.")
            return PeftModel.from_pretrained(self.store.private_causal_lm(base_model), str(adapter)).eval()

        return self._loaded.get_or_compute((base_model, str(adapter)), load)


def zip_adapter(adapter: Path, destination: Path) -> Path:
    """``<destination>.zip`` holding the adapter folder (config + safetensors + tokenizer)."""
    if not (adapter / "adapter_config.json").exists():
        raise InvalidInputError("This run has no saved adapter yet.")
    return Path(shutil.make_archive(str(destination), "zip", root_dir=adapter))


def merge(store: ModelStore, base_model: str, adapter: Path, destination: Path) -> Path:
    """Base + adapter folded into plain weights, saved as a standalone model folder."""
    from peft import PeftModel

    model = PeftModel.from_pretrained(store.private_causal_lm(base_model), str(adapter)).merge_and_unload()
    model.save_pretrained(str(destination))
    store.hf_tokenizer(base_model).save_pretrained(str(destination))
    return destination


def push_adapter(adapter: Path, repo_id: str, token: str | None) -> str:
    """Upload the adapter folder to ``repo_id``; returns its URL. Offline is a clear error, not a hang."""
    import os

    token = (token or "").strip() or os.environ.get("HF_TOKEN")
    if not token:
        raise InvalidInputError("A Hugging Face token is needed: paste one (it is not stored) or set HF_TOKEN.")
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise InvalidInputError("No network here (HF_HUB_OFFLINE=1): the adapter cannot be pushed. Download it "
                                "instead and push it from a machine online.")
    try:
        from huggingface_hub import HfApi

        api = HfApi(token=token)
        api.create_repo(repo_id, exist_ok=True, private=True)
        api.upload_folder(folder_path=str(adapter), repo_id=repo_id, commit_message="LoRA adapter from LLM Playground")
    except Exception as error:  # noqa: BLE001 - network, auth, name: one clear message without the token
        message = first_line(str(error).replace(token, "***")) or type(error).__name__
        raise InvalidInputError(f"Could not push to {repo_id}: {message}") from error
    return f"https://huggingface.co/{repo_id}"
