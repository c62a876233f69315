"""The HTML drawn for tokens: escaped, capped, and marking the context limit."""

from __future__ import annotations

import re

from playground.text.analysis import analyse
from tabs.shared import token_view


def test_html_in_text_is_escaped(workspace):
    result = workspace.tokenizers.tokenize("<script>alert(1)</script>", "smollm2-135m-instruct")
    html = token_view.render_column(result, show_whitespace=True)
    assert "<script>" not in html and "&lt;" in html


def test_drawing_is_capped_with_a_notice(workspace):
    result = workspace.tokenizers.tokenize("word " * 300, "cl100k_base")
    html = token_view.render_spans(result, max_tokens=50)
    assert html.count('class="tok ') == 50
    assert f"{result.num_tokens - 50:,} more tokens not drawn" in html


def test_context_limit_marker_and_truncated_tokens(workspace):
    result = workspace.tokenizers.tokenize("word " * 600, "minilm-l6")
    html = token_view.render_spans(result)
    assert "context limit: 512" in html and "tok-trunc" in html


def test_whitespace_and_invisible_characters_are_drawn(workspace):
    backend = workspace.tokenizers.get("smollm2-135m-instruct")
    result = analyse(backend, "a b\tc\u200dd\n")
    shown = token_view.render_spans(result, show_whitespace=True)
    assert "·" in shown and "→" in shown and "U+200D" in shown and "↵" in shown
    plain = token_view.render_spans(result, show_whitespace=False)
    assert "U+200D" not in plain


def test_byte_fragments_are_drawn_as_bytes(workspace):
    result = workspace.tokenizers.tokenize("🤖", "smollm2-135m-instruct")
    html = token_view.render_spans(result)
    assert "tok-frag" in html and html.count("🤖") == 1


def test_a_token_ending_in_a_newline_breaks_the_line_after_its_tile(workspace):
    result = workspace.tokenizers.tokenize("one\ntwo", "smollm2-135m-instruct")
    html = token_view.render_spans(result, show_whitespace=True)
    assert re.search(r'↵</span><span class="tok-tip"[^>]*>[^<]*</span></span><br>', html) and '<br></span>' not in html


def test_a_generated_newline_is_a_marked_tile_with_the_break_after_it():
    mark = token_view.NEWLINE_MARK
    assert token_view.token_tile("\n") == (mark, "<br>")
    assert token_view.token_tile(".\n\n") == ("." + mark * 2, "<br><br>")
    assert token_view.token_tile("a\nb<c") == (f"a{mark}<br>b&lt;c", "")  # a break inside stays where it is
    assert token_view.token_tile(" the") == (" the", "")
