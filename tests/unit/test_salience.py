"""Salience against the model's own autograd on ``inputs_embeds`` and its own attention weights, on a tiny
random Llama; the word grouping and the request's checks; once on the embedded model through the inspector."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from playground.core.errors import InvalidInputError
from playground.internals import salience
from playground.internals.tracing import ModelView, trace

IDS = [504, 3458, 282, 4649, 314, 7042, 30, 378]
TARGET = 4649


@pytest.fixture(scope="module")
def view(tiny_lm):
    return ModelView(tiny_lm, "tiny")


@pytest.fixture(scope="module")
def traced(view):
    return trace(view, IDS, [str(i) for i in IDS], len(IDS))


def own_log_prob(model, embeddings: torch.Tensor) -> torch.Tensor:
    """The plain model's target log-probability at the last position, from ``inputs_embeds`` (rows x tokens x
    hidden)."""
    return torch.log_softmax(model(inputs_embeds=embeddings).logits[:, -1], dim=-1)[:, TARGET]


def test_gradient_x_input_is_the_models_own_gradient_times_its_embeddings(tiny_lm, view, traced):
    embeddings = tiny_lm.get_input_embeddings()(torch.tensor([IDS])).detach().requires_grad_(True)
    (gradient,) = torch.autograd.grad(own_log_prob(tiny_lm, embeddings).sum(), embeddings)
    expected = (gradient * embeddings).sum(-1)[0]
    np.testing.assert_allclose(salience.gradient_x_input(view, traced, TARGET), expected.detach().numpy(),
                               rtol=1e-4, atol=1e-6)


def gradient_times_step(model, point: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
    """The plain model's gradient of f at ``point`` (tokens x hidden), times the path's step, per token."""
    point = point[None].clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(own_log_prob(model, point).sum(), point)
    return (step * gradient[0]).sum(-1).detach()


def test_integrated_gradients_are_the_path_integral_and_close_completeness_as_steps_grow(tiny_lm, view, traced):
    baseline = trace(view, [0] * len(IDS), [""] * len(IDS), len(IDS)).residual[0]
    embeddings = tiny_lm.get_input_embeddings()(torch.tensor([IDS])).detach()[0]
    step = embeddings - baseline
    one_step, _, _ = salience.integrated_gradients(view, traced, TARGET, 1, baseline)
    ends = [gradient_times_step(tiny_lm, point, step) for point in (baseline, embeddings)]
    np.testing.assert_allclose(one_step, ((ends[0] + ends[1]) / 2).numpy(), rtol=1e-4, atol=1e-6)  # trapezoid
    with torch.no_grad():
        change = float(own_log_prob(tiny_lm, embeddings[None]) - own_log_prob(tiny_lm, baseline[None].clone()))
    gaps = []
    default = salience.SalienceRequest("text", "model").steps
    for steps in (2, default):  # the default: more than one chunk of path points
        scores, gap, measured_change = salience.integrated_gradients(view, traced, TARGET, steps, baseline)
        assert measured_change == pytest.approx(change, abs=1e-4)
        assert gap == pytest.approx(sum(scores) - change, abs=1e-6)
        gaps.append(abs(gap))
    assert gaps[1] < 0.05 * abs(change) and gaps[1] <= gaps[0]  # under 5% at the default, as issue 33 asks


def test_the_path_is_read_in_rounds_that_halve_the_worst_pieces(tiny_lm, view, traced):
    """The first batch cuts the path into 4 even pieces (its ends included, so gradient x input comes with it);
    each later round halves the 8 pieces read worst; every point is the plain model's."""
    baseline = trace(view, [0] * len(IDS), [""] * len(IDS), len(IDS)).residual[0]
    estimates = list(salience.integrated_gradients_progress(view, traced, TARGET, 64, baseline))
    assert [e.pieces for e in estimates] == [4, *range(12, 61, 8), 64]
    assert [alpha for alpha, _, _ in estimates[0].path] == [0, 0.25, 0.5, 0.75, 1]
    assert all(len(e.path) == e.pieces + 1 for e in estimates)
    scores, gap, change = salience.integrated_gradients(view, traced, TARGET, 64, baseline)
    np.testing.assert_allclose(estimates[-1].scores, scores, rtol=1e-6, atol=1e-8)
    assert estimates[-1].gap == pytest.approx(gap, abs=1e-6) and estimates[0].change == pytest.approx(change)
    np.testing.assert_allclose(estimates[0].local, salience.gradient_x_input(view, traced, TARGET), rtol=1e-4,
                               atol=1e-6)
    assert all(e.local == estimates[0].local and e.ends == estimates[0].ends for e in estimates)
    embeddings = traced.residual[0]
    alpha, value, integrand = estimates[-1].path[7]  # a point some round chose: f and the integrand are the model's
    point = baseline + alpha * (embeddings - baseline)
    with torch.no_grad():
        assert value == pytest.approx(float(own_log_prob(tiny_lm, point[None].clone())), abs=1e-5)
    assert integrand == pytest.approx(float(gradient_times_step(tiny_lm, point, embeddings - baseline).sum()),
                                      rel=1e-4, abs=1e-6)


def test_block_input_stops_before_the_first_block_with_the_traced_residual(view, traced):
    torch.testing.assert_close(view.block_input(IDS), traced.residual[0])


def test_the_neutral_baseline_keeps_the_first_token_and_averages_the_vocabulary_after_it(tiny_lm, view, traced):
    baseline = salience.neutral_baseline(view, traced)
    torch.testing.assert_close(baseline[0], traced.residual[0][0])  # the attention sink stays
    mean = tiny_lm.get_input_embeddings().weight.detach().mean(0)  # a Llama's blocks read the embeddings as they are
    torch.testing.assert_close(baseline[1:], mean.expand(len(IDS) - 1, -1), rtol=1e-5, atol=1e-6)


def test_attention_rollout_rolls_the_models_own_attention_weights(tiny_lm, view, traced):
    eager = copy.deepcopy(tiny_lm)
    eager.set_attn_implementation("eager")
    with torch.inference_mode():
        attentions = eager(input_ids=torch.tensor([IDS]), output_attentions=True).attentions
    rolled = torch.eye(len(IDS), dtype=torch.float64)
    for weights in attentions:
        mixed = 0.5 * weights[0].double().mean(0) + 0.5 * torch.eye(len(IDS), dtype=torch.float64)
        rolled = mixed / mixed.sum(-1, keepdim=True) @ rolled
    scores = salience.attention_rollout(view, traced)
    np.testing.assert_allclose(scores, rolled[-1].numpy(), rtol=1e-4, atol=1e-6)
    assert sum(scores) == pytest.approx(1)


def test_a_mixture_of_experts_model_is_told_why_steps_will_not_close_the_gap(tokenizer):
    from tests.families import tiny_config

    assert salience.routes_experts(tiny_config("mixtral", tokenizer))
    assert not salience.routes_experts(tiny_config("llama", tokenizer))


def test_tokens_group_into_the_words_whitespace_separates():
    text = "Hello, wonderful  world"
    spans = [(0, 5), (5, 6), (6, 16), (16, 18), (18, 23)]  # "Hello" "," " wonderful" "  " "world"
    assert salience.word_groups(text, spans) == [("Hello,", [0, 1]), ("wonderful", [2]), ("", [3]), ("world", [4])]


def test_disagreement_is_warned_about_and_bad_requests_are_refused():
    pairs = salience.agreements({"a": [1, 2, 3, 4], "b": [4, 3, 2, 1], "c": [1, 2, 3, 5]})
    assert pairs["a / b"] == pytest.approx(-1) and pairs["a / c"] == pytest.approx(1)
    assert "(rank agreement under +0.30: a / b, b / c)" in salience.disagreement_warning(pairs)
    assert salience.disagreement_warning({"a / c": 0.9}) is None
    with pytest.raises(InvalidInputError, match="1 to 256 steps"):
        salience.SalienceRequest("text", "m", "", 0)
    with pytest.raises(InvalidInputError, match="Type some text"):
        salience.SalienceRequest(" ", "m")
    assert salience.SalienceRequest("text", "m", "", 8.0).steps == 8


def test_on_the_embedded_model_every_method_scores_every_token_and_word(workspace):
    text = "The capital of France is Paris. The capital of Germany is"
    result = salience.salience(workspace.inside, salience.SalienceRequest(text, "smollm2-135m-instruct", "", 8))
    data = result.to_dict()
    assert data["target"] == " Berlin" and not data["unavailable"]
    assert set(data["methods"]) == {"gradient x input", "integrated gradients", "attention rollout"}
    assert all(len(scores) == len(data["tokens"]) for scores in data["methods"].values())
    assert [word["word"] for word in data["words"]][:4] == ["The", "capital", "of", "France"]
    for method, scores in data["methods"].items():
        assert sum(word["scores"][method] for word in data["words"]) == pytest.approx(sum(scores), abs=1e-6)
    assert data["completeness_gap"] == pytest.approx(sum(data["methods"]["integrated gradients"])
                                                     - data["log_prob_change"], abs=1e-6)
    assert data["log_prob_change"] == pytest.approx(data["log_prob"] - data["baseline_log_prob"])
    assert -1 < data["log_prob"] < 0 and data["baseline_log_prob"] < data["log_prob"] - 5  # "Berlin" is likely
    assert data["ig_steps_done"] == data["ig_steps"] == 8
    path = data["ig_path"]
    assert len(path) == 9 and [p["alpha"] for p in path] == sorted(p["alpha"] for p in path)
    assert (path[0]["alpha"], path[-1]["alpha"]) == (0, 1) and path[-1]["log_prob"] == data["log_prob"]
    assert path[0]["log_prob"] == data["baseline_log_prob"]
