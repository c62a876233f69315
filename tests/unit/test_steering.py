"""Steering against the plain model: the direction against its own hidden states, the steered answer (decoded
in the engine's shared batch) against the model's own ``generate`` with the same vector added by a PyTorch
hook (a tiny random Llama loaded from a folder, as any local model is); its neighbours in the batch and the
prefix cache untouched; the request's checks; once on the embedded model."""

from __future__ import annotations

import threading

import pytest
import torch
from transformers import LogitsProcessorList, RepetitionPenaltyLogitsProcessor

from playground.core.errors import InvalidInputError
from playground.generation.endpoints import Endpoint, Endpoints
from playground.generation.engine import Ask
from playground.generation.prefix_cache import MIN_SHARED_TOKENS
from playground.generation.sampling import SamplingSettings
from playground.generation.steer import Steer, steered
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


def generate_new_text(tiny_lm, tokenizer, prompt: str, new_tokens: int, push: torch.Tensor | None = None,
                      layer: int = 0) -> str:
    """transformers' greedy ``generate`` with the app's repetition penalty (generated tokens only), with
    ``push`` added after block ``layer`` by a plain PyTorch hook: the reference for the engine's steering."""
    ids = torch.tensor([tokenizer.encode(prompt)])
    penalty = LogitsProcessorList([RepetitionPenaltyLogitsProcessor(steering.REPETITION_PENALTY,
                                                                    prompt_ignore_length=ids.shape[1])])
    handle = (tiny_lm.model.layers[layer].register_forward_hook(lambda module, args, output: output + push)
              if push is not None else None)
    try:
        with torch.inference_mode():
            out = tiny_lm.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                                   do_sample=False, logits_processor=penalty, pad_token_id=tokenizer.eos_token_id)
    finally:
        if handle is not None:
            handle.remove()
    return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


def test_the_steered_answer_is_generate_with_the_vector_added_after_the_layer(workspace, tiny_lm, tiny_folder,
                                                                              tokenizer):
    request = steering.SteerRequest("Tell me about cats.", str(tiny_folder), 0, 3.0, [list(p) for p in PAIRS],
                                    max_new_tokens=8, chat=False)
    states = list(steering.steer(workspace.inside, workspace.generation, request))
    final = states[-1]
    assert final.done and not any(state.done for state in states[:-1])
    # It streams: each state's answers are the start of the final ones, and some come before the end. Not a
    # state per token: the engine yields after every change it sees, and on a busy machine one yield can
    # cover two steps (a clean-clone CI run saw 8 states for 8 tokens).
    assert all(final.steered.startswith(s.steered) and final.unsteered.startswith(s.unsteered) for s in states)
    assert any(len(s.steered) < len(final.steered) for s in states[:-1])
    push = 3.0 * steering.direction(workspace.inside, str(tiny_folder), 0, PAIRS).float()
    assert states[-1].unsteered == generate_new_text(tiny_lm, tokenizer, "Tell me about cats.", 8)
    steered = generate_new_text(tiny_lm, tokenizer, "Tell me about cats.", 8, push)
    assert states[-1].steered == steered != states[-1].unsteered
    assert states[-1].norm == pytest.approx(float(push.norm() / 3.0), rel=1e-4)


def test_steering_shares_the_batch_and_leaves_its_neighbours_and_the_prefix_cache_alone(workspace, tiny_lm,
                                                                                       tiny_folder, tokenizer):
    """A free request decoding beside a steered one writes what it writes alone; the steered row, whose prompt
    was just kept as a prefix by a free request, does not start from those (unpushed) keys and values."""
    model = str(tiny_folder)
    prompt = ("In the small village by the sea the fishermen woke before dawn, mended their nets, drank their "
              "coffee and talked for a long while about the wind, the tides and the weather. Today, they said, it is")
    assert len(tokenizer.encode(prompt)) > MIN_SHARED_TOKENS + 1  # long enough to be kept and reused
    settings = SamplingSettings(max_new_tokens=6, repetition_penalty=steering.REPETITION_PENALTY)
    alone = workspace.generation.generate(model, prompt, settings, chat=False).text
    kept = workspace.generation.scheduler(model).prefix_cache
    hits = kept.hits
    push = torch.randn(tiny_lm.config.hidden_size, generator=torch.Generator().manual_seed(0)) * 4
    steered, free = workspace.generation.generate_many([
        Ask(model, prompt, settings, chat=False, steer=Steer(1, push)), Ask(model, prompt, settings, chat=False)])
    assert free.text == alone
    assert kept.hits == hits + 1  # the free row started from the kept prompt; the steered one read it afresh
    assert steered.text == generate_new_text(tiny_lm, tokenizer, prompt, 6, push, layer=1) != alone


def test_a_steering_hook_acts_only_in_the_thread_that_runs_the_batch(tiny_lm):
    """Another tab's forward on the same shared model, during a steered pass, is not pushed."""
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.inference_mode():
        plain = tiny_lm(input_ids=ids).logits
    push = Steer(0, torch.ones(tiny_lm.config.hidden_size) * 10)
    other: list[torch.Tensor] = []

    def elsewhere() -> None:
        with torch.inference_mode():
            other.append(tiny_lm(input_ids=ids).logits)

    with steered(tiny_lm, [push]), torch.inference_mode():
        pushed = tiny_lm(input_ids=ids).logits
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
    torch.testing.assert_close(other[0], plain)
    assert not torch.allclose(pushed, plain)
    with torch.inference_mode():
        torch.testing.assert_close(tiny_lm(input_ids=ids).logits, plain)  # the hook is gone afterwards


def test_a_zero_coefficient_changes_nothing(workspace, tiny_folder):
    request = steering.SteerRequest("Tell me about dogs.", str(tiny_folder), 1, 0.0, "formal vs casual",
                                    max_new_tokens=6, chat=False)
    final = list(steering.steer(workspace.inside, workspace.generation, request))[-1]
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
        list(steering.steer(workspace.inside, workspace.generation,
                                steering.SteerRequest("hi", str(tiny_folder), 5, 1.0)))


def test_on_the_embedded_model_both_answers_stream_and_the_push_changes_one(workspace):
    request = steering.SteerRequest("Write one sentence about your weekend.", "smollm2-135m-instruct", 10, 4.0,
                                    max_new_tokens=12)
    states = list(steering.steer(workspace.inside, workspace.generation, request))
    assert [len(s.unsteered) for s in states] == sorted(len(s.unsteered) for s in states)
    final = states[-1].to_dict()
    assert final["steered"] != final["unsteered"] and final["norm"] > 0 and final["layer"] == 10


def test_a_steer_the_model_cannot_take_gets_a_clear_message(workspace, tiny_lm, tiny_folder):
    model, settings = str(tiny_folder), SamplingSettings(max_new_tokens=2)
    hidden = tiny_lm.config.hidden_size
    with pytest.raises(InvalidInputError, match="out of range"):
        workspace.generation.generate(model, "hi", settings, chat=False, steer=Steer(99, torch.zeros(hidden)))
    with pytest.raises(InvalidInputError, match=f"residual stream is {hidden} wide"):
        workspace.generation.generate(model, "hi", settings, chat=False, steer=Steer(0, torch.zeros(hidden + 1)))
    remote = workspace.generation.with_endpoints(Endpoints().with_endpoint(Endpoint("far", "http://127.0.0.1:9/v1")))
    with pytest.raises(InvalidInputError, match="steering needs a local model"):
        remote.generate("far:any-model", "hi", settings, steer=Steer(0, torch.zeros(hidden)))
