"""Hub ids where the Hub answers: downloaded through huggingface_hub's real path, from a Hub of the
tests' own (tests/fake_hub.py), as on a Space; a download holds up no other model's build."""

from __future__ import annotations

import threading

import pytest
import torch

from playground.core.settings import Settings
from playground.models import embedded
from playground.models.prefetch import weight_files
from playground.models.registry import EMBEDDED_MODELS
from playground.models.store import ModelStore
from tests.fake_hub import FakeHub
from tests.unit.conftest import point_the_hub_at

TEXT = "A download should hold up nobody"


@pytest.fixture
def hub(tiny_folder, tmp_path, monkeypatch):
    """The tiny model as ``tiny-org/tiny-llama`` and as SmolLM2's Hub original, an empty Hub cache."""
    from huggingface_hub import constants

    served = FakeHub({"tiny-org/tiny-llama": tiny_folder,
                      EMBEDDED_MODELS["smollm2-135m-instruct"].hub_id: tiny_folder})
    point_the_hub_at(monkeypatch, served.url, served.url)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    yield served
    served.close()


def online(tmp_path) -> ModelStore:
    return ModelStore(Settings(cache_dir=tmp_path / "cache", offline=False))


def same_logits(model, reference, tokenizer) -> bool:
    ids = tokenizer(TEXT, return_tensors="pt").input_ids
    with torch.no_grad():
        return torch.allclose(model(ids).logits, reference(ids).logits, atol=1e-5)


def test_a_hub_model_is_downloaded_once_and_loads(hub, tmp_path, tiny_lm, tokenizer):
    store = online(tmp_path)
    model = store.causal_lm("tiny-org/tiny-llama")
    assert same_logits(model, tiny_lm, store.hf_tokenizer("tiny-org/tiny-llama"))
    assert store.hf_tokenizer("tiny-org/tiny-llama")(TEXT).input_ids == tokenizer(TEXT).input_ids
    store.causal_lm("tiny-org/tiny-llama", attn_implementation="eager")  # a second copy: from the cache
    weights = [line for line in hub.requests if line.startswith("GET") and line.endswith("/model.safetensors")]
    assert len(weights) == 1, hub.requests


def test_other_model_builds_go_on_while_a_hub_model_downloads(hub, tmp_path, tiny_folder, tiny_lm):
    """Before, the download ran inside from_pretrained, under the lock every model build takes."""
    store = online(tmp_path)
    release = hub.hold("model.safetensors")
    downloaded: list = []
    downloading = threading.Thread(target=lambda: downloaded.append(store.causal_lm("tiny-org/tiny-llama")))
    downloading.start()
    try:
        assert hub.serving.wait(30), hub.requests
        built: list = []
        building = threading.Thread(target=lambda: built.append(store.causal_lm(str(tiny_folder))))
        building.start()
        building.join(30)  # a deadline for a hang, not a speed target: the held download waits 60 s
        assert built and not downloaded, "the local model's build waited for the other model's download"
    finally:
        release.set()
        downloading.join(60)
    assert same_logits(downloaded[0], tiny_lm, store.hf_tokenizer(str(tiny_folder)))


def test_on_a_space_the_embedded_names_load_their_hub_originals(hub, tmp_path, monkeypatch, tiny_lm):
    """A Space installs no --no-deps packages, so SmolLM2 comes from HuggingFaceTB's repository."""
    monkeypatch.setattr(embedded, "smollm2_gguf_path", lambda: None)
    store = online(tmp_path)
    model = store.causal_lm("smollm2-135m-instruct")
    assert same_logits(model, tiny_lm, store.hf_tokenizer("smollm2-135m-instruct"))
    assert any(EMBEDDED_MODELS["smollm2-135m-instruct"].hub_id in line for line in hub.requests)


def test_the_weights_fetched_first_are_the_ones_transformers_loads():
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    shards = ["model.safetensors.index.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    assert weight_files(["config.json", "model.safetensors", "pytorch_model.bin"], dict) == ["model.safetensors"]
    assert weight_files(["config.json", *shards, "pytorch_model.bin"], lambda name: index) == shards
    assert weight_files(["config.json", "pytorch_model.bin"], dict) == ["pytorch_model.bin"]
    assert weight_files(["config.json", "model.gguf"], dict) == []  # unknown: from_pretrained fetches it
    assert weight_files(shards[:2], lambda name: index) == []  # an index naming a missing shard


def test_a_hub_dataset_for_fine_tuning_comes_down_through_datasets(tmp_path, monkeypatch):
    """The Fine-tuning tab's "Hub dataset id" on a Space: datasets' own download path, a slice of a split."""
    import json

    import datasets
    from huggingface_hub import constants

    from playground.finetune.config import FinetuneConfig
    from playground.finetune.data import load_pairs

    repo = tmp_path / "dataset-repo"
    repo.mkdir()
    rows = [{"prompt": f"Say hello number {i}", "response": f"Ahoy {i}!"} for i in range(30)]
    (repo / "train.jsonl").write_text("\n".join(json.dumps(row) for row in rows), encoding="utf-8")
    served = FakeHub({"datasets/someone/pirate-pairs": repo})
    try:
        point_the_hub_at(monkeypatch, served.url, served.url)
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
        for name, value in (("HF_ENDPOINT", served.url), ("HF_HUB_OFFLINE", False),  # read at its import
                            ("HUB_DATASETS_URL", served.url + "/datasets/{repo_id}/resolve/{revision}/{path}"),
                            ("HF_DATASETS_CACHE", tmp_path / "datasets-cache")):
            monkeypatch.setattr(datasets.config, name, value)
        pairs = load_pairs(FinetuneConfig(dataset="someone/pirate-pairs", split="train[:20]"))
    finally:
        served.close()
    assert [(pair.prompt, pair.response) for pair in pairs] == [(row["prompt"], row["response"]) for row in rows[:20]]
    assert any(line.endswith("/train.jsonl") for line in served.requests)


def test_a_trained_adapter_is_pushed_to_a_private_repository(tmp_path, monkeypatch, tiny_lm):
    """The seed project's last step: push the adapter. The token goes with the requests and nowhere else."""
    import copy

    from peft import LoraConfig, get_peft_model

    from playground.finetune.adapters import push_trained

    folder = tmp_path / "adapter"
    get_peft_model(copy.deepcopy(tiny_lm), LoraConfig(r=2, target_modules=["q_proj", "v_proj"])).save_pretrained(folder)
    served = FakeHub({})
    try:
        point_the_hub_at(monkeypatch, served.url, served.url)
        url = push_trained(folder, "someone/pirate-adapter", "hf_only_for_this_push")
    finally:
        served.close()
    assert url == f"{served.url}/someone/pirate-adapter"
    assert served.created["someone/pirate-adapter"]["visibility"] == "private"
    sent = served.uploads["someone/pirate-adapter"]
    assert sent == {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}
    assert set(served.authorizations) == {"Bearer hf_only_for_this_push"}
