"""A headless Debian chromium driven by Playwright; nothing leaves 127.0.0.1."""

from __future__ import annotations

import shutil
import time
from contextlib import contextmanager

import pytest

from tests.tuned_runs import save_run

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
LOCAL = ("http://127.0.0.1", "http://localhost", "data:", "blob:")


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not shutil.which(CHROMIUM) and not shutil.os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is missing: `make test` installs it (as root).")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield instance
        instance.close()


@contextmanager
def fresh_page(browser, url: str):
    """A page in its own browser context (its own cookies and Gradio session), local requests only."""
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(LOCAL)
                  else route.abort())
    tab = context.new_page()
    tab.goto(url)
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture
def page(browser, app_url):
    with fresh_page(browser, app_url) as tab:
        yield tab


@pytest.fixture
def untrained_run(workspace):
    """A finished run in the app's runs folder (an untrained LoRA adapter on the embedded model), removed after.
    Named by the time now, it is the newest fine-tuning run, so the list the page loads and a refresh answering
    after the test picked it both choose it, whatever runs earlier tests left behind."""
    run_id = time.strftime("%Y%m%d-%H%M%S-untrained")
    save_run(workspace.finetune.runs_dir, run_id, "smollm2-135m-instruct",
             workspace.store.private_causal_lm("smollm2-135m-instruct"), nudge=False)
    yield run_id
    shutil.rmtree(workspace.finetune.runs_dir / run_id, ignore_errors=True)
