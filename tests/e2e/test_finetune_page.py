"""A user starts a short fine-tuning run from the page, watches its curve gain points, then stops it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from playground.finetune.config import FinetuneConfig
from playground.finetune.events import append_event
from tests.e2e.typing import set_number as enter_number

pytestmark = pytest.mark.e2e


def set_number(page, elem_id: str, value: int) -> None:
    enter_number(page, elem_id, value, field="input", key="Tab")


def leftover_run(runs_dir: Path, run_id: str) -> None:
    """A run from an earlier visit, as its folder holds it: stopped at step 4 of 40."""
    folder = runs_dir / run_id
    folder.mkdir(parents=True, exist_ok=True)
    FinetuneConfig(max_steps=40, run_name="earlier").save(folder / "config.json")
    append_event(folder, "started", max_steps=40, step=0)
    append_event(folder, "cancelled", message="Stopped at step 4; adapter saved.", step=4)


def test_the_tab_opens_on_no_run_and_says_what_to_pick(page, workspace):
    for run_id in ("20200101-000000-earlier", "20200101-000100-earlier"):
        leftover_run(workspace.finetune.runs_dir, run_id)
    page.get_by_role("tab", name="Fine-tuning").click()
    status = page.locator("#ft-status")
    expect(status).to_contain_text("No run yet", timeout=30_000)  # not the leftover "cancelled · step 4"
    notes = page.locator("#ft-notes")  # the method notes scroll beside the form...
    assert notes.evaluate("node => node.scrollHeight > node.clientHeight + 500")
    assert status.bounding_box()["y"] < 1600  # ...instead of pushing the run's status down to 2,500 px
    page.get_by_text("Run history and comparison").click()
    expect(page.locator("#ft-overlay")).to_contain_text("Pick runs", timeout=30_000)
    expect(page.locator("#ft-diff-note")).to_contain_text("Pick two or more runs")
    compare = page.locator("#ft-compare input")
    for run_id in ("20200101-000000-earlier", "20200101-000100-earlier"):
        compare.click()
        page.get_by_role("option", name=run_id).click()
    expect(page.locator("#ft-diff-note")).to_contain_text("No differences", timeout=30_000)
    expect(page.locator("#ft-overlay")).not_to_contain_text("Pick runs")  # both picked: no step logged yet
    expect(status).to_contain_text("No run yet")
    page.get_by_text("Trade-offs across runs").click()
    page.click("#ft-compare-button")
    table = page.locator("#ft-tradeoffs")
    for run_id in ("20200101-000000-earlier", "20200101-000100-earlier"):
        expect(table).to_contain_text(run_id, timeout=30_000)
    expect(table).to_contain_text("cancelled")
    expect(page.locator("#ft-tradeoff-chart")).to_contain_text("trainable %")  # the bars, not "Pick runs"
    # the adapter's settings show only for the methods that train one
    lora_rank = page.locator("#ft-lora-settings")
    expect(lora_rank).to_be_visible()
    for method, shown in (("full", False), ("distill", False), ("dpo", True)):
        page.locator("#ft-method").get_by_label(method, exact=True).check()
        expect(lora_rank).to_be_visible() if shown else expect(lora_rank).to_be_hidden()


def test_start_watch_and_stop_a_run(page):
    page.get_by_role("tab", name="Fine-tuning").click()
    expect(page.locator("#ft-estimate")).to_contain_text("Estimate", timeout=30_000)
    set_number(page, "ft-steps", 60)
    set_number(page, "ft-eval-every", 2)
    page.locator("#ft-run-name textarea, #ft-run-name input").first.fill("page")
    page.click("#ft-start")
    status = page.locator("#ft-status")
    # Before step 1 the worker probes the base model (the probe table's step-0 row): one probe's time.
    expect(status).to_contain_text(re.compile(r"page: running · step [1-9] of 60"), timeout=240_000)
    expect(status).to_contain_text(re.compile(r"step ([3-9]|[1-5][0-9]) of 60"), timeout=120_000)  # it moves on
    expect(page.locator("#ft-loss .gtitle")).to_have_text("Loss")  # the curve, not "The loss appears here..."
    expect(page.locator("#ft-probes")).to_contain_text("What is the capital of France?", timeout=60_000)
    expect(page.locator("#ft-probes")).to_contain_text("0 (base)")  # the base model's answers, to compare
    page.click("#ft-stop")
    expect(status).to_contain_text("cancelled", timeout=120_000)
    expect(status).to_contain_text("adapter saved")
    # the stopped run's adapter, scored beside the base on two sentiment items (the Prompt lab's scorer)
    page.get_by_text("Evaluate after training").click()
    expect(page.locator("#ft-eval-limit input")).to_have_value("20", timeout=30_000)
    set_number(page, "ft-eval-limit", 2)  # the scores below read "n/2": the page used the number typed
    page.click("#ft-evaluate")
    scores = page.locator("#ft-eval-scores")
    expect(scores).to_contain_text("sentiment accuracy (zero-shot), base", timeout=180_000)
    expect(scores).to_contain_text("sentiment accuracy (zero-shot), tuned")
    expect(scores).to_contain_text(re.compile(r"\d+% \(\d/2; 95%"))
    expect(scores).to_contain_text("held-out rows (base → trained)")


def test_try_it_answers_with_the_base_and_the_run(untrained_run, page):
    page.get_by_role("tab", name="Fine-tuning").click()
    page.locator("#ft-run input").click()
    page.get_by_role("option", name=untrained_run).click()
    page.get_by_text("Try it: the base model and the fine-tuned one").click()
    page.click("#ft-try")
    columns = page.locator("#ft-try-output .tok-col")
    expect(columns).to_have_count(2, timeout=30_000)
    for column in columns.all():
        expect(column.locator(".gen-stats")).to_contain_text("ended its turn", timeout=90_000)
    expect(columns.last).to_contain_text(f"Fine-tuned · {untrained_run}")  # which run answered
    base, tuned = (column.locator(".gen-tok").all_inner_texts() for column in columns.all())
    assert base == tuned and "Paris" in "".join(base)  # greedy, and an untrained adapter changes nothing
