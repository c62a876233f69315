"""Linear layers on oneDNN-prepacked weights: the same products as F.linear up to rounding, on for the
shared CPU models by default, off by a setting, and never in the way of gradients or in-place edits."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from playground.core.settings import Settings
from playground.models.prepacked import PrepackedLinear, prepack_linears, prepacking_available
from playground.workspace import Workspace

MODEL = "smollm2-135m-instruct"
ROUNDING = dict(rtol=1e-4, atol=1e-4)

pytestmark = pytest.mark.skipif(not prepacking_available(), reason="this torch build has no oneDNN")


def layers(bias: bool) -> torch.nn.Sequential:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 96, bias=bias), torch.nn.ReLU(), torch.nn.Linear(96, 32))


@pytest.mark.parametrize("bias", [True, False])
def test_prepacked_layers_compute_what_f_linear_computes(bias):
    model = layers(bias)
    reference = copy.deepcopy(model)
    assert prepack_linears(model) == 2
    assert all(isinstance(module, (PrepackedLinear, torch.nn.ReLU)) for module in model)
    assert isinstance(model[0], torch.nn.Linear)  # still one for PEFT, saving and isinstance checks
    for shape in [(1, 64), (16, 64), (3, 7, 64), (0, 64)]:
        x = torch.randn(*shape)
        with torch.inference_mode():
            assert torch.allclose(model(x), reference(x), **ROUNDING)
    assert model.state_dict().keys() == reference.state_dict().keys()  # the packed copy is not saved


def test_a_model_past_the_memory_budget_is_left_as_it_is():
    model = layers(True)
    assert prepack_linears(model, max_bytes=64 * 96 * 4) == 0  # the first layer alone fills the budget
    assert all(type(module) is not PrepackedLinear for module in model)
    assert prepack_linears(model, max_bytes=(64 * 96 + 96 * 32) * 4) == 2


def test_a_weight_changed_in_place_is_packed_again():
    model = layers(True)
    prepack_linears(model)
    x = torch.randn(4, 64)
    with torch.no_grad():
        before = model[0](x)
        model[0].weight.mul_(2)
        after = model[0](x)
    assert torch.allclose(after - model[0].bias, 2 * (before - model[0].bias), **ROUNDING)
    assert torch.allclose(after, F.linear(x, model[0].weight, model[0].bias), **ROUNDING)


def test_gradients_go_through_f_linear():
    model = layers(True)
    reference = copy.deepcopy(model)
    prepack_linears(model)
    x = torch.randn(5, 64)
    model(x).sum().backward()
    reference(x).sum().backward()
    assert torch.equal(model[0].weight.grad, reference[0].weight.grad)


def test_a_deep_copy_shares_the_packed_weights_and_computes_the_same():
    model = layers(False)
    prepack_linears(model)
    twin = copy.deepcopy(model)
    assert twin[0].__dict__["_prepacked"] is model[0].__dict__["_prepacked"]
    x = torch.randn(3, 64)
    with torch.inference_mode():
        assert torch.equal(twin(x), model(x))


def test_the_shared_models_are_prepacked_unless_the_setting_says_no(workspace, monkeypatch):
    lm = workspace.store.causal_lm(MODEL)
    assert isinstance(lm.lm_head, PrepackedLinear)
    assert isinstance(lm.model.layers[0].mlp.down_proj, PrepackedLinear)
    assert lm.lm_head.weight is lm.model.embed_tokens.weight  # the tie survives

    monkeypatch.delenv("PLAYGROUND_PREPACK", raising=False)
    assert Settings.from_env().prepacked_weights is True
    monkeypatch.setenv("PLAYGROUND_PREPACK", "0")
    assert Settings.from_env().prepacked_weights is False
    plain = Workspace.create(replace(workspace.settings, prepacked_weights=False)).store.causal_lm(MODEL)
    assert type(plain.lm_head) is torch.nn.Linear

    ids = torch.tensor([[1, 504, 3458, 314, 260, 2424, 282]])
    with torch.inference_mode():
        packed_logits = lm(input_ids=ids).logits
        plain_logits = plain(input_ids=ids).logits
    assert torch.allclose(packed_logits, plain_logits, rtol=1e-3, atol=1e-3)
    assert torch.equal(packed_logits.argmax(-1), plain_logits.argmax(-1))


def test_unpacking_gives_plain_linear_layers_back():
    from playground.models.prepacked import unpack_linears

    model = layers(True)
    prepack_linears(model)
    assert unpack_linears(model) == 2
    assert type(model[0]) is torch.nn.Linear and "_prepacked" not in model[0].__dict__
