"""Entering numbers the way a user does, shared by the browser tests."""

from __future__ import annotations

from playwright.sync_api import expect

TRIES = 4
SETTLE_MS = 1_000
"""How long a typed value must stay before it counts as kept."""


def set_number(page, elem_id: str, value: int, field: str = "input[type=number]", key: str = "Enter") -> None:
    """Type ``value`` into the number box of ``elem_id`` (a slider's box, or a gr.Number) and confirm it.

    A box inside an accordion that has just opened can be mounted a second time as its content
    renders, taking back its initial value and dropping what was typed into the first one; a user
    sees the old number and types again, and so does this, until the box keeps the value.
    """
    box = page.locator(f"#{elem_id} {field}")
    for attempt in range(TRIES):
        box.fill(str(value))
        box.press(key)
        try:
            expect(box).to_have_value(str(value), timeout=2_000)
            page.wait_for_timeout(SETTLE_MS)  # the second mount may come after the first box showed it
            expect(box).to_have_value(str(value), timeout=100)
            return
        except AssertionError:
            if attempt == TRIES - 1:
                raise
