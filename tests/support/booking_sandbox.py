"""The real sandbox booking service for tests: started as a subprocess on a
free localhost port with a fresh database (the fixtures `booking_service`,
`booking` and `outage` of tests/integration/conftest.py), and helpers that
read its appointments."""
from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Iterator, List, Optional

import bot.foundation.clock
from bot.booking import Appointment, BookingSystem
from bot.dev import processes
from bot.dev.processes import free_port
from bot.dev.sandbox.booking_seed import MADRID, OFFICES

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


@contextmanager
def sandbox_booking(tmp: Path, extra_citizens: int = 0) -> Iterator[SandboxBooking]:
    """`python -m bot.dev.sandbox.booking_service` on a fresh database in `tmp`
    until the block ends; `extra_citizens` more appointments on the next
    service day than the town's seed."""
    port = free_port()
    service = SandboxBooking(f"http://127.0.0.1:{port}", TOKEN, tmp / "booking.db", tmp / "service.log")
    # The service lets RECORDA_BOOKING_TOKEN override --token: keep both in step.
    env = dict(os.environ, RECORDA_BOOKING_TOKEN=TOKEN, PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "bot.dev.sandbox.booking_service", "--host", "127.0.0.1",
           "--port", str(port), "--db", str(service.db_path), "--token", TOKEN]
    if extra_citizens:
        cmd += ["--reseed", "--bench-appointments", str(extra_citizens)]
    with processes.running("the sandbox booking service", cmd, service.url + "/sandbox/health",
                           service.log_path, env, START_TIMEOUT, stop_timeout=5):
        yield service


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
