"""The What-causes-it endpoints through gradio_client, on the embedded model."""

from __future__ import annotations

import numpy as np
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

MODEL = "smollm2-135m-instruct"
CLEAN, CORRUPTED = "The Eiffel Tower is in the city of", "The Colosseum is in the city of"


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_patching_endpoints_return_normalised_grids(client):
    patched = client.predict(CLEAN, CORRUPTED, MODEL, " Paris", " Rome", "residual", api_name="/patch")
    effects = np.array(patched["effects"])
    assert effects.shape == (30, len(patched["tokens"])) and patched["columns"] == "position"
    assert patched["metric_clean"] > 0 > patched["metric_corrupted"] and effects[0, 2] > 0.5
    heads = client.predict(CLEAN, CORRUPTED, MODEL, " Paris", " Rome", "heads", api_name="/attribution_patch")
    assert np.array(heads["effects"]).shape == np.array(heads["exact_effects"]).shape == (30, 9)
    assert heads["columns"] == "head" and -1 <= heads["agreement"] <= 1
    with pytest.raises(AppError, match="same length"):
        client.predict(CLEAN, "Rome is in the city of", MODEL, " Paris", " Rome", "residual", api_name="/patch")


def test_salience_and_steering_endpoints(client):
    scores = client.predict("The capital of France is Paris. The capital of Germany is", MODEL, "", 8,
                            api_name="/salience")
    assert scores["target"] == " Berlin" and len(scores["methods"]) == 3
    assert all(len(values) == len(scores["tokens"]) for values in scores["methods"].values())
    steered = client.predict("Write one sentence about your weekend.", MODEL, 10, 4.0, "positive vs negative", 12,
                             api_name="/steer")
    assert steered["layer"] == 10 and steered["norm"] > 0 and steered["steered"] != steered["unsteered"]
    with pytest.raises(AppError, match="No pair set named"):
        client.predict("Hi", MODEL, 10, 4.0, "happy vs sad", 4, api_name="/steer")
