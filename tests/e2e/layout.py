"""Layout checks in the real browser, shared by the browser tests."""

from __future__ import annotations

SPLIT_WORDS = """root => {
  const split = [];
  for (const header of root.querySelectorAll('th .header')) {
    const text = header.firstChild;
    if (!text || text.nodeType !== Node.TEXT_NODE) continue;
    for (const match of text.textContent.matchAll(/\\S+/g)) {
      const range = document.createRange();
      range.setStart(text, match.index);
      range.setEnd(text, match.index + match[0].length);
      const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
      if (lines.size > 1) split.push(match[0]);
    }
  }
  return split;
}"""


def headers_split_mid_word(page, selector: str) -> list[str]:
    """The header words of the table under ``selector`` that the browser broke across two lines."""
    return page.locator(selector).evaluate(SPLIT_WORDS)
