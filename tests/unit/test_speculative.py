"""Speculative decoding: the same tokens as plain greedy decoding (transformers' own ``generate``), with
prompt-lookup drafts (fewer forwards where the answer repeats the prompt) and with a smaller draft model
sharing the tokenizer (refused when it does not); the draft lookup; the request's checks."""

from __future__ import annotations

import copy

import pytest
import torch

from playground.core.errors import InvalidInputError, UnknownModelError
from playground.generation import speculative


def test_the_draft_is_what_followed_the_latest_earlier_occurrence_of_the_suffix():
    assert speculative.lookup_draft([1, 2, 3, 9, 1, 2, 3, 7, 1, 2, 3], 3, 4) == [7, 1, 2, 3]
    assert speculative.lookup_draft([5, 6, 1, 2, 8, 2], 3, 2) == [8, 2]  # falls back to the 1-token suffix
    assert speculative.lookup_draft([1, 2, 3, 4], 3, 4) == []
    assert speculative.lookup_draft([4], 3, 4) == []


def generate_greedy(model, ids: list[int], new: int, eos: int) -> list[int]:
    with torch.inference_mode():
        tensor = torch.tensor([ids])
        out = model.generate(input_ids=tensor, attention_mask=torch.ones_like(tensor), max_new_tokens=new,
                             do_sample=False, eos_token_id=eos, pad_token_id=eos)
    return out[0, len(ids):].tolist()


@pytest.mark.parametrize("prompt", [[504, 3458, 282, 4649, 314, 504, 3458, 282], [7, 8, 9, 7, 8, 9, 7, 8], [42]])
def test_prompt_lookup_gives_plain_greedys_tokens(tiny_lm, tokenizer, prompt):
    eos = tokenizer.eos_token_id
    run = speculative.prompt_lookup(tiny_lm, prompt, speculative.LookupSettings(max_new_tokens=24), {eos})
    assert run.ids == generate_greedy(tiny_lm, prompt, 24, eos)
    plain, _ = speculative.plain_greedy(tiny_lm, prompt, 24, {eos})
    assert plain == run.ids
    assert all(0 <= s.accepted <= len(s.drafted) for s in run.steps)
    assert run.forwards == len(run.steps) <= len(run.ids)


def test_on_the_embedded_model_a_repeating_answer_takes_fewer_forwards(workspace):
    text = ("Copy this list exactly, then stop: apples, pears, plums, cherries, grapes, lemons, limes, "
            "oranges, peaches, apricots.")
    request = speculative.SpeculativeRequest(text, "smollm2-135m-instruct", max_new_tokens=40)
    result = speculative.speculative(workspace.store, request).to_dict()
    assert result["same_as_greedy"]
    assert result["acceptance"] > 0 and result["forwards"] < result["new_tokens"]
    assert "".join(t["text"] for t in result["tokens"]).strip() == result["output"].strip()
    assert any(t["drafted"] for t in result["tokens"]) and result["speedup"] > 0


def test_bad_requests_get_clear_messages():
    with pytest.raises(InvalidInputError, match="Type a prompt"):
        speculative.SpeculativeRequest(" ", "m")
    with pytest.raises(InvalidInputError, match="not offered here.*'draft model'"):
        speculative.SpeculativeRequest("hi", "m", method="medusa")
    with pytest.raises(InvalidInputError, match="max_new_tokens"):
        speculative.SpeculativeRequest("hi", "m", max_new_tokens=0)
    with pytest.raises(InvalidInputError, match="only used by method 'draft model'"):
        speculative.SpeculativeRequest("hi", "m", method="prompt lookup", draft_model="small")
    with pytest.raises(InvalidInputError, match="needs a draft model.*none ships"):
        speculative.SpeculativeRequest("hi", "m", method="draft model", draft_model="  ")


LLAMA = dict(hidden_size=32, intermediate_size=64, num_attention_heads=4, num_key_value_heads=2,
             max_position_embeddings=1024)


@pytest.fixture(scope="module")
def target(tokenizer):
    """A 3-layer random Llama over the embedded tokenizer's vocabulary."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), num_hidden_layers=3, eos_token_id=tokenizer.eos_token_id,
                         bos_token_id=tokenizer.bos_token_id, **LLAMA)
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="module")
def draft(target):
    """A 1-layer Llama holding the target's embeddings, first layer and head (an early exit, as LayerSkip
    drafts): random weights that agree with the target often but not always, so steps both accept and
    reject (two unrelated random models would agree on nothing)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig.from_dict({**target.config.to_dict(), "num_hidden_layers": 1})
    model = LlamaForCausalLM(config).eval()
    model.load_state_dict(target.state_dict(), strict=False)
    return model


PROMPTS = [[504, 3458, 282, 4649, 314, 504, 3458, 282], [7, 8, 9, 7, 8, 9, 7, 8], [42]]


@pytest.mark.parametrize("prompt", PROMPTS)
def test_a_draft_model_gives_plain_greedys_tokens(target, draft, tokenizer, prompt):
    eos = tokenizer.eos_token_id
    run = speculative.assisted(target, draft, prompt, 32, {eos})
    assert run.ids == generate_greedy(target, prompt, 32, eos)
    assert 0 < run.accepted < run.drafted and run.forwards < len(run.ids)  # both accepted and rejected drafts
    assert run.draft_forwards >= run.forwards


def test_the_draft_length_grows_on_full_acceptance_and_shrinks_on_rejection(target, draft, tokenizer):
    eos = {tokenizer.eos_token_id}
    itself = speculative.assisted(target, target, PROMPTS[0], 40, eos, speculative.DraftSettings(draft=2, most=6))
    assert [len(s.drafted) for s in itself.steps][:3] == [2, 4, 6] and itself.accepted == itself.drafted
    run, size, written = speculative.assisted(target, draft, PROMPTS[0], 40, eos), 4, 0
    for step in run.steps:  # 4 first, +2 after a full acceptance, -1 after a rejection, cut by the room left
        assert len(step.drafted) == min(size, 40 - written - 1)
        if step.drafted:
            size = min(16, size + 2) if step.accepted == len(step.drafted) else max(1, size - 1)
        written += step.accepted + (step.token is not None)
    assert {s.accepted == len(s.drafted) for s in run.steps if s.drafted} == {True, False}


@pytest.fixture(scope="module")
def pair(target, draft, tokenizer, tmp_path_factory):
    """The target and the draft saved as local model folders with the same tokenizer, and the draft again
    with a tokenizer of its own (a word-level vocabulary), as a user's models would be."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    folders = {name: tmp_path_factory.mktemp(name) for name in ("target", "draft", "stranger")}
    for name, model in (("target", target), ("draft", draft), ("stranger", draft)):
        model.save_pretrained(folders[name])
    tokenizer.save_pretrained(folders["target"])
    tokenizer.save_pretrained(folders["draft"])
    words = Tokenizer(models.WordLevel({"<unk>": 0, "<|im_end|>": 1, "Hello": 2, ",": 3}, unk_token="<unk>"))
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=words, unk_token="<unk>",
                            eos_token="<|im_end|>").save_pretrained(folders["stranger"])
    return {name: str(folder) for name, folder in folders.items()}


def test_the_draft_model_method_through_the_store(workspace, pair):
    request = speculative.SpeculativeRequest("The list: apples, pears, plums. Again: apples,", pair["target"],
                                             "draft model", max_new_tokens=24, chat=False, draft_model=pair["draft"])
    result = speculative.speculative(workspace.store, request).to_dict()
    assert result["same_as_greedy"] and result["method"] == "draft model" and result["new_tokens"] == 24
    assert result["forwards"] < result["new_tokens"] and result["draft_forwards"] >= result["forwards"]
    assert 0 < result["acceptance"] < 1 and any(t["drafted"] for t in result["tokens"])


def test_a_draft_with_another_tokenizer_is_refused_naming_what_differs(workspace, pair, tokenizer):
    request = speculative.SpeculativeRequest("Hello, world", pair["target"], "draft model", max_new_tokens=8,
                                             chat=False, draft_model=pair["stranger"])
    with pytest.raises(InvalidInputError, match="does not share") as refused:
        speculative.speculative(workspace.store, request)
    message = str(refused.value)
    assert f"vocabulary size {len(tokenizer):,} against 4;" in message
    assert "'Hello, world!' is tokens [" in message and "against [2, 3, 0, 0]" in message
    assert "special tokens <|im_end|> (id 2 against 1)" in message


def test_tokenizer_differences_name_vocabulary_probes_and_special_tokens(tokenizer):
    from playground.generation.drafts import tokenizer_differences

    assert tokenizer_differences(tokenizer, tokenizer) == []
    grown = copy.deepcopy(tokenizer)
    grown.add_special_tokens({"additional_special_tokens": ["<|draft|>"]})
    found = tokenizer_differences(tokenizer, grown)
    assert found[0] == f"vocabulary size {len(tokenizer):,} against {len(tokenizer) + 1:,}"
    assert any("special tokens <|draft|>" in f for f in found)


def test_an_unknown_draft_model_gets_the_stores_error(workspace, pair, tmp_path):
    request = speculative.SpeculativeRequest("Hello", pair["target"], "draft model", max_new_tokens=8, chat=False,
                                             draft_model=str(tmp_path / "no-such-model"))
    with pytest.raises(UnknownModelError, match="no-such-model' is not an embedded model"):
        speculative.speculative(workspace.store, request)
