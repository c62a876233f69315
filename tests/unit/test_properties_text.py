"""Property tests (hypothesis) on text the app builds or cuts: ``{{variable}}`` templates and chunking.

Templates: every value lands in the prompt verbatim (a value holding ``{{x}}``, braces or backslashes is
never expanded again), a missing variable is the project's error naming it. Chunking: for any text and any
allowed size and overlap, chunks are exact slices of the text, cover all of it, keep to the size and step by
exactly the overlap; settings out of range are refused before any tokenizing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from playground.core.errors import InvalidInputError
from playground.prompting.techniques import VARIABLE, Example, fill, prompt_for, render, tasks, techniques, variables_in
from playground.rag.chunking import MAX_CHUNK, MIN_CHUNK, chunk_text, snap_reach

FAST = settings(max_examples=60, deadline=None, database=None)
QUICK = settings(max_examples=25, deadline=None, database=None)
MODEL = "smollm2-135m-instruct"

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
# Values meant to trip a template engine: placeholders, lone braces, regex replacement escapes.
NASTY = st.one_of(TEXT, st.sampled_from(["{{input}}", "{{ output }}", "{", "}}", "{{", "\\1", "\\g<0>", "$1",
                                         "{{examples}}", "\u2028", "é\u0301", "🙂", "", " "]))
NAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)


# --- prompts.py ---------------------------------------------------------------------------------------------


@st.composite
def templates(draw):
    """A template as (literal, name, spacing) pieces, the names used, and the exact spans of the placeholders."""
    pieces = draw(st.lists(st.tuples(TEXT, NAME, st.sampled_from(["", " ", "  ", "\t"])), max_size=5))
    tail = draw(TEXT)
    template, spans = "", []
    for literal, name, space in pieces:
        template += literal
        placeholder = "{{" + space + name + space + "}}"
        spans.append((len(template), len(template) + len(placeholder)))
        template += placeholder
    template += tail
    # Literal text may hold placeholders of its own, or join a neighbour into one: keep the cases where the
    # template's placeholders are exactly the ones placed (most draws), so the expected text is known.
    assume([m.span() for m in VARIABLE.finditer(template)] == spans)
    return template, [(literal, name) for literal, name, _ in pieces], tail


@FAST
@given(built=templates(), data=st.data())
def test_fill_puts_every_value_in_verbatim(built, data):
    template, pieces, tail = built
    names = sorted({name for _, name in pieces})
    values = data.draw(st.dictionaries(NAME, NASTY, max_size=2), label="unused values")
    values |= data.draw(st.fixed_dictionaries({name: NASTY for name in names}), label="values")
    expected = "".join(literal + values[name] for literal, name in pieces) + tail
    assert fill(template, values) == expected
    assert variables_in(template) == list(dict.fromkeys(name for _, name in pieces))


def test_values_that_look_like_placeholders_or_escapes_are_not_expanded():
    values = {"a": "{{b}}\\1", "b": "{{a}}$1\\g<0>{{ c }}"}
    assert fill("{{a}}|{{ b }}|{{a}}", values) == "{{b}}\\1|{{a}}$1\\g<0>{{ c }}|{{b}}\\1"


@FAST
@given(built=templates(), data=st.data())
def test_a_missing_variable_is_named_in_the_error(built, data):
    template, pieces, _ = built
    names = list(dict.fromkeys(name for _, name in pieces))
    assume(names)
    missing = data.draw(st.lists(st.sampled_from(names), min_size=1, unique=True), label="missing")
    values = {name: "v" for name in names if name not in missing}
    with pytest.raises(InvalidInputError) as caught:
        fill(template, values)
    message = str(caught.value)
    assert all("{{" + name + "}}" in message for name in missing)
    assert [name for name in names if "{{" + name + "}}" in message.split("Available:")[0]] == \
        [name for name in names if name in missing]  # the missing ones, in order of use, and only them


@FAST
@given(text=st.text(st.characters(exclude_categories=("Cs",)), max_size=60), values=st.dictionaries(NAME, NASTY))
@example(text='{"answer": "{label}", "n": {1}} {{ 1x }} {{not-a-name}} {{}}', values={})
def test_text_without_placeholders_is_left_alone(text, values):
    assume(not VARIABLE.search(text))
    assert fill(text, values) == text


TECHNIQUES = sorted(techniques())
TASKS = sorted(tasks())


@FAST
@given(technique=st.sampled_from(TECHNIQUES), task=st.sampled_from(TASKS), text=NASTY)
@example(technique="few-shot", task="sentiment", text="{{examples}} {{input}} \\1")
def test_every_technique_and_task_renders_any_input_verbatim(technique, task, text):
    rendered = prompt_for(technique, task, text)
    assert text.strip() in rendered.prompt
    assert rendered.prompt == rendered.prompt.strip()
    for stop in rendered.stop:  # stops are templated too: filled, never left as {{...}}
        assert not VARIABLE.search(stop) or VARIABLE.search(text)


@FAST
@given(technique=st.sampled_from(TECHNIQUES), template=st.one_of(TEXT, st.lists(st.one_of(
    TEXT, st.sampled_from(["{{input}}", "{{instruction}}", "{{examples}}", "{{output_key}}", "{{unknown}}",
                           "{{ input_label }}"])), max_size=5).map("".join)),
       examples=st.lists(st.builds(Example, input=NASTY, output=NASTY, reasoning=NASTY), max_size=3))
@example(technique="few-shot", template="{{examples}}", examples=[])
@example(technique="zero-shot", template="{{nope}}", examples=[])
def test_a_custom_template_renders_or_names_what_is_missing(technique, template, examples):
    chosen = techniques()[technique]
    values = tasks()["sentiment"].variables("some input")
    used = variables_in(template)
    needs_examples = "examples" in used and not examples and chosen.uses_examples
    unknown = [name for name in used if name not in values and name != "examples"]
    if needs_examples or unknown:
        with pytest.raises(InvalidInputError) as caught:
            render(chosen, values, examples, template=template)
        expected = "needs at least one example" if needs_examples else "{{" + unknown[0] + "}}"
        assert expected in str(caught.value)
        return
    rendered = render(chosen, values, examples, template=template)
    if "examples" in used:  # each example's text goes in as given, however it looks
        assert all(e.input.strip() in rendered.prompt and e.output.strip() in rendered.prompt for e in examples)


def test_too_many_examples_are_refused():
    chosen = techniques()["few-shot"]
    values = tasks()["sentiment"].variables("x")
    with pytest.raises(InvalidInputError, match="At most 32 examples"):
        render(chosen, values, [Example("a", "b")] * 33)


# --- chunking.py --------------------------------------------------------------------------------------------


class WordTokenizer:
    """A stand-in with the one call chunking makes: a token per run of non-space characters, with offsets."""

    def __call__(self, text: str, add_special_tokens: bool, return_offsets_mapping: bool) -> dict:
        assert add_special_tokens is False and return_offsets_mapping is True
        return {"offset_mapping": [m.span() for m in re.finditer(r"\S+", text)]}


class CharTokenizer(WordTokenizer):
    """One token per character, spaces included: many tokens from little text, so many chunks."""

    def __call__(self, text: str, add_special_tokens: bool, return_offsets_mapping: bool) -> dict:
        return {"offset_mapping": [(i, i + 1) for i in range(len(text))]}


class NoTokenizer:
    """Fails the test if chunking tokenizes before checking its settings."""

    def __call__(self, *args, **kwargs):
        raise AssertionError("settings must be checked before tokenizing")


@pytest.fixture(scope="module")
def tokenizer(workspace):
    """The real chunking tokenizer (byte-level BPE: one character can span two tokens)."""
    return workspace.store.hf_tokenizer(MODEL)


SIZES = st.integers(MIN_CHUNK, 48).flatmap(lambda size: st.tuples(st.just(size), st.integers(0, size - 1)))
ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=400)
SPACES = st.text(st.sampled_from(" \t\n\r\x0b\x0c\x85\u00a0\u2028\u3000"), max_size=20)
PROSE = st.lists(st.one_of(st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12), SPACES),
                 max_size=80).map("".join)


def check_chunks(text: str, chunks, total: int, size: int, overlap: int, cover: bool = True,
                 tokenized: Callable[[str], bool] = lambda char: not char.isspace()) -> None:
    """The documented contract, for any tokenizer that reports ``total`` tokens for ``text``.

    ``cover``: every character the tokenizer turns into tokens (``tokenized``: all but spaces) lies in some
    chunk. Spans are the tokenizer's own offsets, so this holds as far as those offsets are right.
    """
    if total == 0:
        assert chunks == []
        return
    assert chunks[0].token_start == 0 and chunks[-1].token_end == total
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert 0 <= chunk.start <= chunk.end <= len(text)
        assert text[chunk.start:chunk.end] == chunk.text  # an exact slice: citations point at real text
        assert 0 < chunk.token_end - chunk.token_start <= size
        assert chunk.source == "doc"
    reach = snap_reach(size)  # how far a cut may move to a paragraph, sentence or word start
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert after.token_start > before.token_start  # each starts later
        shared = before.token_end - after.token_start
        assert max(0, overlap - reach) <= shared <= overlap  # neighbours touch, and repeat at most `overlap`
    assert chunks[-2:][0].token_end < total or len(chunks) == 1  # no chunk only repeats the one before it
    if not cover:
        return
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    assert all(i in covered for i, char in enumerate(text) if tokenized(char))  # nothing falls between chunks


@QUICK
@given(text=st.one_of(ANY_TEXT, PROSE), sizes=SIZES)
@example(text="", sizes=(16, 0))
@example(text=" \n\t ", sizes=(16, 15))
@example(text="héllo  \n\n wörld \u2028 x" * 10, sizes=(16, 15))
@example(text="🙂" * 40 + "é\u0301" * 20, sizes=(17, 3))
@example(text="\U00040000:", sizes=(16, 0))
@example(text="0\x06", sizes=(16, 0))
def test_chunks_of_the_real_tokenizer_keep_the_contract(tokenizer, text, sizes):
    size, overlap = sizes
    chunks = chunk_text(text, "doc", tokenizer, size, overlap)
    total = len(tokenizer(text, add_special_tokens=False)["input_ids"])
    # Two quirks of the tokenizer itself, which the chunker cannot see: it drops a few control characters
    # (\x04, \x06, \x13, \x14, \x16 make no token), and it misplaces the offsets of the token after a code point
    # Unicode has not assigned ("\U00040000:" puts ':' at (0, 1)), so a text's last character can fall outside
    # every span there. Exact slices, sizes and overlap hold for all text.
    assigned = not any(unicodedata.category(char) == "Cn" for char in text)
    check_chunks(text, chunks, total, size, overlap, cover=assigned,
                 tokenized=lambda char: not char.isspace() and unicodedata.category(char) != "Cc")


@FAST
@given(text=st.one_of(ANY_TEXT, PROSE, SPACES), size=st.integers(MIN_CHUNK, MAX_CHUNK), data=st.data(),
       tokens=st.sampled_from([WordTokenizer(), CharTokenizer()]))
def test_chunks_keep_the_contract_for_any_size(text, size, data, tokens):
    overlap = data.draw(st.integers(0, size - 1), label="overlap")
    chunks = chunk_text(text, "doc", tokens, size, overlap)
    check_chunks(text, chunks, len(tokens(text, False, True)["offset_mapping"]), size, overlap)
    if isinstance(tokens, WordTokenizer) and not isinstance(tokens, CharTokenizer):
        assert all(chunk.text == chunk.text.strip() for chunk in chunks)  # spans start and end on words


@FAST
@given(size=st.one_of(st.integers(-5, 2000), st.floats(allow_nan=True), st.booleans(), st.none(), st.text(max_size=3)),
       overlap=st.one_of(st.integers(-5, 2000), st.floats(allow_nan=True), st.booleans(), st.none(),
                         st.text(max_size=3)))
@example(size=32.5, overlap=0)
@example(size="32", overlap=0)
@example(size=32, overlap=1.5)
@example(size=32.0, overlap=8.0)
@example(size=True, overlap=False)
def test_chunk_settings_are_whole_numbers_in_range_or_refused(size, overlap):
    def whole(value):
        return (isinstance(value, int) and not isinstance(value, bool)) or \
            (isinstance(value, float) and value.is_integer())

    valid = whole(size) and whole(overlap) and MIN_CHUNK <= size <= MAX_CHUNK and 0 <= overlap < size
    if not valid:
        with pytest.raises(InvalidInputError, match="chunk_size|overlap"):
            chunk_text("some text", "doc", NoTokenizer(), size, overlap)
        return
    chunks = chunk_text("one two three " * 40, "doc", WordTokenizer(), size, overlap)
    check_chunks("one two three " * 40, chunks, 120, int(size), int(overlap))
