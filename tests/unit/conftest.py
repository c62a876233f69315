"""Fixtures of the unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_BASE = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """One scratch folder per module: hypothesis cannot reset function-scoped fixtures between examples."""
    return tmp_path_factory.mktemp("properties")


@pytest.fixture(scope="module")
def tokenizer(workspace):
    """The embedded SmolLM2 tokenizer (its chat template included); modules may override it."""
    return workspace.store.hf_tokenizer(TINY_BASE)


@pytest.fixture(scope="module")
def tiny_lm(tokenizer):
    """A 2-layer Llama with random weights over the embedded tokenizer's vocabulary, in eval mode.

    One per module: a module that trains it (or leaves gradients on it) cannot disturb another's.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                         eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id)
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="module")
def tiny_folder(tiny_lm, tokenizer, tmp_path_factory) -> Path:
    """The tiny Llama and the embedded tokenizer saved as a model folder (a local model, a Hub repository)."""
    folder = tmp_path_factory.mktemp("tiny-llama")
    tiny_lm.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder



class Listener:
    """A local socket that accepts connections, keeps each request's first line and closes it at once."""

    def __init__(self) -> None:
        import socket
        import threading

        self.requests: list[str] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return  # closed
            with connection:
                connection.settimeout(1)
                try:
                    head = connection.recv(4096)
                except OSError:
                    head = b""  # a bare connection, like the probe's
                self.requests.append(head.split(b"\r\n", 1)[0].decode("latin-1"))

    def asked_for(self, repo_id: str) -> list[str]:
        """The requests that named ``repo_id`` (huggingface_hub also asks for a registry of its own)."""
        return [line for line in self.requests if repo_id in line]

    def close(self) -> None:
        self._server.close()


def point_the_hub_at(monkeypatch, probed: str, fetched_from: str) -> None:
    """The Hub's address as the probe reads it (HF_ENDPOINT) and as huggingface_hub does (its constants,
    set at its import); online mode, no proxy."""
    import transformers.utils.hub as transformers_hub
    from huggingface_hub import constants

    from playground.core.hub import PROXY_VARIABLES

    monkeypatch.setenv("HF_ENDPOINT", probed)
    monkeypatch.setattr(constants, "ENDPOINT", fetched_from)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                        fetched_from + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # tests/conftest.py set it before the import
    monkeypatch.setattr(transformers_hub, "_hf_api", None)  # transformers keeps one HfApi, with its endpoint
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def hub_down(monkeypatch):
    """The probe finds the Hub's port closed, as on a machine with no network. huggingface_hub's own
    address is a listener that keeps the requests, so a test can check that nothing was fetched."""
    from tests.conftest import free_port

    listener = Listener()
    point_the_hub_at(monkeypatch, f"http://127.0.0.1:{free_port()}", listener.url)
    yield listener
    listener.close()


@pytest.fixture
def hub_up(monkeypatch):
    """The Hub is a local socket that accepts connections (all the probe asks of it)."""
    listener = Listener()
    point_the_hub_at(monkeypatch, listener.url, listener.url)
    yield listener
    listener.close()
