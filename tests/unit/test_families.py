"""Every model family the README promises: tiny random models of 22 transformers families (tests/families.py)
through every weight-reading view, each number checked against transformers' own forward pass.

The views load the saved folder through the app's store, as a user's model path would; the reference is the
same folder loaded by transformers alone, with eager attention (the implementation every family has).
"""

from __future__ import annotations

import math

import pytest
import torch

from playground.attention import AttentionExplorer
from playground.core.iterutil import last
from playground.finetune.config import FinetuneConfig
from playground.finetune.estimate import estimate
from playground.finetune.targets import adapted_modules, attention_modules, is_linear, resolve_targets
from playground.generation.engine import GenerationEngine
from playground.generation.sampling import SamplingSettings
from playground.internals.inspector import ModelInspector
from playground.models.store import ModelStore
from playground.quantization.lab import QuantLab
from playground.quantization.metrics import perplexity
from playground.text.analysis import TokenizerRegistry
from tests.families import FAMILIES, save_tiny_folder

TEXT = "The capital of France is Paris, and the capital of Italy is"
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def views(workspace):
    """The app's own objects over a fresh store, so the families' models do not stay in the shared one."""
    store = ModelStore(workspace.settings)
    tokenizers = TokenizerRegistry(store)
    return store, ModelInspector(store, tokenizers), AttentionExplorer(store, tokenizers), GenerationEngine(store)


@pytest.fixture(scope="module")
def folders(tokenizer, tmp_path_factory):
    """Each family saved once as a local model folder, built on first use."""
    made: dict[str, str] = {}

    def folder(family: str) -> str:
        if family not in made:
            made[family] = str(save_tiny_folder(family, tokenizer, tmp_path_factory.mktemp(family)))
        return made[family]
    return folder


def reference(folder: str):
    """The folder as transformers alone loads it: eager attention, so it can return its attention weights."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager").eval()


@pytest.mark.parametrize("family", FAMILIES)
def test_every_view_of_the_family_agrees_with_transformers(family, folders, views, tokenizer):
    store, inside, attention, _ = views
    folder = folders(family)
    model = reference(folder)
    ids = torch.tensor([tokenizer(TEXT, add_special_tokens=False)["input_ids"]])
    assert [token.id for token in inside.tokenizers.get(folder).encode(TEXT)] == ids[0].tolist()
    with torch.inference_mode():
        own = model(input_ids=ids, output_attentions=True)
    own_logits = own.logits[0, -1].double()

    # loads with the best attention its family has: sdpa where it exists, else eager
    shared = store.causal_lm(folder)
    assert shared.config._attn_implementation == ("sdpa" if type(shared)._supports_sdpa else "eager")

    card = inside.model_card(folder)
    assert card["parameters"] == sum(parameter.numel() for parameter in model.parameters())
    assert card["architecture"] == type(model).__name__

    result = inside.next_token(TEXT, folder)
    probs = torch.softmax(own_logits, -1)
    assert result["num_tokens"] == ids.shape[1]
    for token in result["tokens"][:5]:
        assert token["prob"] == pytest.approx(float(probs[token["id"]]), abs=TOLERANCE)

    lens = inside.logit_lens(TEXT, folder)
    assert lens["final_ids"][-1] == int(torch.argmax(own_logits))  # the last layer's reading is the model's own

    maps = attention.compute(TEXT, folder)
    for layer in range(maps.num_layers):
        expected = own.attentions[layer][0].float().numpy()
        assert abs(maps.weights[layer] - expected).max() < TOLERANCE

    last = maps.num_layers - 1
    math_view = inside.attention_math(TEXT, folder, last, 1)
    assert math_view["max_difference"] < 1e-3  # the recomputed head equals the model's own head output
    assert math_view["weights"] == pytest.approx(
        [float(value) for value in own.attentions[last][0, 1, -1]], abs=TOLERANCE)

    attribution = inside.head_attribution(TEXT, folder, None)
    assert attribution["token_id"] == int(torch.argmax(own_logits))
    logit = float(own_logits[attribution["token_id"]])
    softcap = attribution["logit_softcap"]
    if softcap:
        logit = softcap * math.atanh(logit / softcap)
    assert attribution["logit"] == pytest.approx(logit, abs=1e-3)
    assert attribution["total"] == pytest.approx(attribution["logit"], abs=1e-3)  # the parts add up

    untouched = inside.ablate(TEXT, folder, None, None)
    assert untouched["kl_bits"] == pytest.approx(0, abs=1e-6) and not untouched["top_changed"]
    knocked = inside.ablate(TEXT, folder, last, 1)
    assert knocked["kl_bits"] > 0  # one head zeroed changes the distribution


@pytest.mark.parametrize("family", FAMILIES)
def test_greedy_generation_is_transformers_greedy(family, folders, views):
    _, _, _, engine = views
    folder = folders(family)
    generation = engine.generate(folder, TEXT, SamplingSettings(max_new_tokens=4, repetition_penalty=1.0),
                                 chat=False)
    assert generation.error is None
    model = reference(folder)
    with torch.inference_mode():
        expected = model.generate(input_ids=torch.tensor([generation.prompt.ids]), do_sample=False,
                                  max_new_tokens=4, min_new_tokens=4, pad_token_id=0)
    assert [token.id for token in generation.tokens] == expected[0, len(generation.prompt.ids):].tolist()


@pytest.mark.parametrize("family", FAMILIES)
def test_quantization_compares_the_family_in_16_and_8_bits(family, folders, views):
    """Every row measured (Falcon's own FalconLinear layers included in torchao's int8), and the fp32 row's
    perplexity is transformers' own on the same tokens."""
    _, _, _, engine = views
    folder = folders(family)
    lab = QuantLab(engine)
    rows = {row.method: row for row in last(lab.compare(folder, ["bf16", "bnb-int8", "torchao-int8"], TEXT, 4)).rows}
    assert {method: row.status for method, row in rows.items()} == dict.fromkeys(
        ["fp32", "bf16", "bnb-int8", "torchao-int8"], "done"), {m: r.error for m, r in rows.items()}
    assert rows["fp32"].kl_vs_fp32 == pytest.approx(0, abs=1e-9)
    assert rows["bf16"].weight_bytes < rows["fp32"].weight_bytes
    ids = lab._reference_ids(folder)
    with torch.inference_mode():
        own = reference(folder)(input_ids=torch.tensor([ids])).logits[0]
    assert rows["fp32"].perplexity == pytest.approx(perplexity(own, torch.tensor(ids)), rel=1e-4)


@pytest.mark.parametrize("family", FAMILIES)
def test_lora_adapts_every_attention_projection_of_the_family_and_learns(family, folders):
    from peft import LoraConfig, get_peft_model

    model = reference(folders(family)).train()
    projections = {f"{name}.{path}" for name, module in attention_modules(model)
                   for path, child in module.named_modules() if path and is_linear(child)}
    targets = resolve_targets(model, ("attention",))
    wrapped = get_peft_model(model, LoraConfig(r=4, target_modules=targets.peft))
    adapted = {name.removeprefix("base_model.model.") for name, module in wrapped.named_modules()
               if hasattr(module, "lora_A") and not name.endswith("base_layer")}
    assert projections and adapted == projections  # every projection of the attention, nothing else
    assert adapted_modules(wrapped) == list(targets.names)
    ids = torch.randint(0, 1000, (2, 12))
    wrapped(input_ids=ids, labels=ids).loss.backward()
    grads = [parameter.grad for name, parameter in wrapped.named_parameters() if "lora_B" in name]
    assert grads and all(grad is not None and grad.abs().sum() > 0 for grad in grads)


@pytest.mark.parametrize("family", ["gpt2", "phi3", "qwen3_moe", "falcon"])
def test_the_estimate_counts_the_model_and_names_what_lora_adapts(family, folders):
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(folders(family))
    model = reference(folders(family))
    guess = estimate(FinetuneConfig(base_model=folders(family), method="lora"), config, "cpu")
    assert guess.total_params - guess.trainable_params == sum(parameter.numel() for parameter in model.parameters())
    assert guess.adapted_modules == resolve_targets(model, ("attention",)).names
    assert "LoRA adapts " + ", ".join(guess.adapted_modules) in guess.describe()


@pytest.mark.parametrize("family", ["qwen3_moe", "mixtral", "gpt_oss", "olmoe"])
def test_a_mixture_of_experts_card_gives_experts_and_active_parameters(family, folders, views):
    _, inside, _, _ = views
    card = inside.model_card(folders(family))
    assert (card["experts"], card["experts_per_token"]) == (4, 2)
    model = reference(folders(family))
    experts = sum(parameter.numel() for name, parameter in model.named_parameters() if ".experts." in name)
    assert card["expert_parameters"] == experts > 0
    assert card["active_parameters"] == card["parameters"] - experts // 2  # 2 of 4 experts run per token


def test_a_dense_model_card_has_no_experts(folders, views):
    card = views[1].model_card(folders("llama"))
    assert card["experts"] is None and card["active_parameters"] == card["parameters"]


def test_attention_sinks_take_their_share_of_each_row(folders, views):
    _, inside, attention, _ = views
    folder = folders("gpt_oss")
    maps = attention.compute(TEXT, folder)
    shares = maps.sink_share(0, 0)
    row_sums = maps.head(0, 0).sum(-1)
    assert shares is not None
    assert max(abs(share + total - 1) for share, total in zip(shares, row_sums, strict=True)) < 1e-5
    assert maps.to_dict(0, 0)["sink_share"] is not None
    math_view = inside.attention_math(TEXT, folder, 0, 0)
    assert math_view["sink_weight"] == pytest.approx(shares[-1], abs=1e-4)
    assert attention.compute(TEXT, folders("llama")).sink_share(0, 0) is None


@pytest.mark.slow
@pytest.mark.parametrize(("family", "method"), [("qwen3_moe", "lora"), ("qwen3_moe", "full"), ("gpt2", "lora")])
def test_the_worker_trains_the_family(family, method, folders, tmp_path):
    """The worker's own entry point, probes included (a mixture-of-experts model decodes them without its
    load-balancing loss, which TRL turns on for training)."""
    from playground.finetune.events import read_events, summarize
    from playground.finetune.train import train

    run_dir = tmp_path / "20261205-000000-family"
    run_dir.mkdir()
    FinetuneConfig(base_model=folders(family), method=method, max_steps=2, batch_size=2, max_seq_length=64,
                   eval_size=2, eval_every=2, save_every=2, warmup_steps=0, probe_tokens=2,
                   learning_rate=1e-3 if method == "lora" else 1e-4).save(run_dir / "config.json")
    assert train(run_dir) == 0, read_events(run_dir)[-1]
    events = read_events(run_dir)
    summary = summarize(run_dir.name, events)
    assert summary.status == "finished"
    model_event = next(event for event in events if event["event"] == "model")
    if method == "lora":
        names = list(resolve_targets(reference(folders(family)), ("attention",)).names)
        assert model_event["adapted_modules"] == names
        assert f"LoRA adapts {', '.join(names)} (the names of this model's own layers)." in summary.notes
