"""A user opens What causes it: patches the Eiffel fact, explains a prediction, steers an answer, and gets a
clear message for prompts of different lengths."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_patching_salience_and_steering_draw_on_the_embedded_model(page):
    page.get_by_role("tab", name="What causes it").click()
    expect(page.locator("#causes-patch-plot")).to_contain_text("Press “Patch every layer”")  # not an empty box
    page.locator("#causes-patch").click()
    expect(page.locator("#causes-patch-summary")).to_contain_text("clean run +2.857", timeout=90_000)
    expect(page.locator("#causes-patch-summary")).to_contain_text("rank correlation")
    expect(page.locator("#causes-patch-plot .gtitle")).to_contain_text("Activation patching: residual stream")
    expect(page.locator("#causes-estimate-plot .gtitle")).to_contain_text("Attribution patching (estimate)")
    expect(page.locator("#causes-patch-plot .xtick", has_text="iffel")).to_have_count(1)

    page.locator("#causes-corrupted textarea").fill("Rome is in the city of")
    page.locator("#causes-patch").click()
    expect(page.get_by_text("patching copies position i onto position i").first).to_be_visible(timeout=30_000)

    page.get_by_role("tab", name="Input salience").click()
    page.locator("#causes-salience").click()
    expect(page.locator("#causes-salience-plot .gtitle")).to_contain_text("Berlin", timeout=90_000)
    expect(page.locator("#causes-salience-summary")).to_contain_text("gap")
    expect(page.locator("#causes-salience-plot")).to_contain_text("Integrated gradients' path")

    page.get_by_role("tab", name="Steering").click()
    page.locator("#causes-steer").click()
    expect(page.locator("#causes-steer-summary")).to_contain_text("after block 10, at every position",
                                                                   timeout=90_000)
    expect(page.locator("#causes-steer-summary")).not_to_contain_text("generating", timeout=90_000)
    steered = page.locator("#causes-steered textarea").input_value()
    unsteered = page.locator("#causes-unsteered textarea").input_value()
    assert steered and unsteered and steered != unsteered


def test_base_against_fine_tuned_draws_for_a_finished_run(untrained_run, page):
    page.get_by_role("tab", name="What causes it").click()
    page.get_by_role("tab", name="Base vs fine-tuned").click()
    page.get_by_role("button", name="↻ Runs").click()
    page.locator("#causes-run input").fill(untrained_run)
    page.locator("#causes-run input").press("Enter")
    page.locator("#causes-compare").click()
    # the page's question, read as a user's turn: both models' answers start alike
    expect(page.locator("#causes-tuned-summary")).to_contain_text("the top prediction stays 'The'", timeout=90_000)
    expect(page.locator("#causes-tuned-summary")).to_contain_text("0.0000 bits")
    expect(page.locator("#causes-tuned-lens .gtitle")).to_contain_text("Logit lens, base against fine-tuned")
    expect(page.locator("#causes-tuned-heads .gtitle")).to_contain_text("fine-tuned - base")
