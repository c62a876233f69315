"""Inside the model: each view against the model's own computation, on a tiny random Llama (fast) and once
on the embedded models (the /attention parity, the encoder's card, the app's error messages)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertModel, FalconConfig, FalconForCausalLM, T5Config, T5ForConditionalGeneration

from playground.core.errors import InvalidInputError, UnknownModelError
from playground.internals import architecture, attribution, distribution, head_math, logit_lens
from playground.internals.tracing import ModelView, Run, trace
from tabs.inside import diagram, plots

IDS = [504, 3458, 282, 4649, 314, 7042, 30, 378, 3458, 282, 7313, 314]
TEXT = "The capital of France is Paris. The capital of Germany is"
CAUSAL, ENCODER = "smollm2-135m-instruct", "minilm-l6"


@pytest.fixture(scope="module")
def view(tiny_lm):
    return ModelView(tiny_lm, "tiny")


@pytest.fixture(scope="module")
def traced(view):
    return trace(view, IDS, [str(i) for i in IDS], len(IDS))


def own_logits(model, ids=IDS):
    with torch.inference_mode():
        return model(input_ids=torch.tensor([ids])).logits[0].float()


def test_the_view_shares_the_weights_and_leaves_the_shared_model_unhooked(tiny_lm, view, traced):
    assert view.model.lm_head.weight is tiny_lm.lm_head.weight
    assert view.model.model.layers[0] is not tiny_lm.model.layers[0]
    assert not tiny_lm.model.layers[0]._forward_hooks and view.model.model.layers[0]._forward_hooks
    before = own_logits(tiny_lm)
    attribution.ablation_logits(view, traced, 1, 2)
    torch.testing.assert_close(own_logits(tiny_lm), before, rtol=0, atol=0)


def test_logit_lens_last_layer_is_the_models_own_distribution(tiny_lm, view, traced):
    last = view.parts.num_layers
    lens = logit_lens.lens_logits(view.parts, traced, range(last, last + 1))[0]
    torch.testing.assert_close(lens, own_logits(tiny_lm), rtol=1e-5, atol=1e-5)
    result = logit_lens.logit_lens(view.parts, traced, str, positions=4)
    assert result["positions"] == list(range(len(IDS) - 4, len(IDS)))
    assert len(result["final_probs"]) == last + 1 and result["layers"][0] == "embeddings"
    probs = torch.softmax(own_logits(tiny_lm)[-4:], -1)
    np.testing.assert_allclose(result["final_probs"][-1], probs.max(-1).values.numpy(), atol=1e-5)
    assert result["final_ranks"][-1] == [1, 1, 1, 1]
    assert result["final_ids"] == probs.argmax(-1).tolist()
    plots.lens_figure(result).to_json()


def test_head_math_weights_equal_output_attentions_for_every_head(tiny_lm, view, traced):
    eager = copy.deepcopy(tiny_lm)
    eager.set_attn_implementation("eager")
    with torch.inference_mode():
        attentions = eager(input_ids=torch.tensor([IDS]), output_attentions=True).attentions
    for layer in range(view.parts.num_layers):
        for head in range(view.parts.num_heads):
            for query in (0, 5, len(IDS) - 1):
                math = head_math.head_math(view.parts, traced, layer, head, query)
                np.testing.assert_allclose(math["weights"], attentions[layer][0, head, query].numpy(), atol=1e-5)
                assert math["kv_head"] == head // 2 and math["max_difference"] < 1e-5
                assert all(w == 0 for w, m in zip(math["weights"], math["masked"], strict=True) if m)
                assert sum(math["masked"]) == len(IDS) - 1 - query
    assert np.isclose(sum(math["weights"]), 1, atol=1e-5) and len(math["keys"]) == len(IDS)


def test_parameter_counts_equal_the_sum_of_the_parameters_sizes(tiny_lm):
    bert = BertModel(BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                intermediate_size=37)).eval()
    t5 = T5ForConditionalGeneration(T5Config(vocab_size=99, d_model=32, d_kv=8, d_ff=37, num_layers=2,
                                             num_decoder_layers=3, num_heads=4)).eval()
    for model, kind in ((tiny_lm, "causal"), (bert, "bidirectional"), (t5, "encoder-decoder")):
        card = architecture.model_card(model, "tiny")
        unique = {id(p): p for p in model.parameters()}.values()
        assert card["kind"] == kind
        assert card["parameters"] == sum(p.numel() for p in unique) == model.num_parameters()
        assert sum(part["parameters"] for part in card["components"]) == card["parameters"]
        assert card["bytes"] == sum(p.numel() * p.element_size() for p in unique)
        assert {part["component"] for part in card["components"]} >= {"embedding", "attention", "mlp", "norm"}
        diagram.architecture_figure(card).to_json()
    llama = architecture.model_card(tiny_lm, "tiny")
    assert (llama["num_heads"], llama["num_kv_heads"], llama["head_dim"]) == (4, 2, 8)
    first_attention = tiny_lm.model.layers[0].self_attn.parameters()
    assert llama["per_block"]["model"]["attention"] == sum(p.numel() for p in first_attention)
    assert "rotary" in llama["positions"] and llama["grouped_query"].startswith("yes")
    for falcon_layout, kv_heads in ((dict(new_decoder_architecture=True, num_kv_heads=2), 2),
                                    (dict(multi_query=True), 1), (dict(multi_query=False), 4)):
        falcon = FalconForCausalLM(FalconConfig(vocab_size=97, hidden_size=32, num_hidden_layers=1,
                                                num_attention_heads=4, **falcon_layout)).eval()
        card = architecture.model_card(falcon, "falcon")
        assert card["num_kv_heads"] == kv_heads == ModelView(falcon, "falcon").parts.num_kv_heads, falcon_layout
        assert card["grouped_query"].startswith("no") == (kv_heads == 4)
    t5_card = architecture.model_card(t5, "t5")
    cross = sum(p.numel() for name, p in t5.named_parameters() if "EncDecAttention" in name)
    assert next(c for c in t5_card["components"] if c["component"] == "cross_attention")["parameters"] == cross
    assert set(t5_card["stacks"]) >= {"encoder", "decoder"} and "cross_attention" in t5_card["stacks"]["decoder"]
    assert t5_card["per_block"]["decoder"]["cross_attention"] == cross // 3
    assert "relative position" in t5_card["positions"] and t5_card["num_decoder_layers"] == 3
    bert_card = architecture.model_card(bert, "bert")
    assert "learned absolute" in bert_card["positions"] and not bert_card["tied_embeddings"]
    assert (llama["norm_placement"], bert_card["norm_placement"], t5_card["norm_placement"]) == ("pre", "post", "pre")


def test_direct_attributions_plus_the_remaining_terms_add_up_to_the_logit(view, traced):
    for token in (int(torch.argmax(traced.logits)), 17):
        result = attribution.direct_attribution(view.parts, traced, token)
        parts = (sum(map(sum, result["heads"])) + sum(result["mlps"]) + sum(result["attention_biases"])
                 + result["embeddings"] + result["constant"])
        assert parts == pytest.approx(result["total"]) and result["total"] == pytest.approx(result["logit"], abs=1e-4)
        assert np.array(result["heads"]).shape == (view.parts.num_layers, view.parts.num_heads)


def test_ablating_nothing_changes_nothing_and_a_head_or_layer_equals_the_edited_model(tiny_lm, view, traced):
    torch.testing.assert_close(attribution.ablation_logits(view, traced, None, None), traced.logits, rtol=0, atol=0)
    for layer in range(view.parts.num_layers + 1):  # resuming from any layer with nothing knocked out
        resumed = view.resume(traced, layer, traced.residual[layer][None], Run())[0]
        torch.testing.assert_close(resumed, traced.logits, rtol=1e-5, atol=1e-5)
    edited = copy.deepcopy(tiny_lm)
    with torch.no_grad():
        edited.model.layers[1].self_attn.o_proj.weight[:, 2 * 8:3 * 8] = 0
    torch.testing.assert_close(attribution.ablation_logits(view, traced, 1, 2), own_logits(edited)[-1],
                               rtol=1e-5, atol=1e-5)
    skipped = copy.deepcopy(tiny_lm)
    del skipped.model.layers[0]
    torch.testing.assert_close(attribution.ablation_logits(view, traced, 0, None), own_logits(skipped)[-1],
                               rtol=1e-5, atol=1e-5)


def test_the_batched_sweep_equals_one_ablation_at_a_time(view, traced):
    token = int(torch.argmax(traced.logits))
    steps = []
    result = attribution.sweep(view, traced, token, lambda fraction, message: steps.append(fraction))
    base = torch.log_softmax(traced.logits, -1)[token]
    for layer, head in ((0, 0), (1, 3)):
        single = torch.log_softmax(attribution.ablation_logits(view, traced, layer, head), -1)[token] - base
        assert result["heads"][layer][head] == pytest.approx(float(single), abs=1e-4)
    single = torch.log_softmax(attribution.ablation_logits(view, traced, 1, None), -1)[token] - base
    assert result["layers"][1] == pytest.approx(float(single), abs=1e-4)
    assert steps == sorted(steps) and len(steps) == view.parts.num_layers
    plots.sweep_figure({**result, "token": "x"}).to_json()


def test_temperature_top_k_and_top_p_cut_where_generate_does(traced):
    logits = traced.logits
    top_k = distribution.distribution(logits, distribution.settings_for(1.0, 3, 1.0), str)
    assert top_k.kept_count == 3 and sum(p > 0 for p in top_k.reshaped) == 3
    assert sum(top_k.reshaped) == pytest.approx(1.0, abs=1e-5)
    greedy = distribution.distribution(logits, distribution.settings_for(0.0, 0, 1.0), str)
    assert greedy.kept_count == 1 and greedy.reshaped[0] == 1.0 and greedy.ids[0] == int(torch.argmax(logits))
    nucleus = distribution.distribution(logits, distribution.settings_for(1.0, 0, 0.5), str)
    kept = torch.sort(torch.softmax(logits, -1), descending=True).values[:nucleus.kept_count]
    assert float(kept[:-1].sum()) < 0.5 <= float(kept.sum()) + 1e-6
    settings = distribution.settings_for(1.5, 0, 1.0)
    assert distribution.sample(logits, settings, 7) == distribution.sample(logits, settings, 7)
    with pytest.raises(InvalidInputError, match="temperature"):
        distribution.settings_for(-1, 0, 1.0)
    plots.distribution_figure({**top_k.to_dict(), "last_token": "x"}).to_json()


def test_bad_layer_head_or_query_index_gets_a_clear_error(view, traced):
    with pytest.raises(InvalidInputError, match="Layer 99 is out of range: tiny has layers 0 to 1"):
        head_math.head_math(view.parts, traced, 99, 0, 0)
    with pytest.raises(InvalidInputError, match="Head -1 is out of range: tiny has heads 0 to 3"):
        head_math.head_math(view.parts, traced, 0, -1, 0)
    with pytest.raises(InvalidInputError, match="Query token 12 is out of range: the text has query tokens 0 to 11"):
        head_math.head_math(view.parts, traced, 0, 0, 12)
    with pytest.raises(InvalidInputError, match="Layer True is out of range"):
        head_math.head_math(view.parts, traced, True, 0, 0)


def test_on_the_embedded_model_head_math_equals_attention_and_errors_are_clear(workspace):
    inside = workspace.inside
    maps = workspace.attention.compute(TEXT, CAUSAL)
    math = inside.attention_math(TEXT, CAUSAL, 3, 4, 7)
    np.testing.assert_allclose(math["weights"], maps.head(3, 4)[7], atol=1e-5)
    assert math["tokens"] == list(maps.tokens)
    attributed = inside.head_attribution(TEXT, CAUSAL, " Berlin")
    assert attributed["token"] == " Berlin" and attributed["total"] == pytest.approx(attributed["logit"], abs=1e-3)
    assert inside.ablate(TEXT, CAUSAL)["kl_bits"] == 0.0
    card = inside.model_card(ENCODER)
    assert card["kind"] == "bidirectional" and card["num_layers"] == 6 and card["parameters"] == 22_713_216
    with pytest.raises(InvalidInputError, match="bidirectional encoder"):
        inside.next_token(TEXT, ENCODER)
    with pytest.raises(InvalidInputError, match="Type some text"):
        inside.logit_lens("  ", CAUSAL)
    with pytest.raises(InvalidInputError, match="Layer 30 is out of range"):
        inside.ablate(TEXT, CAUSAL, 30, None)
    with pytest.raises(InvalidInputError, match="is 3 tokens"):
        inside.head_attribution(TEXT, CAUSAL, "Berlin Paris")
    with pytest.raises(UnknownModelError, match="endpoint 'vllm'"):
        inside.model_card("vllm:foo")
    with pytest.raises(UnknownModelError):
        inside.next_token(TEXT, "vllm:foo")


def test_a_gpt2_style_model_gets_the_same_views():
    """Learned positions, one fused c_attn (Conv1D), LayerNorm with a bias: every view still matches."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=97, n_embd=32, n_layer=2, n_head=4, n_positions=64,
                                       bos_token_id=0, eos_token_id=0)).eval()
    with torch.no_grad():
        model.transformer.ln_f.bias.uniform_(-0.5, 0.5)  # a constant term the attribution must carry
    ids = [5, 17, 3, 88, 42, 7]
    gpt2 = ModelView(model, "gpt2-tiny")
    traced = trace(gpt2, ids, [str(i) for i in ids], len(ids))
    lens = logit_lens.lens_logits(gpt2.parts, traced, range(2, 3))[0]
    torch.testing.assert_close(lens, own_logits(model, ids), rtol=1e-5, atol=1e-5)
    eager = copy.deepcopy(model)
    eager.set_attn_implementation("eager")
    with torch.inference_mode():
        attentions = eager(input_ids=torch.tensor([ids]), output_attentions=True).attentions
    for layer, head in ((0, 0), (1, 3)):
        math = head_math.head_math(gpt2.parts, traced, layer, head, len(ids) - 1)
        np.testing.assert_allclose(math["weights"], attentions[layer][0, head, -1].numpy(), atol=1e-5)
    result = attribution.direct_attribution(gpt2.parts, traced, 11)
    assert result["total"] == pytest.approx(result["logit"], abs=1e-4) and result["constant"] != 0
    torch.testing.assert_close(attribution.ablation_logits(gpt2, traced, None, None), traced.logits)
    edited = copy.deepcopy(model)
    with torch.no_grad():
        edited.transformer.h[1].attn.c_proj.weight[8:16] = 0  # Conv1D: rows are the inputs, head 1's slice
    torch.testing.assert_close(attribution.ablation_logits(gpt2, traced, 1, 1), own_logits(edited, ids)[-1],
                               rtol=1e-5, atol=1e-5)
    assert "learned absolute" in architecture.model_card(model, "gpt2-tiny")["positions"]


def test_bfloat16_weights_still_get_every_view(tiny_lm):
    """A server may share its models in bfloat16 (--dtype): the checks allow for its rounding, no more."""
    half = copy.deepcopy(tiny_lm).to(torch.bfloat16)
    half_view = ModelView(half, "tiny-bf16")
    traced = trace(half_view, IDS, [str(i) for i in IDS], len(IDS))
    for layer, head in ((0, 0), (1, 3)):
        assert head_math.head_math(half_view.parts, traced, layer, head, len(IDS) - 1)["max_difference"] < 0.02
    result = attribution.direct_attribution(half_view.parts, traced, 17)
    assert result["total"] == pytest.approx(result["logit"], abs=0.05)


def _family(name: str):
    """Tiny random models of the families whose attention differs from Llama's in how q, k, v are made or used."""
    from transformers import (
        Gemma2Config,
        Gemma2ForCausalLM,
        GPTNeoXConfig,
        GPTNeoXForCausalLM,
        MistralConfig,
        MistralForCausalLM,
        Phi3Config,
        Phi3ForCausalLM,
    )

    torch.manual_seed(0)
    small = dict(vocab_size=97, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                 max_position_embeddings=64)
    build = {
        "phi3 (fused qkv_proj)": lambda: Phi3ForCausalLM(Phi3Config(**small, num_key_value_heads=2, pad_token_id=0,
                                                                   bos_token_id=1, eos_token_id=2)),
        "gpt-neox (fused, half rotary)": lambda: GPTNeoXForCausalLM(GPTNeoXConfig(**small, rotary_pct=0.5)),
        "gemma2 (own scale, soft cap, window)": lambda: Gemma2ForCausalLM(Gemma2Config(
            **small, num_key_value_heads=2, head_dim=8, sliding_window=3, attn_logit_softcapping=5.0,
            final_logit_softcapping=3.0, query_pre_attn_scalar=16)),
        "mistral (sliding window)": lambda: MistralForCausalLM(MistralConfig(**small, num_key_value_heads=2,
                                                                            sliding_window=3)),
        "falcon (own attention code)": lambda: FalconForCausalLM(FalconConfig(
            vocab_size=97, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            new_decoder_architecture=True, num_kv_heads=2)),
        "falcon-rw (ALiBi)": lambda: FalconForCausalLM(FalconConfig(
            vocab_size=97, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, alibi=True,
            new_decoder_architecture=False, multi_query=False, parallel_attn=False, bias=True)),
    }[name]
    return build().eval()


FAMILY_IDS = [5, 17, 3, 88, 42, 7, 9, 11]


@pytest.mark.parametrize("family", ["phi3 (fused qkv_proj)", "gpt-neox (fused, half rotary)",
                                    "gemma2 (own scale, soft cap, window)", "mistral (sliding window)"])
def test_head_math_reads_any_family_through_the_attention_interface(family):
    """q, k, v, mask and scale are read where the model calls its attention function, so fused projections,
    partial rotary, soft caps and sliding windows all give the weights output_attentions gives."""
    model = _family(family)
    implementation = model.config._attn_implementation
    view = ModelView(model, family)
    assert view.records_attention and model.config._attn_implementation == implementation
    traced = trace(view, FAMILY_IDS, [str(i) for i in FAMILY_IDS], len(FAMILY_IDS))
    torch.testing.assert_close(traced.logits, own_logits(model, FAMILY_IDS)[-1], rtol=1e-5, atol=1e-5)
    eager = copy.deepcopy(model)
    eager.set_attn_implementation("eager")
    with torch.inference_mode():
        attentions = eager(input_ids=torch.tensor([FAMILY_IDS]), output_attentions=True).attentions
    windows = set()
    for layer in range(view.parts.num_layers):
        for head in range(view.parts.num_heads):
            for query in (0, 4, len(FAMILY_IDS) - 1):
                math = head_math.head_math(view.parts, traced, layer, head, query)
                np.testing.assert_allclose(math["weights"], attentions[layer][0, head, query].numpy(), atol=1e-5)
                assert math["max_difference"] < 1e-5
                assert all(w == 0 for w, m in zip(math["weights"], math["masked"], strict=True) if m)
                windows.add(math["window"])
    sliding = "window" in family
    assert (3 in windows) == sliding and None in windows  # early queries see everything either way
    if "gemma2" in family:
        assert math["softcap"] == 5.0 and math["scale"] == pytest.approx(16 ** -0.5)
    result = attribution.direct_attribution(view.parts, traced, 11)
    assert result["total"] == pytest.approx(result["logit"], abs=1e-4)
    torch.testing.assert_close(attribution.ablation_logits(view, traced, None, None), traced.logits)


def test_falcon_computes_attention_in_its_own_code_and_is_read_with_its_own_methods():
    """Falcon does the softmax inline; its q, k and v are replayed with the module's own projection, head split
    and rotary positions, and the head equals the weights output_attentions gives."""
    model = _family("falcon (own attention code)")
    view = ModelView(model, "falcon-tiny")
    traced = trace(view, FAMILY_IDS, [str(i) for i in FAMILY_IDS], len(FAMILY_IDS))
    assert view.records_attention and view.unreadable_attention is None
    # Falcon cannot switch implementation once built (and its sdpa copy adds a boolean mask to the scores
    # when asked for weights): the reference is built eager, with the same weights
    eager = type(model)._from_config(model.config, attn_implementation="eager").eval()
    eager.load_state_dict(model.state_dict())
    with torch.inference_mode():
        attentions = eager(input_ids=torch.tensor([FAMILY_IDS]), output_attentions=True).attentions
    for layer, head in ((0, 0), (1, 3)):
        math = head_math.head_math(view.parts, traced, layer, head, len(FAMILY_IDS) - 1)
        np.testing.assert_allclose(math["weights"], attentions[layer][0, head, -1].numpy(), atol=1e-5)


def test_a_family_whose_attention_cannot_be_read_names_the_part_and_every_other_view_works():
    model = _family("falcon-rw (ALiBi)")
    view = ModelView(model, "falcon-rw-tiny")
    traced = trace(view, FAMILY_IDS, [str(i) for i in FAMILY_IDS], len(FAMILY_IDS))
    assert not view.records_attention
    with pytest.raises(Exception, match="does not read the ALiBi position bias FalconAttention adds to the scores"):
        head_math.head_math(view.parts, traced, 0, 0, 3, view.unreadable_attention)
    lens = logit_lens.lens_logits(view.parts, traced, range(2, 3))[0]
    torch.testing.assert_close(lens, own_logits(model, FAMILY_IDS), rtol=1e-5, atol=1e-5)
    result = attribution.direct_attribution(view.parts, traced, 11)
    assert result["total"] == pytest.approx(result["logit"], abs=1e-4)
