"""The repetition penalty's effect on each pick is recorded: the token's rank among the raw logits
beside its rank under the settings used, marked where they differ and counted in the result."""

from __future__ import annotations

from playground.core.iterutil import last
from playground.generation.engine import Generation, PreparedPrompt, decode_together, decode_with
from playground.generation.sampling import SamplingSettings

PROMPT = "Numbers: 1, 2, 3, 4, 5,"


def prepared(tokenizer, **settings) -> Generation:
    ids = tuple(tokenizer(PROMPT)["input_ids"])
    chosen = SamplingSettings(**{"max_new_tokens": 24, "alternatives": 20, **settings})
    return Generation("tiny", PreparedPrompt(ids, PROMPT, (), chosen.max_new_tokens), chosen)


def test_without_a_penalty_greedy_takes_the_raw_top_every_time(tiny_lm, tokenizer):
    result = last(decode_with(tiny_lm, tokenizer, prepared(tokenizer, repetition_penalty=1.0)))
    assert [(t.raw_rank, t.rank) for t in result.tokens] == [(1, 1)] * len(result.tokens)
    assert result.to_dict()["penalty_moved_tokens"] == 0


def test_a_pick_the_penalty_moved_is_marked_with_its_raw_rank_and_counted(tiny_lm, tokenizer):
    # A random model hardly repeats itself, so a penalty above 1 seldom bites; one below 1 (the same
    # processor, rewarding what was written) makes it repeat its first token, against the raw order.
    result = last(decode_with(tiny_lm, tokenizer, prepared(tokenizer, repetition_penalty=0.5)))
    moved = [t for t in result.tokens if t.penalty_moved]
    assert moved
    assert not result.tokens[0].penalty_moved  # nothing generated yet to penalize
    for token in moved:
        assert token.rank == 1 and token.raw_rank > 1  # greedy took the processed top, not the raw one
        if token.raw_rank <= len(token.alternatives):  # the raw runner-ups list it at that place
            assert token.alternatives[token.raw_rank - 1].id == token.id
    data = result.to_dict()
    assert data["penalty_moved_tokens"] == len(moved)
    assert sum(t["penalty_moved"] for t in data["tokens"]) == len(moved)
    batched = decode_together(tiny_lm, tokenizer, [prepared(tokenizer, repetition_penalty=0.5),
                                                   prepared(tokenizer, repetition_penalty=1.0)])
    assert [(t.raw_rank, t.rank) for t in batched[0].tokens] == [(t.raw_rank, t.rank) for t in result.tokens]
