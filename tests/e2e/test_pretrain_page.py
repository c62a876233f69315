"""A user sizes a tiny model (its parameter count follows the sliders), looks at what each objective trains on,
then pre-trains it from the page and watches it finish with its loss curve and samples."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.typing import set_number

pytestmark = pytest.mark.e2e


def test_size_objectives_and_a_tiny_run(page):
    page.get_by_role("tab", name="Pre-training").click()
    size = page.locator("#pt-size")
    expect(size).to_contain_text("235,264 parameters", timeout=30_000)  # 2 layers x 64 wide, 2,048 tokens
    set_number(page, "pt-width", 32)
    expect(size).to_contain_text("parameters", timeout=30_000)
    expect(size).not_to_contain_text("235,264", timeout=30_000)
    shown = page.locator("#pt-objectives")  # shown on opening, on a held-out passage
    for objective in ("clm", "mlm", "span"):
        expect(shown).to_contain_text(objective, timeout=60_000)
    expect(shown).to_contain_text("<extra_id_0>")
    page.locator("#pt-obj-text textarea").fill("O Romeo, Romeo, wherefore art thou Romeo? Deny thy father.")
    page.click("#pt-obj-show")
    expect(shown).to_contain_text("Romeo", timeout=60_000)
    set_number(page, "pt-vocab", 512)
    set_number(page, "pt-steps", 20, field="input", key="Tab")
    set_number(page, "pt-eval-every", 10, field="input", key="Tab")
    page.locator("#pt-run-name textarea, #pt-run-name input").first.fill("page-pretrain")
    page.click("#pt-start")
    status = page.locator("#pt-status")
    expect(status).to_contain_text(re.compile(r"page-pretrain: finished · step 20 of 20"), timeout=180_000)
    expect(status).to_contain_text("model saved")
    expect(page.locator("#pt-loss .gtitle")).to_have_text("Loss (nats per token)")  # not "Start a run..."
    expect(page.locator("#pt-samples")).to_contain_text("ROMEO", timeout=30_000)


def test_the_scaling_section_fits_a_finished_sweep(browser, app_url, workspace):
    from playground.pretrain.scaling import ScalingLaw
    from tests.e2e.conftest import fresh_page
    from tests.unit.test_pretrain_runs import write_points

    run_id = "20200101-000000-sweep"
    if not (workspace.finetune.runs_dir / run_id).exists():
        write_points(workspace.finetune.runs_dir / run_id, ScalingLaw(2.0, 50.0, 80.0, 0.4, 0.35))
    with fresh_page(browser, app_url) as page:
        page.get_by_role("tab", name="Pre-training").click()
        page.get_by_text("Scaling laws: a sweep of sizes and budgets").click()
        expect(page.locator("#pt-plan")).to_contain_text("12 runs", timeout=30_000)
        page.locator("#pt-fit-runs input").click()
        page.get_by_role("option", name=run_id).click()
        page.click("#pt-fit")
        summary = page.locator("#pt-fit-summary")
        expect(summary).to_contain_text("fitted here", timeout=60_000)
        expect(summary).to_contain_text("Chinchilla's law says")
        expect(page.locator("#pt-scaling .gtitle")).to_have_text("Held-out loss against training compute")
