"""Fixtures of the integration tests: the sandbox booking service (one per
module), the REST adapter pointed at it, and the staff console in this
process (tests/support/booking_sandbox.py, tests/support/console.py)."""
from __future__ import annotations

import os
from typing import Iterator

import aiohttp
import pytest
import pytest_asyncio

from bot.booking.rest import RestBookingSystem
from tests.support.booking_sandbox import SandboxBooking, sandbox_booking
from tests.support.simulator import webhook_receiver

PG_URL = os.environ.get("RECORDA_TEST_PG_URL")


@pytest.fixture
def pg_url() -> str:
    """The real PostgreSQL that CI provides (RECORDA_TEST_PG_URL, from
    scripts/start-test-postgres); without one the test is skipped."""
    if not PG_URL:
        pytest.skip("RECORDA_TEST_PG_URL not set (CI sets it to a real PostgreSQL)")
    return PG_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_url(request, db_url) -> str:
    """The test twice: on its own SQLite file, and on the real PostgreSQL."""
    return db_url if request.param == "sqlite" else request.getfixturevalue("pg_url")


@pytest.fixture(scope="module")
def booking_service(tmp_path_factory, request) -> Iterator[SandboxBooking]:
    """The sandbox booking service on a fresh database, one per test module.
    A module that needs more citizens than the town's seed sets
    BOOKING_EXTRA_CITIZENS: that many more appointments on the next service day."""
    extra = getattr(request.module, "BOOKING_EXTRA_CITIZENS", 0)
    with sandbox_booking(tmp_path_factory.mktemp("booking"), extra) as service:
        yield service


@pytest_asyncio.fixture
async def booking(booking_service) -> RestBookingSystem:
    """The REST adapter pointed at the sandbox, closed after the test."""
    system = RestBookingSystem(booking_service.api_url, booking_service.token, timeout=2.0)
    yield system
    await system.close()


@pytest.fixture
def outage(booking_service) -> Iterator[SandboxBooking]:
    """The service, with any simulated outage lifted after the test."""
    yield booking_service
    booking_service.set_outage(False)


@pytest_asyncio.fixture
async def console(tmp_path, request):
    """The console against the sandbox booking service if the test module
    uses the `booking` fixture, else against a booking system that is down."""
    # Imported here: a web app that does not import fails only the tests that use it.
    from tests.support.console import start_console, stop_console
    booking = request.getfixturevalue("booking") if "booking" in request.fixturenames else None
    booking_url = booking.base_url if booking is not None and hasattr(booking, "base_url") else "http://127.0.0.1:1"
    served, server = await start_console(tmp_path, booking, booking_url)
    yield served
    await stop_console(served, server)


@pytest.fixture(scope="module")
def receiver():
    """A local HTTP server that records the webhooks the WhatsApp simulator sends."""
    with webhook_receiver() as recorder:
        yield recorder


@pytest.fixture
def live(simulator, receiver):
    """The module's live simulator (its own `simulator` fixture: profile and
    seed) with no message and no recorded webhook left from other tests."""
    simulator.reset()
    receiver.clear()
    return simulator


@pytest_asyncio.fixture
async def http():
    """An HTTP client session for the test."""
    async with aiohttp.ClientSession() as session:
        yield session
