"""After a run: the fine-tuned model beside its base, the adapter as a zip, merged weights, the Hub.

The Hugging Face token is used for one call and never stored: not on disk, not in a run folder,
not in a log line.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from playground.core.errors import InvalidInputError, first_line
from playground.core.keyed_cache import KeyedCache
from playground.generation.engine import Generation, GenerationEngine, decode_with
from playground.generation.sampling import SamplingSettings
from playground.models.store import ModelStore

ADAPTERS_KEPT = 2
"""Fine-tuned models held at once: each is a whole private copy of its base."""
MERGED_STAMP = ".adapter-stamp"
"""In a merged folder, the adapter it was merged from; written last, so it also marks a whole folder."""


def adapter_stamp(adapter: Path) -> str:
    """Which save of the adapter this is: a resumed run saves a new one under the same path."""
    weights = adapter / "adapter_model.safetensors"
    if not weights.is_file():
        weights = adapter / "adapter_config.json"
    try:
        stat = weights.stat()
    except FileNotFoundError:
        return "none"
    return f"{stat.st_size}-{stat.st_mtime_ns}"


class AdapterModels:
    """Base models with a run's adapter applied, on private copies, shared by every user.

    One load per adapter however many ask at once, and only the last few kept. Merges of one
    run take turns, so two users merging at once get one complete folder.
    """

    def __init__(self, store: ModelStore, kept: int = ADAPTERS_KEPT) -> None:
        self.store = store
        self._loaded: KeyedCache[Any] = KeyedCache(maxsize=kept)
        self._merge_locks: KeyedCache[threading.Lock] = KeyedCache()

    def model(self, base_model: str, adapter: Path) -> Any:
        def load() -> Any:
            from peft import PeftModel

            if not (adapter / "adapter_config.json").exists():
                raise InvalidInputError(f"No adapter in {adapter.name}: the run has not saved one yet.")
            tuned = PeftModel.from_pretrained(self.store.private_causal_lm(base_model), str(adapter)).eval()
            return tuned.to(self.store.settings.device)  # beside the shared base model it is compared with

        key = (base_model.strip(), str(adapter.resolve()), adapter_stamp(adapter))
        return self._loaded.get_or_load(key, load)

    def merge(self, base_model: str, adapter: Path, destination: Path) -> Path:
        """``destination`` holding base + adapter as plain weights; merged once per saved adapter."""
        lock = self._merge_locks.get_or_load(str(destination.resolve()), threading.Lock)
        with lock:
            stamp = adapter_stamp(adapter)
            if _read_stamp(destination) == stamp:
                return destination

            def build(folder: Path) -> None:
                merge(self.store, base_model, adapter, folder)
                (folder / MERGED_STAMP).write_text(stamp, encoding="utf-8")

            return publish_folder(build, destination)


def _read_stamp(folder: Path) -> str | None:
    try:
        return (folder / MERGED_STAMP).read_text(encoding="utf-8")
    except OSError:
        return None


def publish_folder(build: Callable[[Path], None], target: Path) -> Path:
    """Build into a temporary sibling folder, then rename it into place, replacing any old one.

    Readers see the old folder or the new one, never half of either; a failure half way leaves
    neither a broken ``target`` nor a temporary folder behind.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-new-", dir=target.parent))
    retired: Path | None = None
    try:
        build(staging)
        if target.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent))
            os.replace(target, retired / target.name)
        try:
            os.replace(staging, target)
        except OSError:
            if retired is not None:
                os.replace(retired / target.name, target)  # put the old one back
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)
    return target


def side_by_side(engine: GenerationEngine, tuned: Any, base_model: str, prompt: str,
                 settings: SamplingSettings, label: str = "fine-tuned") -> Iterator[tuple[Generation, Generation]]:
    """The base model's and the fine-tuned model's answers to one prompt, as they grow.

    The base model answers in its batch like any generation. The tuned copy decodes alone, and
    it is as big as its base and runs on the same processor, so it takes a place in the base
    model's first-come-first-served line (:meth:`GenerationEngine.gate`) rather than decoding
    beside every queue; while it waits its column says so.
    """
    prepared = engine.prepare(base_model, prompt, settings.max_new_tokens)
    mine = Generation(label, prepared, settings)

    def waiting(position: int) -> Generation:
        mine.queue_position = position
        return mine

    def decode() -> Iterator[Generation]:
        mine.queue_position = 0
        yield from decode_with(tuned, engine.load(base_model)[1], mine)

    streams = (engine.stream(base_model, prompt, settings), engine.queued([base_model], decode, waiting))
    latest: list[Generation | None] = [None, mine]
    live = [True, True]
    try:
        while any(live):
            for index, stream in enumerate(streams):
                if live[index]:
                    value = next(stream, None)  # run to the end: the tuned copy leaves the line at once
                    live[index] = value is not None
                    if value is not None:
                        latest[index] = value
            if latest[0] is not None:
                yield latest[0], mine
    finally:
        for stream in streams:
            stream.close()


def is_adapter(folder: Path) -> bool:
    return (folder / "adapter_config.json").is_file()


def what(folder: Path) -> str:
    """How a run's trained folder is named to the user."""
    return "LoRA adapter" if is_adapter(folder) else "fine-tuned model"


def zip_trained(folder: Path, destination: Path) -> Path:
    """``<destination>.zip`` holding a run's adapter or whole-weights folder (config, safetensors, tokenizer)."""
    if not is_adapter(folder) and not (folder / "config.json").is_file():
        raise InvalidInputError("This run has no saved adapter or model yet.")
    return Path(shutil.make_archive(str(destination), "zip", root_dir=folder))


def merge(store: ModelStore, base_model: str, adapter: Path, destination: Path) -> Path:
    """Base + adapter folded into plain weights, saved into ``destination`` (callers publish it:
    :meth:`AdapterModels.merge` builds in a temporary folder and renames it into place)."""
    from peft import PeftModel

    if not (adapter / "adapter_config.json").exists():
        raise InvalidInputError("This run has no saved adapter yet.")
    model = PeftModel.from_pretrained(store.private_causal_lm(base_model), str(adapter)).merge_and_unload()
    model.save_pretrained(str(destination))
    store.hf_tokenizer(base_model).save_pretrained(str(destination))
    return destination


def push_trained(folder: Path, repo_id: str, token: str | None) -> str:
    """Upload a run's adapter or whole-weights folder to ``repo_id``; returns its URL. Offline is a clear
    error, not a hang."""
    token = (token or "").strip() or os.environ.get("HF_TOKEN")
    if not token:
        raise InvalidInputError("A Hugging Face token is needed: paste one (it is not stored) or set HF_TOKEN.")
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise InvalidInputError(f"No network here (HF_HUB_OFFLINE=1): the {what(folder)} cannot be pushed. "
                                "Download it instead and push it from a machine online.")
    try:
        from huggingface_hub import HfApi

        api = HfApi(token=token)
        url = api.create_repo(repo_id, exist_ok=True, private=True)
        api.upload_folder(folder_path=str(folder), repo_id=repo_id,
                          commit_message=f"{what(folder).capitalize()} from LLM Playground")
    except Exception as error:  # noqa: BLE001 - network, auth, name: one clear message without the token
        message = first_line(str(error).replace(token, "***")) or type(error).__name__
        raise InvalidInputError(f"Could not push to {repo_id}: {message}") from error
    return str(url)  # the Hub's own address for it: HF_ENDPOINT's for a mirror or a private Hub
