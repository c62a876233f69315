"""The generation engine on the real embedded model: parity with transformers, streaming, stops."""

from __future__ import annotations

import pytest
import torch
from transformers import RepetitionPenaltyLogitsProcessor

from playground.core.errors import InvalidInputError
from playground.generation.engine import fit_context
from playground.generation.sampling import SamplingSettings

MODEL = "smollm2-135m-instruct"
PROMPT = "Write one sentence about the sea."


@pytest.fixture(scope="module")
def engine(workspace):
    return workspace.generation


def reference_ids(engine, settings: SamplingSettings) -> list[int]:
    """What ``model.generate`` produces for the same prompt ids and settings."""
    model, _ = engine.load(MODEL)
    prepared = engine.prepare(MODEL, PROMPT, settings.max_new_tokens)
    ids = torch.tensor([prepared.ids])
    options: dict = dict(max_new_tokens=settings.max_new_tokens)
    if settings.greedy:
        options.update(do_sample=False)
    else:
        options.update(do_sample=True, temperature=settings.temperature, top_k=settings.top_k,
                       top_p=settings.top_p)
        torch.manual_seed(settings.seed)
    if settings.penalize_prompt:
        options.update(repetition_penalty=settings.repetition_penalty)
    else:  # the engine's default: repeats of generated tokens only
        options.update(logits_processor=[RepetitionPenaltyLogitsProcessor(
            settings.repetition_penalty, prompt_ignore_length=ids.shape[1])])
    out = model.generate(ids, attention_mask=torch.ones_like(ids), **options)
    return out[0, ids.shape[1]:].tolist()


@pytest.mark.parametrize("penalize_prompt", [False, True])
def test_greedy_matches_transformers_generate(engine, penalize_prompt):
    settings = SamplingSettings(max_new_tokens=24, penalize_prompt=penalize_prompt)
    generation = engine.generate(MODEL, PROMPT, settings)
    assert [token.id for token in generation.tokens] == reference_ids(engine, settings)[:generation.tokens_out]
    assert generation.finish_reason in ("eos", "length")


def test_seeded_sampling_matches_generate_and_repeats(engine):
    settings = SamplingSettings(max_new_tokens=20, temperature=0.9, top_k=40, top_p=0.9, seed=11)
    first = engine.generate(MODEL, PROMPT, settings)
    again = engine.generate(MODEL, PROMPT, settings)
    assert first.text == again.text
    assert [t.id for t in first.tokens] == reference_ids(engine, settings)[:first.tokens_out]
    other = engine.generate(MODEL, PROMPT, SamplingSettings(max_new_tokens=20, temperature=0.9, seed=12))
    assert other.text != first.text


def test_streamed_text_equals_final_text_and_only_grows(engine):
    settings = SamplingSettings(max_new_tokens=30, temperature=0.8, seed=3)
    texts = [generation.text for generation in engine.stream(MODEL, PROMPT, settings)]
    final = engine.generate(MODEL, PROMPT, settings).text
    assert texts[-1] == final
    assert all(later.startswith(earlier) for earlier, later in zip(texts, texts[1:], strict=False))
    assert "".join(token.text for token in engine.generate(MODEL, PROMPT, settings).tokens) == final


def test_token_probabilities_are_a_distribution(engine):
    generation = engine.generate(MODEL, PROMPT, SamplingSettings(max_new_tokens=12, repetition_penalty=1.0))
    for token in generation.tokens:
        assert 0 < token.prob <= 1
        assert token.entropy_bits >= 0
        probs = [alt.prob for alt in token.alternatives]
        assert sum(probs) <= 1 + 1e-5
        assert probs == sorted(probs, reverse=True)
        # greedy without penalty picks the model's own favourite
        assert token.alternatives[0].id == token.id
        assert token.prob == pytest.approx(token.alternatives[0].prob)


def test_stop_string_cuts_the_text(engine):
    free = engine.generate(MODEL, PROMPT, SamplingSettings(max_new_tokens=30))
    words = free.text.split()
    assert len(words) > 3, free.text
    stop = " " + words[2]
    stopped = engine.generate(MODEL, PROMPT, SamplingSettings(max_new_tokens=30, stop=(stop,)))
    assert stopped.finish_reason == "stop"
    assert stopped.text == free.text[: free.text.index(stop)]
    assert stopped.tokens_out < free.tokens_out


def test_length_limit_and_timings(engine):
    generation = engine.generate(MODEL, "Count from one to fifty in words.", SamplingSettings(max_new_tokens=5))
    assert generation.tokens_out == 5 and generation.finish_reason == "length"
    assert 0 < generation.first_token_seconds <= generation.compute_seconds
    assert generation.decode_tokens_per_second > 0
    row = generation.to_dict()
    assert row["tokens_in"] == len(generation.prompt.ids) and row["tokens_out"] == 5


def test_stopping_a_stream_frees_the_model(engine):
    stream = engine.stream(MODEL, PROMPT, SamplingSettings(max_new_tokens=50))
    for _ in range(3):
        generation = next(stream)
    stream.close()
    assert generation.finish_reason == "cancelled"
    assert engine.busy(MODEL) == (0, 0)


def test_requests_beyond_the_row_cap_wait_their_turn(workspace):
    """One row per batch here: a second request reports its place in line, then runs."""
    from playground.generation.engine import GenerationEngine
    from playground.generation.scheduler import BatchLimits

    narrow = GenerationEngine(workspace.store, BatchLimits(max_rows=1))
    long = narrow.stream(MODEL, PROMPT, SamplingSettings(max_new_tokens=40))
    while next(long).tokens_out == 0:  # until it decodes
        pass
    positions = [g.queue_position for g in narrow.stream(MODEL, PROMPT, SamplingSettings(max_new_tokens=2))]
    long.close()
    assert positions[0] == 1 and positions[-1] == 0
    assert narrow.busy(MODEL) == (0, 0)


@pytest.mark.parametrize("prompt", ["", "   \n"])
def test_empty_prompt_is_refused(engine, prompt):
    with pytest.raises(InvalidInputError, match="empty"):
        engine.generate(MODEL, prompt)


def test_an_encoder_cannot_generate(engine):
    with pytest.raises(InvalidInputError, match="encoder"):
        engine.generate("minilm-l6", PROMPT)


def test_prompt_longer_than_the_context_keeps_its_end_and_says_so():
    notices: list[str] = []
    prepared = fit_context(list(range(100)), "text", context=64, max_new_tokens=16, notices=notices)
    assert prepared.ids == tuple(range(52, 100)) and prepared.max_new_tokens == 16
    assert "only its last 48 tokens" in notices[0]


def test_too_many_new_tokens_for_the_context_are_lowered():
    notices: list[str] = []
    prepared = fit_context(list(range(10)), "text", context=64, max_new_tokens=60, notices=notices)
    assert prepared.max_new_tokens == 54 and prepared.ids == tuple(range(10))
    assert "lowered from 60 to 54" in notices[0]


def test_chat_template_is_applied_and_can_be_turned_off(engine):
    chat = engine.prepare(MODEL, "Hello", 8, system="You are terse.")
    plain = engine.prepare(MODEL, "Hello", 8, chat=False)
    assert "<|im_start|>system\nYou are terse.<|im_end|>" in chat.text
    assert chat.text.endswith("<|im_start|>assistant\n")
    assert plain.text == "Hello" and len(plain.ids) < len(chat.ids)


def test_penalty_on_generated_tokens_only_keeps_the_few_shot_answer(engine):
    """Few-shot examples put " positive" in the prompt; a penalty that counts the prompt makes
    greedy decoding avoid the very answer the examples teach."""
    from playground.prompting import techniques as prompts

    rendered = prompts.prompt_for("few-shot", "sentiment", prompts.task("sentiment").sample)
    answers = {flag: engine.generate(MODEL, rendered.prompt, SamplingSettings(
        max_new_tokens=3, penalize_prompt=flag), chat=False).text.strip().split()[0]
        for flag in (False, True)}
    assert answers[False] == "positive"
    assert answers[True] != "positive"


def test_show_code_reproduces_the_generation(engine, workspace):
    """The page's "Show code" script, run against the same local weights, prints the same text."""
    import contextlib
    import io

    from playground.generation.snippets import generation_code
    from playground.models.registry import resolve

    for settings, system, chat in [(SamplingSettings(max_new_tokens=16), "Be brief.", True),
                                   (SamplingSettings(max_new_tokens=16, temperature=0.8, top_p=0.9, seed=5),
                                    "", False)]:
        expected = engine.generate(MODEL, PROMPT, settings, system=system or None, chat=chat).text
        code = generation_code(MODEL, PROMPT, settings, system, chat)
        folders = {part: resolve(MODEL, workspace.settings, part).location for part in ("tokenizer", "model")}
        code = code.replace("AutoTokenizer.from_pretrained(model_id)",
                            f"AutoTokenizer.from_pretrained({folders['tokenizer']!r})")
        code = code.replace("AutoModelForCausalLM.from_pretrained(model_id)",
                            f"AutoModelForCausalLM.from_pretrained({folders['model']!r})")
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, "show-code", "exec"), {})  # noqa: S102 - our own generated snippet
        assert printed.getvalue().rstrip("\n") == expected


def test_a_prompt_over_the_context_is_cut_from_the_start(engine):
    """SmolLM2 reads 8,192 tokens: a longer prompt keeps its end, and the notice says so."""
    prompt = "The quick brown fox jumps over the lazy dog. " * 1000  # about 10,000 tokens
    prepared = engine.prepare(MODEL, prompt, 64, chat=False)
    assert len(prepared.ids) == 8192 - 64
    assert any("only its last 8,128 tokens were used" in notice for notice in prepared.notices)
