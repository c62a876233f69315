"""The tokenizer endpoints through gradio_client against a launched app."""

from __future__ import annotations

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_tokenizers_endpoint(client):
    names = client.predict(api_name="/tokenizers")
    assert {"smollm2-135m-instruct", "minilm-l6", "cl100k_base"} <= set(names)


def test_tokenize_contract(client):
    text = "Hello 👋 world"
    data = client.predict(text, "smollm2-135m-instruct", api_name="/tokenize")
    assert data["tokenizer"] == "smollm2-135m-instruct"
    assert data["num_chars"] == len(text) and data["num_tokens"] == len(data["tokens"]) > 0
    for token in data["tokens"]:
        assert set(token) >= {"id", "text", "start", "end", "special"}
        assert 0 <= token["start"] <= token["end"] <= len(text)
    assert "".join(bytes.fromhex(t["bytes"]).decode("latin-1") for t in data["tokens"]).encode(
        "latin-1").decode("utf-8") == text


def test_tokenize_added_specials_have_empty_span(client):
    data = client.predict("hi", "minilm-l6", api_name="/tokenize")
    assert data["tokens"][0]["text"] == "[CLS]" and data["tokens"][0]["special"]
    assert data["tokens"][0]["start"] == data["tokens"][0]["end"]


def test_unknown_tokenizer_is_a_clear_api_error(client):
    with pytest.raises(AppError, match="Could not load 'nobody/nothing'"):
        client.predict("hi", "nobody/nothing", api_name="/tokenize")


def test_empty_text(client):
    data = client.predict("", "cl100k_base", api_name="/tokenize")
    assert data["num_tokens"] == 0 and data["tokens"] == []


def test_chat_template_endpoint(client):
    messages = [{"role": "user", "content": "What is a token?"}]
    data = client.predict(messages, "smollm2-135m-instruct", True, api_name="/chat_template")
    assert "<|im_start|>user\nWhat is a token?<|im_end|>" in data["text"]
    assert data["num_tokens"] == len(data["tokens"]) and data["num_special"] >= 3
    with pytest.raises(AppError, match="no chat template"):
        client.predict(messages, "minilm-l6", True, api_name="/chat_template")


def test_train_bpe(client):
    text = "the cat sat on the mat. the cat ate the rat. " * 30
    data = client.predict(text, "the cat sat", api_name="/train_bpe")
    assert data["merges"][0]["count"] >= data["merges"][-1]["count"] and data["num_merges"] > 10
    assert [stage["merges"] for stage in data["stages"]] == [100, 500, 2000]
    assert "".join(token["text"] for token in data["stages"][0]["tokens"]) == "the cat sat"
    with pytest.raises(AppError, match="Paste some text"):
        client.predict("", "the cat", api_name="/train_bpe")
