"""Quantization endpoints through gradio_client."""

from __future__ import annotations

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

MODEL = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_quant_methods_lists_every_method_with_availability(client):
    rows = client.predict(api_name="/quant_methods")
    names = {row["method"] for row in rows}
    assert {"fp32", "bf16", "bnb-int8", "bnb-nf4", "bnb-fp4", "torchao-int8"} <= names
    assert all(row["available"] or row["reason"] for row in rows)


def test_quantize_compare_contract(client):
    rows = client.predict(MODEL, ["bnb-nf4"], "Name a colour.", api_name="/quantize_compare")
    assert [row["method"] for row in rows] == ["fp32", "bnb-nf4"]
    for row in rows:
        assert {"method", "weight_bytes", "perplexity", "tokens_per_s", "kl_vs_fp32", "top1_agreement",
                "output"} <= set(row)
        assert row["status"] == "done" and row["output"]
    assert rows[1]["weight_bytes"] < rows[0]["weight_bytes"] / 3
    assert rows[0]["kl_vs_fp32"] == 0 and rows[1]["kl_vs_fp32"] > 0


def test_quantize_compare_bad_input(client):
    with pytest.raises(AppError, match="Unknown quantization method"):
        client.predict(MODEL, ["int2"], "hi", api_name="/quantize_compare")
    with pytest.raises(AppError, match="encoder"):
        client.predict("minilm-l6", ["fp32"], "hi", api_name="/quantize_compare")
