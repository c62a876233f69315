"""The /attention endpoint through gradio_client."""

from __future__ import annotations

import numpy as np
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_attention_contract(client):
    data = client.predict("The cat sat on the mat.", "smollm2-135m-instruct", 2, 3,
                          api_name="/attention")
    assert (data["num_layers"], data["num_heads"], data["layer"], data["head"]) == (30, 9, 2, 3)
    weights = np.array(data["weights"])
    assert weights.shape == (len(data["tokens"]),) * 2
    np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-4)
    assert np.triu(weights, 1).max() == 0


def test_encoder_attention(client):
    data = client.predict("The cat sat.", "minilm-l6", 0, 11, api_name="/attention")
    assert data["tokens"][0] == "[CLS]" and data["kind"] == "bidirectional"
    assert np.triu(np.array(data["weights"]), 1).max() > 0


def test_out_of_range_is_a_clear_error(client):
    with pytest.raises(AppError, match="Layer 99 is out of range"):
        client.predict("hi there", "smollm2-135m-instruct", 99, 0, api_name="/attention")
    with pytest.raises(AppError, match="Could not load"):
        client.predict("hi there", "nobody/nothing", 0, 0, api_name="/attention")
