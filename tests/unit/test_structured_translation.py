"""The Structured output page's translation: flags, the free draws' parse rate, notices and the model's text
escaped, one row per step with what the grammar removed, and the plot of allowed counts."""

from __future__ import annotations

import json

from playground.core.iterutil import last
from playground.generation.constraints import Constraint, compile_grammar
from playground.generation.engine import Generation, PreparedPrompt, decode_with
from playground.generation.sampling import SamplingSettings
from playground.prompting.structured import StructuredRequest, StructuredState
from tabs.prompt_lab.structured import allowed_plot, free_html, output_html, step_rows, summary_markdown

SCHEMA = json.dumps({"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"],
                     "additionalProperties": False})


def finished_state(tiny_lm, tokenizer) -> StructuredState:
    constraint = Constraint("json_schema", SCHEMA)
    settings = SamplingSettings(max_new_tokens=20)
    prompt = PreparedPrompt(tuple(tokenizer("Say <ok>")["input_ids"]), "Say <ok>", (), 20)
    held = Generation("tiny", prompt, settings, constraint=constraint,
                      grammar=compile_grammar(constraint, tokenizer, tiny_lm))
    free = Generation("tiny", prompt, SamplingSettings(max_new_tokens=6))
    last(decode_with(tiny_lm, tokenizer, held))
    last(decode_with(tiny_lm, tokenizer, free))
    return StructuredState(StructuredRequest("tiny", "Say <ok>", constraint, settings), held, [free])


def test_a_finished_pair_reads_as_flags_rows_and_a_plot(tiny_lm, tokenizer):
    state = finished_state(tiny_lm, tokenizer)
    result = state.result()
    assert result["valid"] and result["parses"] and result["free_parse_rate"] == 0.0
    text = summary_markdown(result, state.done)
    assert "parses ✓ · fits ✓" in text and "0 of 1 parse (0%)" in text and "running" not in text
    rows = step_rows(result)
    assert len(rows) == len(result["tokens"]) and rows[0][0] == 1 and rows[0][1].startswith("'{")
    assert rows[0][2] <= 3  # an object opens with "{" (alone or as '{"'): the grammar leaves a few tokens
    assert "%" in rows[0][3]  # the model's own top choices, removed, with their probabilities
    assert list(allowed_plot(result).data[0].y) == result["allowed_counts"]
    assert "seed 0" in free_html(result) and "broken" in free_html(result)


def test_the_models_text_and_notices_are_escaped():
    assert output_html("<script>", False) == '<pre class="structured-output broken">&lt;script&gt;</pre>'
    result = {"parses": False, "valid": False, "tokens_out": 3, "grammar_seconds": 0.0, "seconds": 0.5,
              "free": [], "notices": ["<b>server</b> said no"], "errors": ["not JSON: <x>"]}
    text = summary_markdown(result, done=False)
    assert "(running…)" in text and "&lt;b&gt;server" in text and "not JSON: &lt;x&gt;" in text
    assert free_html({"free": []}) == "<i>no free draw asked for</i>"
