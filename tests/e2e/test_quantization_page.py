"""A user compares two quantization methods and sees the table, a chart and the answers."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.layout import headers_split_mid_word

pytestmark = pytest.mark.e2e


def test_two_method_comparison(page):
    page.get_by_role("tab", name="Quantization").click()
    methods = page.locator("#q-methods")
    expect(methods).to_be_visible(timeout=30_000)
    for label in methods.locator("label").all():  # keep only fp32 and NF4
        wanted = any(name in label.inner_text() for name in ("fp32", "4-bit NF4"))
        if label.locator("input").is_checked() != wanted and "double" not in label.inner_text():
            label.click()
    page.click("#q-run")
    expect(page.locator("#q-status")).to_contain_text("✅ 2 of 2 methods", timeout=180_000)
    table = page.locator("#q-table")
    expect(table).to_contain_text("bitsandbytes 4-bit NF4")
    expect(table).to_contain_text("reference")
    expect(page.locator("#q-quality .gtitle")).to_contain_text("Quality against size")  # was "Press Compare"
    expect(page.locator("#q-speed .gtitle")).to_contain_text("Speed against size")
    expect(page.locator("#q-outputs .tok-col")).to_have_count(2)
    assert headers_split_mid_word(page, "#q-table") == []  # "Bit|s", "Perplexit|y" were cut
    expect(page.locator("#q-outputs .tok-col").first).to_contain_text("the reference")  # not "same as fp32"
