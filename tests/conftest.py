"""Fixtures for every suite (tests/unit, tests/integration, tests/e2e): a
database URL and the frozen clock. Those of one kind are in its own
conftest.py; helpers that are not fixtures in tests/support."""
from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Iterator, Optional

import pytest

import bot.foundation.clock

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'recorda.db'}"


class FrozenClock:
    """bot.foundation.clock stopped at one moment, moved only by the test."""

    def __init__(self, moment: datetime):
        self.set(moment)

    def set(self, moment: datetime) -> datetime:
        assert moment.tzinfo is not None, "an aware moment, e.g. datetime(..., tzinfo=MADRID)"
        self.moment = moment
        return moment

    def advance(self, delta: Optional[timedelta] = None, **parts) -> datetime:
        return self.set(self.moment + (delta or timedelta(**parts)))

    def __call__(self) -> datetime:
        return self.moment


@pytest.fixture(scope="module", autouse=True)
def _clock_restarts_per_module() -> None:
    """scripts/test-at-times: every module starts at the chosen moment, so a
    late module is not carried past midnight by the ones run before it."""
    start = os.environ.get("RECORDA_TEST_CLOCK_START")
    if start:
        bot.foundation.clock.start_at(datetime.fromisoformat(start))


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    """Freezes bot.foundation.clock for this test process at its current moment (so the
    RECORDA_CLOCK of scripts/test-at-times still decides the day); `set` or
    `advance` it for a particular moment. Subprocesses keep their own clock."""
    frozen = FrozenClock(bot.foundation.clock.now())
    bot.foundation.clock.set_source(frozen)
    yield frozen
    bot.foundation.clock.reset()


def pytest_configure(config):
    # Several Sanic apps are started in one test process; test mode lets
    # Sanic 21.12 set each one up from scratch.
    from sanic import Sanic
    Sanic.test_mode = True
