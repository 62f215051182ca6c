"""The daily reminder job against the real sandbox booking service. A small
stand-in for Rasa's trigger_intent endpoint plays the assistant's part: it
claims the reminder and "sends" it exactly as the connector does, and counts
sends per appointment, so the tests can see any reminder sent twice."""
from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections import Counter
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web

import bot.foundation.clock
from bot.apps.worker import rasa_notifier
from bot.booking import Appointment
from bot.booking.outbox import DONE, Operation
from bot.dev.processes import free_port
from bot.foundation.languages import format_when
from bot.foundation.phone import check_for_whatsapp
from bot.foundation.settings import PROJECT_ROOT, Settings
from bot.offices.service_days import next_service_day
from bot.reminders import states
from bot.reminders.job import JobSummary, PlannedReminder, RateLimiter, rasa_trigger, send_all
from bot.reminders.store import ReminderStore
from tests.support.booking_sandbox import madrid_today

MADRID = ZoneInfo("Europe/Madrid")


class FakeAssistant:
    """Answers POST /conversations/<id>/trigger_intent like Rasa with the
    WhatsApp channel `channel`: one claim, one send per appointment."""

    def __init__(self, db_url: str, delay: float = 0.05, channel: str = "messagebird"):
        self.store = ReminderStore(db_url)
        self.delay = delay
        self.channel = channel
        self.sends = Counter()
        self.triggers = 0
        self.senders = {}
        self.port = free_port()

    async def trigger(self, request: web.Request) -> web.Response:
        assert request.query.get("token") == "test-rasa-token"
        assert request.query.get("output_channel") == self.channel
        body = await request.json()
        assert body["name"] == "EXTERNAL_appointment_reminder"
        self.triggers += 1
        appointment_id = body["entities"]["appointment_id"]
        self.senders[appointment_id] = request.match_info["conversation"]
        if self.store.claim_for_sending(appointment_id):
            await asyncio.sleep(self.delay)
            self.sends[appointment_id] += 1
            self.store.mark_sent(appointment_id, uuid.uuid4().hex)
        return web.json_response({"tracker": {}})

    async def __aenter__(self):
        app = web.Application()
        app.router.add_post("/conversations/{conversation}/trigger_intent", self.trigger)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc):
        await self.runner.cleanup()


def job_env(db_url: str, booking_service, rasa_port: int) -> dict:
    env = dict(os.environ)
    env.update({"RECORDA_DB_URL": db_url, "RECORDA_BOOKING_URL": booking_service.api_url,
                "RECORDA_BOOKING_TOKEN": booking_service.token,
                "RECORDA_RASA_URL": f"http://127.0.0.1:{rasa_port}",
                "RECORDA_RASA_TOKEN": "test-rasa-token", "PYTHONPATH": str(PROJECT_ROOT)})
    return env


async def run_job_process(env: dict, service_day, *extra: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.apps.reminders", "send", "--date", service_day.isoformat(),
        "--no-progress", *extra, cwd=PROJECT_ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)


async def sendable(booking, day) -> dict:
    """appointment id -> E.164 of the active appointments with a usable mobile."""
    found = {}
    for office in await booking.list_offices():
        for a in await booking.list_appointments(day, office.id):
            check = check_for_whatsapp(a.phone)
            if a.is_active and check.usable:
                found[a.id] = check.e164
    return found


async def test_rerun_and_crash_mid_run_never_send_twice(booking_service, booking, db_url):
    day = next_service_day(madrid_today())
    expected = await sendable(booking, day)
    assert len(expected) >= 15
    async with FakeAssistant(db_url) as assistant:
        env = job_env(db_url, booking_service, assistant.port)
        # Slow rate so the job is surely mid-run when it is killed.
        proc = await run_job_process(env, day, "--rate", "8")
        while assistant.triggers < 5:
            await asyncio.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        assert 0 < sum(assistant.sends.values()) < len(expected)

        for _ in range(2):  # the re-run after the crash, then a plain re-run
            proc = await run_job_process(env, day, "--rate", "200")
            output = (await proc.communicate())[0].decode()
            assert proc.returncode == 0, output
    assert dict(assistant.sends) == {aid: 1 for aid in expected}
    assert assistant.senders == expected  # each conversation is the citizen's own number
    store = ReminderStore(db_url)
    assert all(store.get(aid).state == states.SENT for aid in expected)
    assert "skipped: already sent earlier" in output


async def test_landlines_and_invalid_numbers_fail_without_sending(booking_service, booking, db_url):
    day = next_service_day(madrid_today())
    async with FakeAssistant(db_url, delay=0) as assistant:
        proc = await run_job_process(job_env(db_url, booking_service, assistant.port), day, "--rate", "500")
        output = (await proc.communicate())[0].decode()
    assert proc.returncode == 0, output
    store = ReminderStore(db_url)
    reasons = Counter(r.reason for r in store.for_day(day) if r.state == states.FAILED)
    assert reasons["not_mobile"] == 2 and reasons["invalid_number"] == 2
    failed_ids = {r.appointment_id for r in store.for_day(day) if r.state == states.FAILED}
    assert failed_ids.isdisjoint(assistant.sends)
    assert "failed: not_mobile" in output and "failed: invalid_number" in output


async def test_dry_run_sends_and_records_nothing(booking_service, booking, db_url):
    day = next_service_day(madrid_today())
    async with FakeAssistant(db_url, delay=0) as assistant:
        proc = await run_job_process(job_env(db_url, booking_service, assistant.port), day, "--dry-run")
        output = (await proc.communicate())[0].decode()
    assert proc.returncode == 0, output
    assert assistant.triggers == 0
    assert ReminderStore(db_url).for_day(day) == []
    assert "Would send" in output and "+34 6••" in output  # numbers masked


async def test_reminders_go_through_the_configured_whatsapp_channel(db_url, monkeypatch):
    monkeypatch.setenv("RECORDA_WHATSAPP_CHANNEL", "whatsapp_cloud")
    async with FakeAssistant(db_url, delay=0, channel="whatsapp_cloud") as assistant:
        monkeypatch.setenv("RECORDA_RASA_URL", f"http://127.0.0.1:{assistant.port}")
        monkeypatch.setenv("RECORDA_RASA_TOKEN", "test-rasa-token")
        settings = Settings.from_env()
        assert settings.whatsapp_channel == "whatsapp_cloud"
        appointment = Appointment("CLOUD-1", "o", "p", bot.foundation.clock.now(timezone.utc), "x",
                                  "+34612345678", "ca", "booked")
        async with aiohttp.ClientSession() as session:
            await rasa_trigger(session, settings)("+34612345678", appointment)
    assert assistant.triggers == 1 and assistant.senders == {"CLOUD-1": "+34612345678"}


async def test_worker_notices_go_through_the_configured_whatsapp_channel(monkeypatch):
    """The retry worker's word on a queued cancel starts its bot turn on the
    deployment's WhatsApp channel, as the daily job does."""
    seen = []

    async def trigger(request: web.Request) -> web.Response:
        seen.append((request.match_info["conversation"], request.query.get("output_channel"),
                     await request.json()))
        return web.json_response({"tracker": {}})

    app = web.Application()
    app.router.add_post("/conversations/{conversation}/trigger_intent", trigger)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        monkeypatch.setenv("RECORDA_WHATSAPP_CHANNEL", "whatsapp_cloud")
        monkeypatch.setenv("RECORDA_RASA_URL", f"http://127.0.0.1:{port}")
        settings = Settings.from_env()
        op = Operation(1, "Q-1", "cancel", "+34612345678", "ca", DONE, 1, None, False)
        async with aiohttp.ClientSession() as session:
            await rasa_notifier(session, settings)(op)
    finally:
        await runner.cleanup()
    assert seen == [("+34612345678", "whatsapp_cloud", {
        "name": "EXTERNAL_booking_update",
        "entities": {"appointment_id": "Q-1", "operation": "cancel", "outcome": "done"}})]


async def test_an_unknown_whatsapp_channel_stops_the_job_before_anything_is_sent(
        booking_service, db_url):
    async with FakeAssistant(db_url, delay=0) as assistant:
        env = dict(job_env(db_url, booking_service, assistant.port), RECORDA_WHATSAPP_CHANNEL="telegram")
        proc = await run_job_process(env, next_service_day(madrid_today()))
        output = (await proc.communicate())[0].decode()
    assert proc.returncode != 0
    assert "RECORDA_WHATSAPP_CHANNEL is 'telegram'; it must be one of messagebird, whatsapp_cloud" in output
    assert assistant.triggers == 0


async def test_rate_limit_is_respected(db_url):
    calls = []

    async def trigger(phone, appointment):
        calls.append(asyncio.get_running_loop().time())

    store = ReminderStore(db_url)
    planned = []
    for i in range(60):
        aid = f"RATE-{i}"
        store.schedule(aid, None, None, "+34612345678", "ca")
        planned.append(PlannedReminder(
            Appointment(aid, "o", "p", bot.foundation.clock.now(timezone.utc), "x", "+34612345678", "ca", "booked"),
            "+34612345678"))
    await send_all(store, planned, trigger, rate=50, concurrency=16, summary=JobSummary(None))
    assert len(calls) == 60
    assert calls[-1] - calls[0] >= 59 / 50 - 0.01
    for i, start in enumerate(calls):
        assert sum(1 for t in calls[i:] if t < start + 1.0) <= 51


async def test_rate_limiter_spaces_starts_evenly():
    limiter = RateLimiter(20)
    loop = asyncio.get_running_loop()
    times = []
    for _ in range(5):
        await limiter.wait()
        times.append(loop.time())
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(g >= 0.045 for g in gaps)


def test_next_service_day_skips_weekends_and_holidays():
    friday = datetime(2026, 12, 4).date()
    assert next_service_day(friday).isoformat() == "2026-12-07"
    # 8 December (Immaculate Conception) is a holiday in Catalonia.
    monday = datetime(2026, 12, 7).date()
    assert next_service_day(monday, holidays=[datetime(2026, 12, 8).date()]).isoformat() == "2026-12-09"


@pytest.mark.parametrize("utc_instant,language,expected", [
    # Daylight saving starts on Sunday 29 March 2026 (CET -> CEST).
    (datetime(2026, 3, 27, 8, 0, tzinfo=timezone.utc), "ca", "divendres, 27 de març, a les 9:00"),
    (datetime(2026, 3, 30, 7, 0, tzinfo=timezone.utc), "ca", "dilluns, 30 de març, a les 9:00"),
    # ...and ends on Sunday 25 October 2026.
    (datetime(2026, 10, 23, 7, 30, tzinfo=timezone.utc), "es", "viernes, 23 de octubre, a las 9:30"),
    (datetime(2026, 10, 26, 8, 30, tzinfo=timezone.utc), "es", "lunes, 26 de octubre, a las 9:30"),
    (datetime(2026, 10, 26, 8, 30, tzinfo=timezone.utc), "en", "Monday, 26 October, at 9:30"),
])
def test_appointment_times_across_daylight_saving(utc_instant, language, expected):
    assert format_when(utc_instant, language, MADRID) == expected


def test_job_across_daylight_saving_weekend_picks_monday():
    # Run on the Friday before the clocks change: Monday's appointments.
    assert next_service_day(datetime(2026, 10, 23).date()).isoformat() == "2026-10-26"
    assert next_service_day(datetime(2026, 3, 27).date()).isoformat() == "2026-03-30"
