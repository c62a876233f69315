"""Activation patching against the model's own forward with the same activation overwritten by a plain
PyTorch hook, on a tiny random Llama; attribution patching against the metric's numerical derivative;
and once on the embedded model, where the fact moves from "Eiffel" to the last position."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from playground.core.errors import InvalidInputError
from playground.internals import patching
from playground.internals.tracing import ModelView, Run, trace

CLEAN = [504, 3458, 282, 4649, 314, 7042, 30, 378]
CORRUPTED = [504, 3458, 282, 2913, 314, 7042, 30, 378]
ANSWER, WRONG = 4649, 2913


@pytest.fixture(scope="module")
def view(tiny_lm):
    return ModelView(tiny_lm, "tiny")


@pytest.fixture(scope="module")
def experiment(view):
    clean, corrupted = (trace(view, ids, [str(i) for i in ids], len(ids)) for ids in (CLEAN, CORRUPTED))
    built = patching.Experiment(view, clean, corrupted, ANSWER, WRONG)
    patching.check_experiment(built)
    return built


def metric_with_hook(model, module, hook, pre: bool = False) -> float:
    """The corrupted prompt's metric with ``hook`` on ``module`` of the plain model (not the view)."""
    handle = module.register_forward_pre_hook(hook) if pre else module.register_forward_hook(hook)
    try:
        with torch.inference_mode():
            logits = model(input_ids=torch.tensor([CORRUPTED])).logits[0, -1].float()
    finally:
        handle.remove()
    return float(logits[ANSWER] - logits[WRONG])


def normalised(experiment, metric: float) -> float:
    return (metric - experiment.corrupted_metric) / (experiment.clean_metric - experiment.corrupted_metric)


def clean_inputs(model, modules) -> list[torch.Tensor]:
    """What each of ``modules`` receives (first argument) in the clean run of the plain model."""
    seen = []
    handles = [m.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone())) for m in modules]
    with torch.inference_mode():
        model(input_ids=torch.tensor([CLEAN]))
    for handle in handles:
        handle.remove()
    return seen


def test_residual_cells_equal_the_model_with_that_position_of_the_stream_overwritten(tiny_lm, experiment):
    effects = experiment.normalised(patching.patch_residual(experiment))
    layers = tiny_lm.model.layers
    entering = clean_inputs(tiny_lm, layers)
    assert np.array(effects).shape == (len(layers), len(CLEAN))
    for layer, position in ((0, 3), (1, 3), (1, 7), (0, 0)):
        def overwrite(module, args, layer=layer, position=position):
            hidden = args[0].clone()
            hidden[:, position] = entering[layer][:, position]
            return (hidden, *args[1:])
        expected = normalised(experiment, metric_with_hook(tiny_lm, layers[layer], overwrite, pre=True))
        assert effects[layer][position] == pytest.approx(expected, abs=1e-4)
    assert effects[0][0] == pytest.approx(0, abs=1e-5)  # the same first token: nothing to restore
    assert effects[0][3] == pytest.approx(1, abs=1e-4)  # the only token that differs: patching it is the clean run


def test_head_cells_equal_the_model_with_that_heads_slice_of_the_output_projection_input_overwritten(
        tiny_lm, experiment):
    effects = experiment.normalised(patching.patch_heads(experiment))
    projections = [layer.self_attn.o_proj for layer in tiny_lm.model.layers]
    clean = clean_inputs(tiny_lm, projections)
    width = tiny_lm.config.hidden_size // tiny_lm.config.num_attention_heads
    assert np.array(effects).shape == (len(projections), tiny_lm.config.num_attention_heads)
    for layer, head in ((0, 1), (1, 3)):
        def overwrite(module, args, layer=layer, head=head):
            heads_in = args[0].clone()
            heads_in[..., head * width:(head + 1) * width] = clean[layer][..., head * width:(head + 1) * width]
            return (heads_in,)
        expected = normalised(experiment, metric_with_hook(tiny_lm, projections[layer], overwrite, pre=True))
        assert effects[layer][head] == pytest.approx(expected, abs=1e-4)


def test_mlp_cells_equal_the_model_with_that_mlp_output_overwritten(tiny_lm, experiment):
    effects = experiment.normalised(patching.patch_mlps(experiment))
    mlps = [layer.mlp for layer in tiny_lm.model.layers]
    outputs = []
    handles = [m.register_forward_hook(lambda m, args, out: outputs.append(out.detach().clone())) for m in mlps]
    with torch.inference_mode():
        tiny_lm(input_ids=torch.tensor([CLEAN]))
    for handle in handles:
        handle.remove()
    for layer, position in ((0, 3), (1, 7)):
        def overwrite(module, args, output, layer=layer, position=position):
            output = output.clone()
            output[:, position] = outputs[layer][:, position]
            return output
        expected = normalised(experiment, metric_with_hook(tiny_lm, mlps[layer], overwrite))
        assert effects[layer][position] == pytest.approx(expected, abs=1e-4)


def metric_moved_toward_clean(view, experiment, what: str, layer: int, column: int, scale: float) -> float:
    """The corrupted run's metric with one cell moved ``scale`` of the way toward its clean value."""
    corrupted, clean = experiment.corrupted, experiment.clean
    hidden = corrupted.residual[layer][None].clone()
    if what == "residual":
        hidden[0, column] += scale * (clean.residual[layer][column] - corrupted.residual[layer][column])
        run = Run()
    elif what == "heads":
        mixed = corrupted.heads_in[layer] + scale * (clean.heads_in[layer] - corrupted.heads_in[layer])
        run = Run(head_patch={layer: (torch.eye(4, dtype=torch.bool)[column:column + 1], mixed)})
    else:
        clean_mlp = patching.mlp_outputs(view, clean)[layer]
        own = patching.mlp_outputs(view, corrupted)[layer]
        cells = torch.zeros(1, len(CLEAN), dtype=torch.bool)
        cells[0, column] = True
        run = Run(mlp_patch={layer: (cells, own + scale * (clean_mlp - own))})
    return float(experiment.metric(view.resume(corrupted, layer, hidden, run))[0])


@pytest.mark.parametrize("what", patching.WHATS)
def test_attribution_patching_is_the_metrics_derivative_along_each_patch(view, experiment, what):
    """Each estimate is metric(corrupted) + the directional derivative toward the clean activation: checked
    against a central difference of the real patched metric for a few cells."""
    estimated = experiment.normalised(patching.attribution_patch(experiment, what))
    exact = patching.SWEEPS[what](experiment, None)
    assert np.array(estimated).shape == np.array(exact).shape
    step = 1e-2  # float32: a smaller step's round-off, divided by the step and normalised, reached 2e-3 in CI
    for layer, column in ((0, 3), (1, 1)):
        derivative = (metric_moved_toward_clean(view, experiment, what, layer, column, step)
                      - metric_moved_toward_clean(view, experiment, what, layer, column, -step)) / (2 * step)
        expected = normalised(experiment, experiment.corrupted_metric + derivative)
        assert estimated[layer][column] == pytest.approx(expected, abs=2e-3)


@pytest.mark.parametrize("what", patching.WHATS)
def test_patching_the_clean_run_into_itself_changes_nothing(view, experiment, what):
    itself = patching.Experiment(view, experiment.clean, experiment.clean, ANSWER, WRONG)
    for grid in (patching.SWEEPS[what](itself, None), patching.attribution_patch(itself, what)):
        np.testing.assert_allclose(grid, np.full_like(np.array(grid), itself.clean_metric), atol=1e-5)


def test_patching_every_position_at_a_layer_gives_the_clean_metric_exactly(view, experiment):
    for layer in range(view.parts.num_layers):
        logits = view.resume(experiment.corrupted, layer, experiment.clean.residual[layer][None], Run())
        assert float(experiment.metric(logits)[0]) == pytest.approx(experiment.clean_metric, abs=1e-5)


def test_rank_agreement_is_spearmans_correlation_with_ties_sharing_their_rank():
    assert patching.rank_agreement([[1, 2], [3, 4]], [[10, 20], [30, 40]]) == pytest.approx(1)
    assert patching.rank_agreement([[1, 2, 3]], [[3, 2, 1]]) == pytest.approx(-1)
    assert patching.rank_agreement([[1, 1, 2]], [[5, 5, 9]]) == pytest.approx(1)
    assert np.isnan(patching.rank_agreement([[1, 1]], [[1, 2]]))


def test_prompts_of_different_lengths_or_equal_answers_are_refused_with_the_reason(view, experiment):
    shorter = trace(view, CORRUPTED[:-1], [str(i) for i in CORRUPTED[:-1]], len(CORRUPTED) - 1)
    with pytest.raises(InvalidInputError, match="8 tokens and the corrupted one 7"):
        patching.check_experiment(patching.Experiment(view, experiment.clean, shorter, ANSWER, WRONG))
    with pytest.raises(InvalidInputError, match="same token"):
        patching.check_experiment(patching.Experiment(view, experiment.clean, experiment.corrupted, ANSWER, ANSWER))
    with pytest.raises(InvalidInputError, match="nothing to restore"):
        patching.check_experiment(patching.Experiment(view, experiment.clean, experiment.clean, ANSWER, WRONG))
    with pytest.raises(InvalidInputError, match="cannot be patched"):
        patching.PatchRequest("a", "b", "m", " x", " y", what="everything")
    with pytest.raises(InvalidInputError, match="clean prompt"):
        patching.PatchRequest("  ", "b", "m", " x", " y")


def test_on_the_embedded_model_the_fact_moves_from_its_word_to_the_last_position(workspace):
    clean, corrupted, answer, wrong = patching.EXAMPLE
    request = patching.PatchRequest(clean, corrupted, "smollm2-135m-instruct", answer, wrong)
    result = patching.attribution_patching(workspace.inside, request).to_dict()
    exact = np.array(result["exact_effects"])
    assert result["metric_clean"] > 0 > result["metric_corrupted"]  # Paris over Rome, then Rome over Paris
    assert result["answer_tokens"] == [" Paris", " Rome"]
    assert exact.shape == (30, len(result["tokens"])) and result["tokens"][2] == "iffel"
    assert exact[0, 2] > 0.5 and exact[-1, -1] > 0.7  # early at "iffel", late at the last position
    assert abs(exact[-1, 2]) < 0.1  # by the last layer "iffel" no longer matters: the answer moved on
    assert result["agreement"] > 0.5
    with pytest.raises(InvalidInputError, match="same length"):
        patching.patch(workspace.inside, patching.PatchRequest(clean, "Rome is in the city of", "smollm2-135m-instruct",
                                                               answer, wrong))
