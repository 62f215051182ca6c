"""Debian's Chromium driven by the playwright package, for the console's
browser tests. The playwright package's own browser download is never used:
its driver talks to /usr/bin/chromium (`apt-get install chromium`).

Without Chromium the browser tests are skipped with the reason, except where
RECORDA_REQUIRE_BROWSER=1 (CI), where that is a failure (the `browser`
fixture of tests/e2e/conftest.py).
"""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from typing import Iterator, Optional

import pytest

from tests.support import ROOT

CHROMIUM_NAMES = ("chromium", "chromium-browser")
# What a headless browser in a container needs, and nothing that phones home.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--metrics-recording-only"]
SCREENSHOTS_DIR = ROOT / "docs" / "screenshots"


def chromium_path() -> Optional[str]:
    configured = os.environ.get("RECORDA_CHROMIUM")
    if configured:
        return configured
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


@contextmanager
def chromium() -> Iterator[object]:
    """A headless Chromium launched by playwright; skips (or fails, on CI)
    the test when there is none."""
    path = chromium_path()
    if path is None:
        message = "Debian's chromium is not installed (apt-get install chromium); .ci/run installs it"
        if os.environ.get("RECORDA_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def screenshot(page, name: str) -> None:
    """Saves a full-page screenshot into docs/screenshots/ when
    RECORDA_SCREENSHOTS=1 (how the README's pictures are made)."""
    if os.environ.get("RECORDA_SCREENSHOTS") == "1":
        SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS_DIR / f"{name}.png"), full_page=True)
