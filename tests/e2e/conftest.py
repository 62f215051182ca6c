"""Fixtures of the end-to-end tests: a headless Chromium for the console's
browser tests (tests/support/browser.py)."""
from __future__ import annotations

from typing import Iterator

import pytest

from tests.support.browser import chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as launched:
        yield launched
