"""Tokenization on the real embedded tokenizers: spans, round trips, counts, odd input."""

from __future__ import annotations

import pytest

from playground.core.errors import InvalidInputError, PlaygroundError, UnknownModelError
from playground.text.analysis import MAX_TEXT_CHARS, is_added, sanitize_text, validate_messages

ODD_TEXTS = {
    "ascii": "Hello, world! Tokens are pieces of text.",
    "emoji_zwj": "family 👨‍👩‍👧‍👦 and flag 🇫🇷 and 👍🏽",
    "combining": "e\u0301 vs \u00e9, a\u0308o\u0308",
    "rtl": "שלום עולם مرحبا بالعالم",
    "cjk": "日本語のテキストと中文",
    "control": "tab\there\x07bell\x00nul\r\nline",
    "whitespace": "  leading   and trailing  \n\n",
}
BYTE_LEVEL = ["smollm2-135m-instruct", "cl100k_base"]


@pytest.fixture(scope="module")
def registry(workspace):
    return workspace.tokenizers


def test_available_lists_embedded_and_offline_tiktoken(registry):
    assert registry.available()[:2] == ["smollm2-135m-instruct", "minilm-l6"]
    assert "cl100k_base" in registry.available()


@pytest.mark.parametrize("name", BYTE_LEVEL)
@pytest.mark.parametrize("label", list(ODD_TEXTS))
def test_byte_level_tokens_rebuild_the_text_exactly(registry, name, label):
    text = ODD_TEXTS[label]
    result = registry.tokenize(text, name)
    assert b"".join(token.raw for token in result.tokens) == text.encode("utf-8")
    assert result.round_trip
    covered = set()
    for token in result.tokens:
        assert 0 <= token.start <= token.end <= len(text)
        covered.update(range(token.start, token.end))
    assert covered == set(range(len(text)))


@pytest.mark.parametrize("label", list(ODD_TEXTS))
def test_wordpiece_spans_cover_every_visible_character(registry, label):
    text = ODD_TEXTS[label]
    result = registry.tokenize(text, "minilm-l6")
    covered = set()
    for token in result.tokens:
        assert 0 <= token.start <= token.end <= len(text)
        covered.update(range(token.start, token.end))
    dropped = {i for i, char in enumerate(text) if char.isspace() or not char.isprintable()
               or char in "\u0301\u0308"}  # BERT strips accents and control characters
    assert set(range(len(text))) - dropped <= covered


def test_span_text_matches_token_for_plain_ascii(registry):
    text = "The cat sat on the mat."
    result = registry.tokenize(text, "smollm2-135m-instruct")
    assert [text[t.start:t.end] for t in result.tokens] == [t.text for t in result.tokens]
    assert "".join(t.text for t in result.tokens) == text


def test_added_special_tokens_have_empty_spans(registry):
    result = registry.tokenize("hello world", "minilm-l6")
    first, last = result.tokens[0], result.tokens[-1]
    assert (first.piece, last.piece) == ("[CLS]", "[SEP]")
    assert first.special and last.special and is_added(first) and is_added(last)
    assert first.start == first.end and last.start == last.end
    assert [t.piece for t in result.tokens[1:-1]] == ["hello", "world"]


def test_special_tokens_typed_in_text_are_marked_with_their_span(registry):
    text = "say <|im_start|> now"
    result = registry.tokenize(text, "smollm2-135m-instruct")
    special = [t for t in result.tokens if t.special]
    assert len(special) == 1
    assert text[special[0].start:special[0].end] == "<|im_start|>"


def test_unknown_tokens_are_marked(registry):
    result = registry.tokenize("hi 🤖", "minilm-l6")
    assert any(token.unknown and token.piece == "[UNK]" for token in result.tokens)
    assert result.summary()["num_unknown"] >= 1


def test_wordpiece_is_lossy_and_says_so(registry):
    result = registry.tokenize("Héllo World", "minilm-l6")
    assert not result.round_trip
    assert any("differs" in note for note in result.notes)


def test_counts(registry):
    result = registry.tokenize("one two  three", "cl100k_base")
    summary = result.summary()
    assert summary["num_chars"] == 14 and summary["num_words"] == 3
    assert summary["num_tokens"] == len(result.tokens) > 0
    assert summary["chars_per_token"] == pytest.approx(14 / summary["num_tokens"], abs=0.01)


def test_empty_text_gives_empty_result(registry):
    result = registry.tokenize("", "smollm2-135m-instruct")
    assert result.num_tokens == 0 and result.round_trip and result.chars_per_token == 0


def test_text_past_the_context_window_is_marked(registry):
    text = "word " * 700
    result = registry.tokenize(text, "minilm-l6")
    data = result.to_dict()
    assert result.context_length == 512
    assert data["num_truncated"] == result.num_tokens - 512 > 0
    assert [t["truncated"] for t in data["tokens"]].index(True) == 512
    assert any("context window" in note for note in result.notes)


def test_lone_surrogates_are_replaced_not_fatal(registry):
    cleaned, notes = sanitize_text("a\ud800b")
    assert cleaned == "a\ufffdb" and notes
    result = registry.tokenize("a\ud800b", "smollm2-135m-instruct")
    assert result.text == "a\ufffdb" and result.notes


def test_too_long_text_is_a_clear_error():
    with pytest.raises(InvalidInputError, match="limit"):
        sanitize_text("x" * (MAX_TEXT_CHARS + 1))


@pytest.mark.slow
def test_one_megabyte_of_text_tokenizes(registry):
    text = ("The quick brown fox jumps over the lazy dog. " * 24_000)[:1_000_000]
    result = registry.tokenize(text, "smollm2-135m-instruct")
    assert result.num_tokens > 100_000 and result.round_trip


def test_unknown_tokenizer_names_what_was_tried(registry):
    with pytest.raises(UnknownModelError) as info:
        registry.tokenize("hi", "no-such-org/no-such-tokenizer")
    message = str(info.value)
    assert "no-such-org/no-such-tokenizer" in message and "Tried" in message
    with pytest.raises(UnknownModelError, match="not an existing local folder"):
        registry.tokenize("hi", "../no-such-folder-here")
    with pytest.raises(UnknownModelError, match="does not look like a transformers"):
        registry.tokenize("hi", "/")


def test_chat_template_renders_and_marks_special_tokens(registry):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi!"}]
    result = registry.render_chat(messages, "smollm2-135m-instruct", add_generation_prompt=True)
    assert result.text.startswith("<|im_start|>system\nBe brief.<|im_end|>")
    assert result.text.endswith("<|im_start|>assistant\n")
    specials = [t.piece for t in result.tokens if t.special]
    assert specials == ["<|im_start|>", "<|im_end|>"] * 2 + ["<|im_start|>"]
    without = registry.render_chat(messages, "smollm2-135m-instruct", add_generation_prompt=False)
    assert without.num_tokens < result.num_tokens


def test_chat_template_refused_for_an_encoder(registry):
    with pytest.raises(PlaygroundError, match="no chat template"):
        registry.render_chat([{"role": "user", "content": "hi"}], "minilm-l6")


def test_messages_are_validated():
    assert validate_messages([{"role": "User", "content": "x"}, {"role": "", "content": ""}]) == [
        {"role": "user", "content": "x"}]
    with pytest.raises(InvalidInputError, match="role"):
        validate_messages([{"role": "robot", "content": "x"}])
    with pytest.raises(InvalidInputError, match="at least one"):
        validate_messages([])
    with pytest.raises(InvalidInputError):
        validate_messages("not a list")
