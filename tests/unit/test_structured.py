"""Structured output: every constrained output parses and fits its schema, free rows are untouched by a
constrained neighbour, and bad schemas and regexes are refused clearly.

Decoding runs on the tiny random Llama (its text is noise, so the grammar does all the work, which is
what a property test of the grammar wants); schemas are generated with bounded strings, numbers and
arrays so every output can finish within the token budget.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from playground.core.errors import InvalidInputError
from playground.core.iterutil import last
from playground.generation.constraints import Constraint, compile_grammar, grammar_tokenizer, logit_width
from playground.generation.engine import Generation, PreparedPrompt, decode_together, decode_with, follow
from playground.generation.rows import stop_token_ids
from playground.generation.sampling import SamplingSettings
from playground.generation.scheduler import BatchLimits, BatchScheduler
from playground.prompting.json_schema import schema_errors
from playground.prompting.structured import check, constraint_of
from tests.unit.property_strategies import QUICK

NAMES = st.text(st.characters(min_codepoint=97, max_codepoint=122), min_size=1, max_size=6)
LEAVES = st.one_of(
    st.just({"type": "boolean"}), st.just({"type": "null"}),
    st.integers(-50, 50).map(lambda low: {"type": "integer", "minimum": low, "maximum": low + 200}),
    st.integers(1, 8).map(lambda n: {"type": "string", "maxLength": n}),
    st.lists(NAMES, min_size=1, max_size=4, unique=True).map(lambda words: {"enum": words}),
)
SCHEMAS = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.tuples(inner, st.integers(0, 3)).map(lambda pair: {"type": "array", "items": pair[0], "maxItems": pair[1]}),
        st.dictionaries(NAMES, inner, min_size=1, max_size=3).flatmap(
            lambda props: st.lists(st.sampled_from(sorted(props)), unique=True).map(
                lambda required: {"type": "object", "properties": props, "required": required,
                                  "additionalProperties": False}))),
    max_leaves=5)


@pytest.fixture(scope="module")
def llg(tiny_lm, tokenizer):
    """llguidance's tokenizer, built once (half a second) as the engine keeps one per model."""
    return grammar_tokenizer(tokenizer, logit_width(tiny_lm), stop_token_ids(tiny_lm, tokenizer))


def prepared(tokenizer, text: str, settings: SamplingSettings) -> PreparedPrompt:
    return PreparedPrompt(tuple(tokenizer(text)["input_ids"]), text, (), settings.max_new_tokens)


def constrained(tiny_lm, tokenizer, llg, constraint: Constraint, settings: SamplingSettings,
                text: str = "Write JSON:") -> Generation:
    grammar = compile_grammar(constraint, tokenizer, tiny_lm, llg)
    return Generation("tiny", prepared(tokenizer, text, settings), settings, constraint=constraint, grammar=grammar)


@QUICK
@given(schema=SCHEMAS, seed=st.integers(0, 2**31), temperature=st.sampled_from([0.0, 1.0]))
def test_every_constrained_output_parses_and_fits_its_schema(tiny_lm, tokenizer, llg, schema, seed, temperature):
    settings = SamplingSettings(max_new_tokens=300, temperature=temperature, seed=seed)
    result = last(decode_with(tiny_lm, tokenizer, constrained(tiny_lm, tokenizer, llg,
                                                              Constraint("json_schema", json.dumps(schema)), settings)))
    assert result is not None and result.finish_reason == "eos", (result.finish_reason, result.text)
    value = json.loads(result.text)
    assert schema_errors(value, schema) == [], (result.text, schema)
    assert result.grammar_accepting is True
    assert len(result.grammar_steps) == len(result.tokens)
    assert all(step.allowed >= 1 for step in result.grammar_steps)


@pytest.mark.parametrize("kind, source, choices, fits", [
    ("regex", r"[0-9]{3}-[a-z]{2,4}", (), lambda t: len(t) >= 6 and t[3] == "-"),
    ("choice", "", ("yes", "no", "maybe"), lambda t: t in ("yes", "no", "maybe")),
])
def test_regexes_and_choice_lists_hold_too(tiny_lm, tokenizer, llg, kind, source, choices, fits):
    settings = SamplingSettings(max_new_tokens=40, temperature=1.0, seed=5)
    constraint = Constraint(kind, source, choices)
    result = last(decode_with(tiny_lm, tokenizer, constrained(tiny_lm, tokenizer, llg, constraint, settings)))
    assert result.finish_reason == "eos" and fits(result.text) and check(result.text, constraint).valid


def test_the_grammar_records_what_it_removed(tiny_lm, tokenizer, llg):
    settings = SamplingSettings(max_new_tokens=60, alternatives=5)
    constraint = Constraint("json_schema", json.dumps({"type": "object", "properties": {"a": {"type": "boolean"}},
                                                       "required": ["a"], "additionalProperties": False}))
    result = last(decode_with(tiny_lm, tokenizer, constrained(tiny_lm, tokenizer, llg, constraint, settings)))
    assert json.loads(result.text) in ({"a": True}, {"a": False})
    first = result.grammar_steps[0]
    assert first.allowed == 1  # an object must start with "{": one token
    assert len(first.removed) == 5  # the random model's top five are never exactly "{"
    assert all(0 <= alt.prob <= 1 and alt.id != result.tokens[0].id for alt in first.removed)


def free(tokenizer, text: str, **options) -> Generation:
    settings = SamplingSettings(**{"max_new_tokens": 16, "repetition_penalty": 1.0, **options})
    return Generation("tiny", prepared(tokenizer, text, settings), settings)


def ids(generation: Generation) -> list[int]:
    return [token.id for token in generation.tokens]


FREE_ROWS = [("The lighthouse keeper", {}), ("Numbers: 1, 2, 3,", {"temperature": 0.9, "seed": 4}),
             ("def add(a, b):", {"temperature": 1.1, "top_k": 30, "seed": 9})]


def test_a_free_row_is_the_same_with_or_without_a_constrained_neighbour(tiny_lm, tokenizer, llg):
    schema = Constraint("json_schema", json.dumps({"type": "object", "properties": {"n": {"type": "integer"}}}))
    alone_rows = [free(tokenizer, text, **options) for text, options in FREE_ROWS]
    decode_together(tiny_lm, tokenizer, alone_rows)
    mixed = [free(tokenizer, text, **options) for text, options in FREE_ROWS]
    neighbours = [constrained(tiny_lm, tokenizer, llg, schema, SamplingSettings(max_new_tokens=16, temperature=1.0,
                                                                                  seed=seed)) for seed in (1, 2)]
    decode_together(tiny_lm, tokenizer, [mixed[0], neighbours[0], mixed[1], neighbours[1], mixed[2]])
    assert [ids(g) for g in mixed] == [ids(g) for g in alone_rows]
    assert all(not g.grammar_steps for g in mixed) and all(g.grammar_steps for g in neighbours)


def test_the_scheduler_batches_constrained_and_free_rows_and_each_equals_itself_alone(tiny_lm, tokenizer, llg):
    scheduler = BatchScheduler("tiny", tiny_lm, tokenizer, BatchLimits(max_rows=8))
    try:
        regex = Constraint("regex", r"[a-z]{1,6}( [a-z]{1,6}){0,3}\.")
        rows = [free(tokenizer, text, **options) for text, options in FREE_ROWS]
        rows.insert(1, constrained(tiny_lm, tokenizer, llg, regex, SamplingSettings(max_new_tokens=30, temperature=1.0,
                                                                                      seed=3)))
        requests = scheduler.submit(rows)
        for _ in follow(scheduler._condition, requests):
            pass
        for row in rows:
            fresh = Generation("tiny", row.prompt, row.settings, constraint=row.constraint, grammar=row.grammar)
            assert ids(row) == ids(last(decode_with(tiny_lm, tokenizer, fresh)))
        assert scheduler.peak_rows == 4
        assert rows[1].finish_reason == "eos" and check(rows[1].text, regex).valid
        assert len(rows[1].grammar_steps) == len(rows[1].tokens) and rows[1].grammar_seconds > 0
    finally:
        scheduler.close()


@pytest.mark.parametrize("kind, text, words", [
    ("json_schema", '{"type": "object",', "not valid JSON: Expecting"),
    ("json_schema", '["a", "b"]', "A JSON schema is a JSON object"),
    ("json_schema", '{"type": "strin"}', "Invalid type: strin"),
    ("json_schema", '{"type": "integer", "minimum": 5, "maximum": 2}', "Unsatisfiable schema"),
    ("json_schema", '{"$ref": "#/nowhere"}', "does not exist"),
    ("regex", "a(b", "unclosed group"),
    ("regex", "(?=a)b", "look-around"),
    ("choice", "[]", "at least one choice"),
    ("grammar", "start: x", "Unknown constraint kind"),
    ("", "", "Give a JSON schema, a regex or a list of choices"),
])
def test_bad_schemas_and_regexes_get_clear_errors(kind, text, words):
    with pytest.raises(InvalidInputError) as caught:
        constraint_of(kind, text)
    assert words in str(caught.value)


def test_the_kind_is_guessed_from_what_was_typed():
    assert constraint_of("", '{"type": "object"}').kind == "json_schema"
    assert constraint_of("", '["yes", "no"]').choices == ("yes", "no")
    assert constraint_of("", r"\d+").kind == "regex"
    assert constraint_of("", "[a-z]+").kind == "regex"
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        constraint_of("", '{"type": ')
    assert constraint_of("choice", "red\ngreen\nred").choices == ("red", "green")


def test_the_checker_is_independent_of_the_grammar():
    schema = Constraint("json_schema", json.dumps({"type": "object", "properties": {
        "age": {"type": "integer", "minimum": 0},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 1}},
        "required": ["age"], "additionalProperties": False}))
    assert check('{"age": 3, "tags": ["x"]}', schema).valid
    assert not check('{"age": -1}', schema).valid
    assert not check('{"tags": []}', schema).valid
    assert not check('{"age": 3, "other": 1}', schema).valid
    assert not check('{"age": true}', schema).valid  # a boolean is not an integer in JSON schema
    broken = check('{"age": 3', schema)
    assert not broken.parses and not broken.valid


ANSWER = json.dumps({"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]})


@pytest.mark.parametrize("model, output, valid, notice", [
    ("json-follower", '{"answer": "yes"}', True, None),
    ("json-refuser", "Hello there, friend! How are you?", False, "refused the structured-output field"),
    ("plain", "Hello there, friend! How are you?", False, "may ignore the structured-output field"),
])
def test_endpoint_models_get_the_schema_as_response_format_or_a_notice(model, output, valid, notice):
    from playground.core.settings import Settings
    from playground.generation.endpoints import Endpoints
    from playground.generation.engine import GenerationEngine
    from playground.models.store import ModelStore
    from playground.prompting.structured import StructuredRequest, run_structured
    from tests.openai_replies import replies_server

    with replies_server() as (_, url):
        engine = GenerationEngine(ModelStore(Settings.from_env()), endpoints=Endpoints.parse(f"test={url}", {}))
        request = StructuredRequest(f"test:{model}", "Answer yes", constraint_of("", ANSWER),
                                    SamplingSettings(max_new_tokens=16, repetition_penalty=1.0), free_samples=1)
        result = last(run_structured(engine, request)).result()
    assert result["output"] == output and result["valid"] is valid
    assert result["allowed_counts"] == []  # the server masks, if anything: no counts reach this process
    assert result["free"][0]["output"] == "Hello there, friend! How are you?" and result["free_parse_rate"] == 0.0
    notices = " ".join(result["notices"])
    assert (notice in notices) if notice else "structured-output" not in notices


def test_an_endpoint_told_a_regex_is_told_there_is_no_field_for_it():
    from playground.core.settings import Settings
    from playground.generation.endpoints import Endpoints
    from playground.generation.engine import GenerationEngine
    from playground.models.store import ModelStore
    from tests.openai_replies import replies_server

    with replies_server() as (_, url):
        engine = GenerationEngine(ModelStore(Settings.from_env()), endpoints=Endpoints.parse(f"test={url}", {}))
        generation = engine.generate("test:plain", "Hi", SamplingSettings(max_new_tokens=8, repetition_penalty=1.0),
                                     constraint=Constraint("regex", "[a-z]+"))
    assert "no field for a regex" in " ".join(generation.all_notices)
