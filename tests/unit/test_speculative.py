"""Prompt-lookup speculative decoding: the same tokens as plain greedy decoding (transformers' own
``generate``), in fewer forwards where the answer repeats the prompt; the draft lookup; the request's checks."""

from __future__ import annotations

import pytest
import torch

from playground.core.errors import InvalidInputError
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
    with pytest.raises(InvalidInputError, match="not offered here"):
        speculative.SpeculativeRequest("hi", "m", method="medusa")
    with pytest.raises(InvalidInputError, match="max_new_tokens"):
        speculative.SpeculativeRequest("hi", "m", max_new_tokens=0)
