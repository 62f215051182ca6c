"""Shared fixtures for the booking tests: the real sandbox booking service,
started as a subprocess on a free localhost port with a fresh database.

Import the fixtures into a test module:
    from tests.booking_fixtures import booking, booking_service  # noqa: F401
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Iterator, List, Optional

import pytest
import pytest_asyncio

import bot.foundation.clock
from bot.booking import Appointment, BookingSystem
from bot.booking.rest import RestBookingSystem
from bot.dev.sandbox.booking_seed import MADRID, OFFICES
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "test-booking-token"
START_TIMEOUT = 20.0


@dataclass(frozen=True)
class SandboxBooking:
    """A running sandbox booking service."""
    url: str  # http://127.0.0.1:<port>
    token: str
    db_path: Path
    log_path: Path

    @property
    def api_url(self) -> str:
        return self.url + "/api/v1"

    def request(self, method: str, path: str, body: Optional[dict] = None,
                token: Optional[str] = None) -> tuple:
        """(status, decoded JSON or text) of a raw HTTP call; `token=""` sends none."""
        headers = {"Content-Type": "application/json"}
        token = self.token if token is None else token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status, _decode(resp)
        except urllib.error.HTTPError as err:
            return err.code, _decode(err)

    def set_outage(self, down: bool) -> None:
        status, _ = self.request("POST", "/sandbox/outage", {"down": down})
        assert status == 200


def _decode(resp):
    text = resp.read().decode()
    return json.loads(text) if resp.headers.get_content_type() == "application/json" else text


def _wait_healthy(service: SandboxBooking, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if service.request("GET", "/sandbox/health")[0] == 200:
                return
        except OSError:
            pass  # not listening yet
        time.sleep(0.05)
    pytest.fail("sandbox booking service did not start:\n" + service.log_path.read_text())


@pytest.fixture(scope="module")
def booking_service(tmp_path_factory, request) -> Iterator[SandboxBooking]:
    """`python -m bot.dev.sandbox.booking_service` on a fresh database, one per test module.
    A module that needs more citizens than the town's seed sets
    BOOKING_EXTRA_CITIZENS: that many more appointments on the next service day."""
    tmp = tmp_path_factory.mktemp("booking")
    port = free_port()
    service = SandboxBooking(f"http://127.0.0.1:{port}", TOKEN, tmp / "booking.db", tmp / "service.log")
    # The service lets RECORDA_BOOKING_TOKEN override --token: keep both in step.
    env = dict(os.environ, RECORDA_BOOKING_TOKEN=TOKEN, PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "bot.dev.sandbox.booking_service", "--host", "127.0.0.1",
           "--port", str(port), "--db", str(service.db_path), "--token", TOKEN]
    extra = getattr(request.module, "BOOKING_EXTRA_CITIZENS", 0)
    if extra:
        cmd += ["--reseed", "--bench-appointments", str(extra)]
    with service.log_path.open("w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(service, proc)
        yield service
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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


def madrid_today() -> date:
    """Today in the town by the clock the code reads (and RECORDA_CLOCK shifts)."""
    return bot.foundation.clock.now(MADRID).date()


async def appointments_on(booking: BookingSystem, day: date) -> List[Appointment]:
    """Every office's appointments on a day."""
    found = []
    for office in OFFICES:
        found += await booking.list_appointments(day, office["id"])
    return found


async def appointment_of(booking: BookingSystem, day: date, citizen_name: str) -> Appointment:
    matches = [a for a in await appointments_on(booking, day) if a.citizen_name == citizen_name]
    assert len(matches) == 1, f"{citizen_name} should have one appointment on {day}"
    return matches[0]
