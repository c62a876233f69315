"""Entering numbers the way a user does, shared by the browser tests."""

from __future__ import annotations


def set_number(page, elem_id: str, value: int, field: str = "input[type=number]", key: str = "Enter") -> None:
    """Type ``value`` into the number box of ``elem_id`` (a slider's box, or a gr.Number) and confirm it."""
    box = page.locator(f"#{elem_id} {field}")
    box.fill(str(value))
    box.press(key)
