"""Attention maps on the real embedded models: parity, row sums, masks, truncation, summaries."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import BertConfig, LlamaConfig, T5Config

from playground.attention import head_summaries, pinned_token, rollout
from playground.core.errors import InvalidInputError, PlaygroundError
from playground.core.keyed_cache import LRUCache
from playground.models.registry import is_causal
from tabs.attention import plots

TEXT = "The animal didn't cross the street because it was too tired."
CAUSAL, ENCODER = "smollm2-135m-instruct", "minilm-l6"


@pytest.fixture(scope="module")
def explorer(workspace):
    return workspace.attention


@pytest.mark.parametrize("name", [CAUSAL, ENCODER])
def test_weights_equal_the_models_own_attentions(workspace, explorer, name):
    maps = explorer.compute(TEXT, name)
    ids = [token.id for token in workspace.tokenizers.get(name).encode(TEXT)]
    model = explorer.eager_model(name)
    with torch.inference_mode():
        own = model(input_ids=torch.tensor([ids]), output_attentions=True).attentions
    assert maps.weights.shape == (len(own), own[0].shape[1], len(ids), len(ids))
    for layer, expected in enumerate(own):
        np.testing.assert_allclose(maps.weights[layer], expected[0].numpy(), atol=1e-6)


@pytest.mark.parametrize("name", [CAUSAL, ENCODER])
def test_every_row_sums_to_one(explorer, name):
    maps = explorer.compute(TEXT, name)
    np.testing.assert_allclose(maps.weights.sum(-1), 1.0, atol=1e-4)
    assert (maps.weights >= 0).all()


def test_causal_maps_are_zero_above_the_diagonal_and_encoder_maps_are_not(explorer):
    causal, encoder = explorer.compute(TEXT, CAUSAL), explorer.compute(TEXT, ENCODER)
    assert (causal.kind, encoder.kind) == ("causal", "bidirectional")
    upper = np.triu_indices(causal.num_tokens, 1)
    assert np.abs(causal.weights[..., upper[0], upper[1]]).max() == 0
    upper = np.triu_indices(encoder.num_tokens, 1)
    assert encoder.weights[..., upper[0], upper[1]].max() > 0.05
    assert (causal.num_layers, causal.num_heads) == (30, 9)
    assert (encoder.num_layers, encoder.num_heads) == (6, 12)


def test_long_text_is_truncated_with_the_closing_special_kept(explorer):
    long_text = "tokens " * 400
    causal = explorer.compute(long_text, CAUSAL, max_tokens=64)
    assert causal.num_tokens == 64 and causal.total_tokens > 64 and causal.truncated
    encoder = explorer.compute(long_text, ENCODER, max_tokens=32)
    assert encoder.num_tokens == 32 and encoder.tokens[0] == "[CLS]" and encoder.tokens[-1] == "[SEP]"


def test_bad_input_is_a_clear_error(explorer):
    maps = explorer.compute(TEXT, CAUSAL)
    with pytest.raises(InvalidInputError, match="Layer 30 is out of range"):
        maps.head(30, 0)
    with pytest.raises(InvalidInputError, match="Head -1 is out of range"):
        maps.to_dict(0, -1)
    with pytest.raises(InvalidInputError, match="Type some text"):
        explorer.compute("   ", CAUSAL)
    with pytest.raises(InvalidInputError, match="max_tokens"):
        explorer.compute(TEXT, CAUSAL, max_tokens=5000)


def test_the_shared_model_keeps_its_attention_implementation(workspace, explorer):
    shared = workspace.store.causal_lm(CAUSAL)
    explorer.compute("a fresh sentence for this test", CAUSAL)
    assert shared.config._attn_implementation == "sdpa"
    assert explorer.eager_model(CAUSAL) is not shared


def test_summaries(explorer):
    maps = explorer.compute(TEXT, CAUSAL)
    summary = head_summaries(maps)
    assert all(values.shape == (30, 9) for values in summary.values())
    assert (summary["first_token"] >= 0).all() and (summary["first_token"] <= 1).all()
    assert summary["first_token"].max() > 0.5  # SmolLM2 has attention sinks on token 0
    mixed = rollout(maps)
    np.testing.assert_allclose(mixed.sum(-1), 1.0, atol=1e-6)
    assert np.abs(np.triu(mixed, 1)).max() < 1e-9
    np.testing.assert_allclose(pinned_token(maps, 4).sum(-1), 1.0, atol=1e-4)
    with pytest.raises(InvalidInputError):
        pinned_token(maps, maps.num_tokens)


def test_is_causal_reads_architectures():
    assert is_causal(LlamaConfig(architectures=["LlamaForCausalLM"]))
    assert not is_causal(BertConfig(architectures=["BertForMaskedLM"]))
    assert not is_causal(BertConfig())
    with pytest.raises(PlaygroundError, match="Encoder-decoder"):
        is_causal(T5Config())


def test_figures_are_bounded_and_show_the_mask(explorer):
    maps = explorer.compute("word " * 200, CAUSAL, max_tokens=128)
    head = plots.head_figure(maps, 3, 2)
    z = np.array(head.data[0].z, dtype=float)
    assert z.shape == (128, 128) and np.isnan(z[0, 1]) and not np.isnan(z[1, 0])
    layer = plots.layer_figure(maps, 3)
    assert len(layer.data) == 9 and all(np.array(t.z).shape == (40, 40) for t in layer.data)
    thumbnail = plots.downsample(maps.weights[3, 2])
    np.testing.assert_allclose(thumbnail.sum(-1), 1.0, atol=1e-3)  # block means keep rows summing to 1


def test_lru_cache_evicts_oldest():
    cache: LRUCache[int] = LRUCache(2)
    for key in "abc":
        cache.get_or_compute(key, lambda key=key: ord(key))
    assert len(cache) == 2
    calls = []
    cache.get_or_compute("a", lambda: calls.append(1) or 0)
    assert calls == [1]


def test_hiding_the_sink_renormalizes_over_the_other_tokens(explorer):
    from playground.attention import hide_first_token

    maps = explorer.compute(TEXT, CAUSAL)
    rows = pinned_token(maps, maps.num_tokens - 1)
    rest, share = hide_first_token(rows)
    assert rest.shape == (maps.num_layers, maps.num_tokens - 1)
    np.testing.assert_allclose(rest.sum(-1), 1.0, atol=1e-6)
    assert share == pytest.approx(rows[:, 0].mean())
    figure = plots.rollout_figure(maps, hide_sink=True)
    z = np.array(figure.data[0].z, dtype=float)
    assert z.shape == (maps.num_tokens, maps.num_tokens - 1)
    assert np.isnan(z[0]).all()  # token 0 has nothing left once it is hidden
    np.testing.assert_allclose(np.nansum(z[1:], axis=-1), 1.0, atol=1e-3)  # the rest is drawn
    assert "took" in figure.layout.title.text
