"""Steering against the plain model: the direction against its own hidden states, the steered answer against
its own ``generate`` with the same vector added by a PyTorch hook (a tiny random Llama loaded from a folder,
as any local model is); the request's checks; once on the embedded model."""

from __future__ import annotations

import pytest
import torch

from playground.core.errors import InvalidInputError
from playground.internals import steering

PAIRS = (("I love this and feel happy.", "I hate this and feel sad."), ("What a great day.", "What an awful day."))


def last_hidden(model, tokenizer, text: str, layer: int) -> torch.Tensor:
    with torch.inference_mode():
        ids = torch.tensor([tokenizer.encode(text)])
        return model(input_ids=ids, output_hidden_states=True).hidden_states[layer + 1][0, -1].double()


def test_the_direction_is_the_mean_difference_of_the_models_own_hidden_states(workspace, tiny_lm, tiny_folder,
                                                                              tokenizer):
    found = steering.direction(workspace.inside, str(tiny_folder), 0, PAIRS)
    expected = torch.stack([last_hidden(tiny_lm, tokenizer, good, 0) - last_hidden(tiny_lm, tokenizer, bad, 0)
                            for good, bad in PAIRS]).mean(0)
    torch.testing.assert_close(found, expected, rtol=1e-4, atol=1e-5)


def test_the_steered_answer_is_generate_with_the_vector_added_after_the_layer(workspace, tiny_lm, tiny_folder,
                                                                              tokenizer):
    request = steering.SteerRequest("Tell me about cats.", str(tiny_folder), 0, 3.0, [list(p) for p in PAIRS],
                                    max_new_tokens=8, chat=False)
    states = list(steering.steer(workspace.inside, request))
    assert states[-1].done and len(states) == 9  # a state per new token, then the final one
    push = 3.0 * steering.direction(workspace.inside, str(tiny_folder), 0, PAIRS).float()
    ids = torch.tensor([tokenizer.encode("Tell me about cats.")])
    settings = dict(max_new_tokens=8, do_sample=False, repetition_penalty=1.2, pad_token_id=tokenizer.eos_token_id)

    def plain_generate() -> str:
        with torch.inference_mode():
            out = tiny_lm.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **settings)
        return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)

    assert states[-1].unsteered == plain_generate()
    handle = tiny_lm.model.layers[0].register_forward_hook(lambda module, args, output: output + push)
    try:
        steered = plain_generate()
    finally:
        handle.remove()
    assert states[-1].steered == steered != states[-1].unsteered
    assert states[-1].norm == pytest.approx(float(push.norm() / 3.0), rel=1e-4)


def test_a_zero_coefficient_changes_nothing(workspace, tiny_folder):
    request = steering.SteerRequest("Tell me about dogs.", str(tiny_folder), 1, 0.0, "formal vs casual",
                                    max_new_tokens=6, chat=False)
    final = list(steering.steer(workspace.inside, request))[-1]
    assert final.steered == final.unsteered and final.layer == 1


def test_bad_requests_get_clear_messages(workspace, tiny_folder):
    with pytest.raises(InvalidInputError, match="No pair set named"):
        steering.SteerRequest("hi", "m", 0, 1.0, "happy vs sad")
    with pytest.raises(InvalidInputError, match=r"\[positive text, negative text\]"):
        steering.SteerRequest("hi", "m", 0, 1.0, [["only one"]])
    with pytest.raises(InvalidInputError, match="1 to 64 contrastive pairs"):
        steering.SteerRequest("hi", "m", 0, 1.0, [])
    with pytest.raises(InvalidInputError, match="coefficient"):
        steering.SteerRequest("hi", "m", 0, 1e9)
    with pytest.raises(InvalidInputError, match="Type a prompt"):
        steering.SteerRequest("  ", "m", 0, 1.0)
    with pytest.raises(InvalidInputError, match="out of range"):
        list(steering.steer(workspace.inside, steering.SteerRequest("hi", str(tiny_folder), 5, 1.0)))


def test_on_the_embedded_model_both_answers_stream_and_the_push_changes_one(workspace):
    request = steering.SteerRequest("Write one sentence about your weekend.", "smollm2-135m-instruct", 10, 4.0,
                                    max_new_tokens=12)
    states = list(steering.steer(workspace.inside, request))
    assert [len(s.unsteered) for s in states] == sorted(len(s.unsteered) for s in states)
    final = states[-1].to_dict()
    assert final["steered"] != final["unsteered"] and final["norm"] > 0 and final["layer"] == 10
