"""Continuous batching: rows join and leave a running batch, and each row's output is its own.

Mechanics run on a tiny randomly initialised Llama (the embedded tokenizer, 2 layers) in well under a
second per test; the real-model checks at the end prove the same on SmolLM2. "Alone" always means
``decode_with``: one row, no batch, no prefix cache. Where float rounding in another batch shape flips
a near-tie the tests count it and name it in the failure; none has been seen on these models.
"""

from __future__ import annotations

import threading

import pytest

from playground.core.errors import BusyError
from playground.core.iterutil import last
from playground.generation.engine import Ask, Generation, PreparedPrompt, decode_with, follow
from playground.generation.sampling import SamplingSettings
from playground.generation.scheduler import BatchLimits, BatchScheduler

MODEL = "smollm2-135m-instruct"  # tiny_lm and tokenizer come from tests/unit/conftest.py


def generation(tokenizer, text: str, **settings) -> Generation:
    ids = tuple(tokenizer(text)["input_ids"])
    chosen = SamplingSettings(**{"max_new_tokens": 12, "repetition_penalty": 1.0, **settings})
    return Generation("tiny", PreparedPrompt(ids, text, (), chosen.max_new_tokens), chosen)


def alone(lm, tokenizer, request: Generation) -> Generation:
    fresh = Generation(request.model, request.prompt, request.settings)
    result = last(decode_with(lm, tokenizer, fresh))
    assert result is not None
    return result


def run_together(scheduler: BatchScheduler, generations: list[Generation]) -> list[Generation]:
    requests = scheduler.submit(generations)
    for _ in follow(scheduler._condition, requests):
        pass
    return generations


def token_ids(result: Generation) -> list[int]:
    return [token.id for token in result.tokens]


def differing(results: list[Generation], references: list[Generation]) -> list[int]:
    return [index for index, (got, want) in enumerate(zip(results, references, strict=True))
            if token_ids(got) != token_ids(want)]


PROMPTS = ["The lighthouse keeper", "Once upon a time in a small village by the sea there lived",
           "Numbers: 1, 2, 3,", "¿Dónde está la biblioteca? 图书馆在哪里", "def add(a, b):", "Hi"]
MIXED = [dict(), dict(temperature=0.8, seed=3), dict(temperature=1.2, top_k=20, seed=7),
         dict(repetition_penalty=1.3), dict(temperature=0.7, top_p=0.9, seed=11), dict(max_new_tokens=5)]


@pytest.fixture
def scheduler(tiny_lm, tokenizer):
    return BatchScheduler("tiny", tiny_lm, tokenizer, BatchLimits(max_rows=8))


def test_mixed_settings_in_one_batch_equal_each_request_alone(scheduler, tiny_lm, tokenizer):
    requests = [generation(tokenizer, text, **settings) for text, settings in zip(PROMPTS, MIXED, strict=True)]
    results = run_together(scheduler, requests)
    references = [alone(tiny_lm, tokenizer, request) for request in requests]
    flips = differing(results, references)
    assert flips == [], f"{len(flips)} of {len(results)} rows differ from the same request alone: {flips}"
    assert [r.text for r in results] == [r.text for r in references]
    assert scheduler.peak_rows == len(requests) and scheduler.busy == (0, 0)


def test_a_request_joining_mid_batch_equals_itself_alone(scheduler, tiny_lm, tokenizer):
    first = generation(tokenizer, PROMPTS[1], max_new_tokens=40)
    late = generation(tokenizer, PROMPTS[0], max_new_tokens=10, temperature=0.9, seed=5)
    first_request = scheduler.submit([first])
    for _ in follow(scheduler._condition, first_request):
        if first.tokens_out >= 5:
            break
    run_together(scheduler, [late])  # joins while the first decodes, leaves before it ends
    for _ in follow(scheduler._condition, first_request):
        pass
    assert late.done and first.tokens_out == 40 and first.tokens_out > late.tokens_out
    assert scheduler.peak_rows == 2
    assert differing([first, late], [alone(tiny_lm, tokenizer, first), alone(tiny_lm, tokenizer, late)]) == []


def test_cancelling_one_row_leaves_the_others_intact(scheduler, tiny_lm, tokenizer):
    keep = [generation(tokenizer, PROMPTS[i], max_new_tokens=20) for i in (0, 2)]
    victim = generation(tokenizer, PROMPTS[1], max_new_tokens=200)
    requests = scheduler.submit([keep[0], victim, keep[1]])
    for _ in follow(scheduler._condition, requests):
        if victim.tokens_out >= 3:
            scheduler.cancel([requests[1]])
    assert victim.finish_reason == "cancelled" and victim.tokens_out < 200
    assert differing(keep, [alone(tiny_lm, tokenizer, g) for g in keep]) == []
    assert scheduler.busy == (0, 0)


def test_stop_strings_are_per_row(scheduler, tiny_lm, tokenizer):
    free = alone(tiny_lm, tokenizer, generation(tokenizer, PROMPTS[0], max_new_tokens=20))
    stop = free.text[len(free.text) // 2:][:3]
    assert stop.strip(), free.text
    stopped = generation(tokenizer, PROMPTS[0], max_new_tokens=20, stop=(stop,))
    other = generation(tokenizer, PROMPTS[3], max_new_tokens=20)
    run_together(scheduler, [stopped, other])
    assert stopped.finish_reason == "stop" and stopped.text == free.text[:free.text.index(stop)]
    assert token_ids(other) == token_ids(alone(tiny_lm, tokenizer, other))


def test_a_failing_request_does_not_poison_the_batch(scheduler, tiny_lm, tokenizer):
    good = generation(tokenizer, PROMPTS[0])
    bad = Generation("tiny", PreparedPrompt((1, 2, len(tokenizer) + 10_000), "bad", (), 12), good.settings)
    run_together(scheduler, [good, bad])
    assert bad.finish_reason == "error" and "IndexError" in (bad.error or "")
    assert good.finish_reason in ("length", "eos") and token_ids(good) == token_ids(alone(tiny_lm, tokenizer, good))


def test_past_the_row_cap_requests_wait_in_line_then_run(tiny_lm, tokenizer):
    narrow = BatchScheduler("tiny", tiny_lm, tokenizer, BatchLimits(max_rows=2))
    requests = [generation(tokenizer, text, max_new_tokens=8) for text in PROMPTS[:5]]
    positions: list[int] = []
    handles = narrow.submit(requests)
    for _ in follow(narrow._condition, handles):
        positions.append(requests[4].queue_position)
    assert all(r.finish_reason in ("length", "eos") for r in requests)
    assert narrow.peak_rows == 2 and max(positions) >= 2 and positions[-1] == 0
    assert differing(requests, [alone(tiny_lm, tokenizer, r) for r in requests]) == []


def test_the_kv_cap_holds_rows_back_instead_of_failing(tiny_lm, tokenizer):
    requests = [generation(tokenizer, PROMPTS[1], max_new_tokens=30) for _ in range(3)]
    cost = len(requests[0].prompt.ids) + 30
    capped = BatchScheduler("tiny", tiny_lm, tokenizer, BatchLimits(max_rows=8, max_kv_tokens=2 * cost))
    run_together(capped, requests)
    assert capped.peak_rows == 2 and all(r.tokens_out == 30 for r in requests)


def test_a_batch_submission_leaves_half_the_rows_to_others(tiny_lm, tokenizer):
    """An evaluation's many prompts must not keep a student waiting behind all of them."""
    sched = BatchScheduler("tiny", tiny_lm, tokenizer, BatchLimits(max_rows=4))
    evaluation = [generation(tokenizer, PROMPTS[i % 6], max_new_tokens=30) for i in range(12)]
    eval_requests = sched.submit(evaluation)
    student = generation(tokenizer, PROMPTS[5], max_new_tokens=4)
    student_request = sched.submit([student])
    for _ in follow(sched._condition, student_request):
        pass
    assert sum(g.done for g in evaluation) <= 4  # the student did not wait for the whole evaluation
    for _ in follow(sched._condition, eval_requests):
        pass


def test_the_line_refuses_past_its_cap(tiny_lm, tokenizer):
    sched = BatchScheduler("tiny", tiny_lm, tokenizer, BatchLimits(max_rows=1, max_waiting=2))
    handles = [sched.submit([generation(tokenizer, PROMPTS[1], max_new_tokens=200)])]
    for _ in follow(sched._condition, handles[0]):
        if sched.busy[0] == 1:
            break
    handles += [sched.submit([generation(tokenizer, PROMPTS[1], max_new_tokens=50)]) for _ in range(2)]
    with pytest.raises(BusyError, match="busy"):
        sched.submit([generation(tokenizer, PROMPTS[0])])
    sched.cancel([request for group in handles for request in group])
    assert sched.busy == (0, 0)


def test_a_shared_prefix_is_read_once_and_changes_nothing(scheduler, tiny_lm, tokenizer):
    shared = "Answer each question with one word. " * 8
    first = generation(tokenizer, shared + "Question: sky colour? Answer:")
    second = generation(tokenizer, shared + "Question: grass colour? Answer:")
    longer = generation(tokenizer, shared + "Question: what colour is the sea on a grey winter day? Answer:")
    run_together(scheduler, [first])
    run_together(scheduler, [second, longer])  # read together, each from the kept prefix
    assert scheduler.prefix_cache.hits == 2 and scheduler.prefix_cache.tokens_reused >= 64
    requests = [first, second, longer]
    assert differing(requests, [alone(tiny_lm, tokenizer, r) for r in requests]) == []


def test_a_prompt_sent_again_joins_the_batch_without_a_pass_of_its_own(scheduler, tiny_lm, tokenizer):
    exercise = "Answer each question with one word. " * 8 + "Question: sky colour? Answer:"
    run_together(scheduler, [generation(tokenizer, exercise)])
    running = generation(tokenizer, PROMPTS[1], max_new_tokens=30)
    first_handle = scheduler.submit([running])
    for _ in follow(scheduler._condition, first_handle):
        if running.tokens_out >= 3:
            break
    passes: list[tuple[int, int]] = []
    hook = tiny_lm.register_forward_pre_hook(
        lambda _module, _args, kwargs: passes.append(tuple(kwargs["input_ids"].shape)), with_kwargs=True)
    try:
        again = run_together(scheduler, [generation(tokenizer, exercise, temperature=0.8, seed=5)])[0]
    finally:
        hook.remove()
    for _ in follow(scheduler._condition, first_handle):
        pass
    assert again.tokens_out == 12 and scheduler.prefix_cache.hits >= 1
    # its 12 tokens took 12 passes shared with the running request: none of its own for the prompt
    assert passes.count((2, 1)) == 12 and all(width == 1 for _, width in passes), passes
    assert differing([again, running], [alone(tiny_lm, tokenizer, again), alone(tiny_lm, tokenizer, running)]) == []


def test_incremental_text_equals_decoding_everything(tokenizer):
    from playground.generation.detokenize import IncrementalDetokenizer

    for text in ["Plain words, and punctuation!", "Émojis 🌍✨ and 中文 and ünïcödé", "  spaces\n\nand lines\t"]:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        detokenizer = IncrementalDetokenizer(tokenizer)
        pieces = [detokenizer.add(token, final=index == len(ids) - 1) for index, token in enumerate(ids)]
        assert "".join(pieces) == tokenizer.decode(ids, skip_special_tokens=True)


# --- the real model -------------------------------------------------------------------------------

REAL_PROMPTS = ["What is the capital of France?", "Write a haiku about the sea.", "List three fruits.",
                "Explain gravity in one sentence.", "Say hello in Spanish.", "What is 2+2?"]


def test_real_model_batch_equals_each_request_alone(workspace):
    engine = workspace.generation
    lm, tokenizer = engine.load(MODEL)
    asks = [Ask(MODEL, prompt, SamplingSettings(max_new_tokens=16, temperature=0.7 if i % 2 else 0.0, seed=i))
            for i, prompt in enumerate(REAL_PROMPTS)]
    results = engine.generate_many(asks)
    references = [alone(lm, tokenizer, Generation(MODEL, engine.prepare(MODEL, a.prompt, 16), a.settings))
                  for a in asks]
    flips = differing(results, references)
    assert flips == [], f"{len(flips)} of {len(asks)} real-model rows differ from the request alone: {flips}"
    assert engine.busy(MODEL) == (0, 0)


def test_concurrent_callers_share_the_batch(workspace):
    """Six users at once: one scheduler decodes them together, and each gets its own answer."""
    engine = workspace.generation
    results: dict[int, str] = {}

    def user(index: int) -> None:
        results[index] = engine.generate(MODEL, REAL_PROMPTS[index], SamplingSettings(max_new_tokens=12)).text

    threads = [threading.Thread(target=user, args=(i,)) for i in range(len(REAL_PROMPTS))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(results) == len(REAL_PROMPTS)
    assert engine.scheduler(MODEL).peak_rows >= 2
    assert results[0] == engine.generate(MODEL, REAL_PROMPTS[0], SamplingSettings(max_new_tokens=12)).text


def test_decode_together_equals_each_alone(tiny_lm, tokenizer):
    from playground.generation.engine import decode_together

    requests = [generation(tokenizer, text, **settings) for text, settings in zip(PROMPTS, MIXED, strict=True)]
    decode_together(tiny_lm, tokenizer, requests)
    assert all(r.done for r in requests)
    assert differing(requests, [alone(tiny_lm, tokenizer, r) for r in requests]) == []


def test_a_bug_in_the_batch_loop_fails_its_requests_instead_of_hanging(tiny_lm, tokenizer, monkeypatch):
    sched = BatchScheduler("tiny", tiny_lm, tokenizer)
    calls = {"n": 0}
    join = sched._join_prefilled

    def broken_once() -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a bug")
        join()

    monkeypatch.setattr(sched, "_join_prefilled", broken_once)
    first = generation(tokenizer, PROMPTS[0])
    run_together(sched, [first])
    assert first.finish_reason == "error" and "a bug" in (first.error or "")
    again = run_together(sched, [generation(tokenizer, PROMPTS[0])])[0]  # the loop still serves
    assert token_ids(again) == token_ids(alone(tiny_lm, tokenizer, again))
