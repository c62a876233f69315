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
    job = client.submit("The capital of France is Paris. The capital of Germany is", MODEL, "", 8,
                        api_name="/salience")
    scores = job.result(timeout=120)
    assert scores["target"] == " Berlin" and len(scores["methods"]) == 3
    assert all(len(values) == len(scores["tokens"]) for values in scores["methods"].values())
    assert scores["ig_steps_done"] == scores["ig_steps"] == 8 and len(scores["ig_path"]) == 9  # JSON all through
    first, *_ = streamed = job.outputs()  # as the page: a first map from the path cut into 4, then sharper
    assert [result["ig_steps_done"] for result in streamed] == [4, 8] and streamed[-1] == scores
    assert len(first["ig_path"]) == 5 and first["methods"]["gradient x input"] == scores["methods"]["gradient x input"]
    steered = client.predict("Write one sentence about your weekend.", MODEL, 10, 4.0, "positive vs negative", 12,
                             api_name="/steer")
    assert steered["layer"] == 10 and steered["norm"] > 0 and steered["steered"] != steered["unsteered"]
    with pytest.raises(AppError, match="No pair set named"):
        client.predict("Hi", MODEL, 10, 4.0, "happy vs sad", 4, api_name="/steer")


@pytest.fixture
def untrained_run(workspace):
    """A run of the app's own runs folder with an untrained LoRA adapter on the embedded model, removed after."""
    import shutil

    from tests.tuned_runs import save_run

    run_id = "20261206-000000-causes-api"
    save_run(workspace.finetune.runs_dir, run_id, MODEL, workspace.store.private_causal_lm(MODEL), nudge=False)
    yield run_id
    shutil.rmtree(workspace.finetune.runs_dir / run_id, ignore_errors=True)


def test_compare_internals_of_an_untrained_adapter_is_zero(client, untrained_run):
    result = client.predict(untrained_run, "The capital of France is Paris. The capital of Germany is", "",
                            api_name="/compare_internals")
    assert result["base_model"] == MODEL and result["token"] == " Berlin"
    assert result["distribution"]["kl_bits"] == pytest.approx(0, abs=1e-6)
    assert len(result["lens_kl_bits"]) == 31 and max(map(max, result["lens_kl_bits"])) == pytest.approx(0, abs=1e-6)
    assert np.abs(np.array(result["heads_difference"])).max() < 1e-4  # float rounding through the LoRA wrapper
    as_turn = client.predict(untrained_run, "What is the capital of France?", "", True, api_name="/compare_internals")
    assert "".join(as_turn["tokens"]).endswith("<|im_start|>assistant↵") and as_turn["token"] == "The"
    assert as_turn["distribution"]["kl_bits"] == pytest.approx(0, abs=1e-6)
    with pytest.raises(AppError, match="Choose a run"):
        client.predict("", "text", "", api_name="/compare_internals")
