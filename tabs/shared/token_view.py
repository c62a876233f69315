"""HTML for tokens drawn as coloured spans over the original text, and their ids.

Pure functions from :class:`TokenizationResult` to HTML strings, so they are testable without
a browser. Drawing is capped: a megabyte of text still renders instantly, with a notice.
"""

from __future__ import annotations

import html
import unicodedata

from playground.text.analysis import VISIBLE_WHITESPACE, TokenizationResult, is_added

MAX_DRAWN_TOKENS = 2_000
PALETTE_SIZE = 8
NEWLINE_MARK = '<span class="ws">' + VISIBLE_WHITESPACE["\n"] + "</span>"


def visible(text: str, show_whitespace: bool) -> str:
    """Escape ``text`` for HTML, optionally drawing whitespace and invisible characters."""
    if not show_whitespace:
        return html.escape(text).replace("\n", "<br>")
    out = []
    for char in text:
        if char in VISIBLE_WHITESPACE:
            mark = f'<span class="ws">{VISIBLE_WHITESPACE[char]}</span>'
            out.append(mark + ("<br>" if char == "\n" else ""))
        elif unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            out.append(f'<span class="ws">U+{ord(char):04X}</span>')
        else:
            out.append(html.escape(char))
    return "".join(out)


def token_tile(text: str) -> tuple[str, str]:
    """A generated token's text as HTML for its coloured tile, and the line breaks that go after the tile.

    Each newline shows as ↵, so a newline the model wrote is a tile a learner can see and hover; a bare
    break inside the tile would wrap it into an empty sliver of colour.
    """
    body = text.rstrip("\n")
    trailing = len(text) - len(body)
    inner = html.escape(body).replace("\n", NEWLINE_MARK + "<br>")
    return inner + NEWLINE_MARK * trailing, "<br>" * trailing


def token_title(index: int, result: TokenizationResult) -> str:
    token = result.tokens[index]
    flags = [name for name, on in (("special", token.special), ("unknown", token.unknown),
                                   ("past context", result.is_truncated(index))) if on]
    span = f"chars {token.start}-{token.end}" if token.end > token.start else "added by tokenizer"
    title = (f"#{index} · id {token.id} · piece {token.piece!r} · bytes {token.raw.hex(' ') or '-'}"
             f" · {span}")
    return title + (f" · {', '.join(flags)}" if flags else "")


def render_spans(result: TokenizationResult, show_whitespace: bool = True,
                 max_tokens: int = MAX_DRAWN_TOKENS) -> str:
    """The text again, each token a coloured span; text no token covers is drawn plain."""
    text = result.text
    parts = []
    cursor = 0
    for index, token in enumerate(result.tokens[:max_tokens]):
        if result.context_length is not None and index == result.context_length:
            parts.append(f'<span class="ctx-limit">✂ context limit: {result.context_length:,} '
                         "tokens; the rest would be truncated</span>")
        if token.start > cursor:
            parts.append(f'<span class="gap">{visible(text[cursor:token.start], show_whitespace)}</span>')
        classes = [f"tok c{index % PALETTE_SIZE}"]
        if is_added(token):
            label = html.escape(token.piece)
            classes.append("tok-special")
        elif token.start < cursor:
            label = html.escape(" ".join(f"{byte:02X}" for byte in token.raw))
            classes.append("tok-frag")
        else:
            label = visible(text[token.start:token.end], show_whitespace) or html.escape(token.piece)
            if token.special:
                classes.append("tok-special")
        if token.unknown:
            classes.append("tok-unk")
        if result.is_truncated(index):
            classes.append("tok-trunc")
        tip = html.escape(token_title(index, result), quote=True)
        # A trailing line break goes after the tile: inside, it wraps into an empty tile.
        label, newline = (label[:-4], "<br>") if label.endswith("<br>") else (label, "")
        # The pinned details are a real element placed against the column (see .tok-tip in style.css),
        # so the span box's scrolling cannot clip them at its edge.
        parts.append(f'<span class="{" ".join(classes)}" title="{tip}" tabindex="0">{label}'
                     f'<span class="tok-tip" aria-hidden="true">{tip}</span></span>{newline}')
        cursor = max(cursor, token.end)
    if len(result.tokens) > max_tokens:
        parts.append(f'<div class="tok-more">… {len(result.tokens) - max_tokens:,} more tokens not '
                     f"drawn (first {max_tokens:,} shown; counts and the table cover all).</div>")
    elif cursor < len(text):
        parts.append(f'<span class="gap">{visible(text[cursor:], show_whitespace)}</span>')
    return f'<div class="tok-spans" dir="ltr">{"".join(parts)}</div>'


def render_ids(result: TokenizationResult, max_tokens: int = MAX_DRAWN_TOKENS) -> str:
    ids = ", ".join(str(token.id) for token in result.tokens[:max_tokens])
    more = f", … ({len(result.tokens) - max_tokens:,} more)" if len(result.tokens) > max_tokens else ""
    return f'<code class="tok-ids">[{ids}{more}]</code>'


def render_stats(result: TokenizationResult) -> str:
    summary = result.summary()
    check = "✓ round trip" if result.round_trip else "✗ lossy round trip"
    context = f"{result.context_length:,}" if result.context_length else "n/a"
    return (f'<div class="tok-stats"><b class="stat-tokens">{summary["num_tokens"]:,} tokens</b> · '
            f'{summary["num_chars"]:,} chars · {summary["num_words"]:,} words · '
            f'{summary["chars_per_token"]} chars/token · {check} · context {context}</div>')


def render_column(result: TokenizationResult, show_whitespace: bool) -> str:
    items = "".join(f"<li>{html.escape(note)}</li>" for note in result.notes)
    notes = f'<ul class="tok-notes">{items}</ul>' if items else ""
    return (
        f'<div class="tok-col" data-tokenizer="{html.escape(result.tokenizer, quote=True)}">'
        f'<div class="tok-head"><b>{html.escape(result.tokenizer)}</b> '
        f'<span class="muted">{html.escape(result.family)} · vocab {result.vocab_size:,}</span></div>'
        f"{render_stats(result)}"
        f"{notes}"
        f"{render_spans(result, show_whitespace)}"
        f'<details class="tok-ids-box"><summary>Token ids</summary>{render_ids(result)}</details>'
        "</div>"
    )


def render_error_column(name: str, message: str) -> str:
    return (f'<div class="tok-col tok-error" data-tokenizer="{html.escape(name, quote=True)}">'
            f'<div class="tok-head"><b>{html.escape(name)}</b></div>'
            f'<div class="error-text">{html.escape(message)}</div></div>')


def render_grid(columns: list[str]) -> str:
    if not columns:
        return '<div class="muted">Pick at least one tokenizer.</div>'
    return f'<div class="tok-grid">{"".join(columns)}</div>'
