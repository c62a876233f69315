"""The Inside-the-model endpoints through gradio_client."""

from __future__ import annotations

import numpy as np
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

TEXT = "The capital of France is Paris. The capital of Germany is"
MODEL = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_inside_contract(client):
    card = client.predict(MODEL, api_name="/model_card")
    assert (card["num_layers"], card["num_heads"], card["num_kv_heads"], card["kind"]) == (30, 9, 3, "causal")
    assert sum(part["parameters"] for part in card["components"]) == card["parameters"]
    dist = client.predict(TEXT, MODEL, 1.0, 5, 1.0, api_name="/next_token")
    assert dist["kept_count"] == 5 and dist["tokens"][0]["text"] == " Berlin"
    assert sum(token["reshaped_prob"] for token in dist["tokens"]) == pytest.approx(1.0, abs=1e-4)
    math = client.predict(TEXT, MODEL, 2, 3, -1, api_name="/attention_math")
    attention = client.predict(TEXT, MODEL, 2, 3, api_name="/attention")
    np.testing.assert_allclose(math["weights"], attention["weights"][-1], atol=1e-5)
    lens = client.predict(TEXT, MODEL, api_name="/logit_lens")
    assert len(lens["final_probs"]) == 31 and lens["final_texts"][-1] == " Berlin"
    attributed = client.predict(TEXT, MODEL, "", api_name="/head_attribution")
    assert attributed["token"] == " Berlin" and attributed["total"] == pytest.approx(attributed["logit"], abs=1e-3)
    assert client.predict(TEXT, MODEL, None, None, api_name="/ablate")["kl_bits"] == 0
    knocked = client.predict(TEXT, MODEL, 3, None, api_name="/ablate")
    assert knocked["ablated"] == "layer 3 (attention and MLP)" and knocked["kl_bits"] > 0


def test_inside_errors_are_clear(client):
    with pytest.raises(AppError, match="Head 9 is out of range"):
        client.predict(TEXT, MODEL, 0, 9, 0, api_name="/attention_math")
    with pytest.raises(AppError, match="bidirectional encoder"):
        client.predict(TEXT, "minilm-l6", api_name="/logit_lens")
    with pytest.raises(AppError, match="Type some text"):
        client.predict("", MODEL, 1.0, 0, 1.0, api_name="/next_token")
    with pytest.raises(AppError, match="Could not load"):
        client.predict("nobody/nothing", api_name="/model_card")
    assert client.predict(MODEL, api_name="/model_card")["model"] == MODEL  # still serving
