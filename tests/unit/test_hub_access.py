"""Hub ids where the Hub does not answer: a clear error at once, or the local cache, never 23 s of retries.

The Hub here is a local address (see the ``hub_down`` and ``hub_up`` fixtures), so these tests mean the
same on a machine with a network."""

from __future__ import annotations

import pytest

from playground.core.errors import InvalidInputError, UnknownModelError
from playground.core.hub import hub_unreachable
from playground.core.settings import Settings
from playground.models.store import ModelStore

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def online(tmp_path) -> ModelStore:
    return ModelStore(Settings(cache_dir=tmp_path / "cache", offline=False))


def test_the_probe_tells_a_closed_port_from_a_listening_one(hub_down, hub_up):
    from tests.conftest import free_port

    closed = f"http://127.0.0.1:{free_port()}"
    assert hub_unreachable(closed).startswith("127.0.0.1: Connection refused")
    assert hub_unreachable(hub_up.url) is None


def test_behind_a_proxy_the_probe_leaves_the_decision_to_huggingface_hub(hub_down, monkeypatch):
    from tests.conftest import free_port

    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    assert hub_unreachable(f"http://127.0.0.1:{free_port()}") is None


@pytest.mark.parametrize("part", ["hf_tokenizer", "causal_lm", "encoder", "config"])
def test_a_hub_id_with_the_hub_down_is_a_clear_error_and_nothing_is_fetched(hub_down, tmp_path, part,
                                                                           monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    with pytest.raises(UnknownModelError) as failure:
        getattr(online(tmp_path), part)("some-org/some-model")
    assert "Reason: the Hub could not be reached (127.0.0.1: Connection refused) and it is not in the " \
           "local Hugging Face cache" in str(failure.value)
    assert hub_down.asked_for("some-org/some-model") == []  # told to read its cache only: no retries


def test_a_cached_hub_model_loads_from_the_cache_when_the_hub_is_down(hub_down, tmp_path, monkeypatch,
                                                                    tiny_lm, tokenizer):
    """The model a laptop downloaded yesterday still opens today without a network."""
    import torch
    from huggingface_hub import constants

    cache = tmp_path / "hub-cache"
    repo = cache / "models--tiny-org--tiny-llama"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    tiny_lm.save_pretrained(repo / "snapshots" / COMMIT)
    tokenizer.save_pretrained(repo / "snapshots" / COMMIT)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))

    store = online(tmp_path)
    model, loaded_tokenizer = store.causal_lm("tiny-org/tiny-llama"), store.hf_tokenizer("tiny-org/tiny-llama")
    ids = loaded_tokenizer("The cache still works", return_tensors="pt").input_ids
    assert ids.tolist() == tokenizer("The cache still works", return_tensors="pt").input_ids.tolist()
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, tiny_lm(ids).logits, atol=1e-5)
    assert hub_down.asked_for("tiny-org/tiny-llama") == []


def test_a_hub_dataset_with_the_hub_down_is_a_clear_error(hub_down, monkeypatch):
    import datasets

    from playground.finetune.config import FinetuneConfig
    from playground.finetune.data import load_pairs

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)  # read from the environment at its import

    with pytest.raises(InvalidInputError, match=r"Could not load the Hub dataset some/set \(split train\): the "
                       r"Hub could not be reached \(127\.0\.0\.1: Connection refused\)\. Upload the data"):
        load_pairs(FinetuneConfig(dataset="some/set"))
    assert hub_down.asked_for("some/set") == []
