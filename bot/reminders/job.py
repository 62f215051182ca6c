"""The daily reminder job: for each office, the appointments of the next
service day get their WhatsApp reminder through the assistant.

Safe to re-run and to kill at any point: every appointment's reminder is a
row in the reminder store; the job only triggers reminders still
`scheduled`, and the connector's atomic claim lets exactly one send happen.
A send a killed process left half done is settled from the provider's own
statuses before planning (bot/reminders/interrupted_sends.py).
Numbers are checked first: a landline or an invalid number is recorded as
failed with that reason and nothing is sent.
"""
from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Awaitable, Callable, Iterable, List, Optional

import aiohttp

from bot.booking import Appointment, BookingSystem
from bot.foundation.aio import in_thread
from bot.foundation.phone import check_for_whatsapp
from bot.foundation.settings import Settings
from bot.messaging.rasa_client import RasaUnavailable, trigger_intent
from bot.reminders import states
from bot.reminders.interrupted_sends import Recovery, recover_interrupted_sends
from bot.reminders.store import ReminderStore

log = logging.getLogger(__name__)

REMINDER_INTENT = "EXTERNAL_appointment_reminder"
NOT_SENT_BY_ASSISTANT = "not_sent_by_assistant"
ASSISTANT_UNAVAILABLE = "assistant_unavailable"


class RateLimiter:
    """At most `rate` starts per second, evenly spaced."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = asyncio.get_running_loop().time()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


@dataclass
class PlannedReminder:
    appointment: Appointment
    phone: str


@dataclass
class JobSummary:
    service_day: date
    sent: int = 0
    already_done: int = 0
    not_active: int = 0
    failed: Counter = field(default_factory=Counter)
    planned: List[PlannedReminder] = field(default_factory=list)
    # Sends an earlier run left unfinished (a process killed mid-send), settled before planning.
    interrupted: Recovery = field(default_factory=Recovery)

    @property
    def total(self) -> int:
        return self.sent + self.already_done + self.not_active + sum(self.failed.values())


# (conversation id, appointment) -> None; raises RasaUnavailable
Trigger = Callable[[str, Appointment], Awaitable[None]]


def plan(store: ReminderStore, appointments: Iterable[Appointment], service_day: date,
         region: str, dry_run: bool, summary: JobSummary) -> List[PlannedReminder]:
    """Decides, per appointment, whether a reminder is to be sent now."""
    to_send = []
    for appointment in appointments:
        if not appointment.is_active:
            summary.not_active += 1
            continue
        existing = store.get(appointment.id)
        if existing is not None and existing.state != states.SCHEDULED:
            summary.already_done += 1
            continue
        check = check_for_whatsapp(appointment.phone, region)
        if check.problem is not None:
            if not dry_run:
                store.record_unsendable(appointment.id, service_day, appointment.office_id,
                                        check.e164 or appointment.phone or None,
                                        appointment.language, check.problem)
            summary.failed[check.problem] += 1
            continue
        assert check.e164 is not None  # a usable number always has its E.164 form
        if not dry_run:
            store.schedule(appointment.id, service_day, appointment.office_id, check.e164,
                           appointment.language)
        to_send.append(PlannedReminder(appointment, check.e164))
    return to_send


async def gather_appointments(booking: BookingSystem, service_day: date,
                              office_ids: Optional[Iterable[str]]) -> List[Appointment]:
    ids = list(office_ids or [o.id for o in await booking.list_offices()])
    found: List[Appointment] = []
    for office_id in ids:
        found.extend(await booking.list_appointments(service_day, office_id))
    return found


async def send_all(store: ReminderStore, planned: List[PlannedReminder], trigger: Trigger,
                   rate: float, concurrency: int, summary: JobSummary,
                   on_done: Callable[[], None] = lambda: None) -> None:
    limiter = RateLimiter(rate)
    gate = asyncio.Semaphore(concurrency)

    async def one(item: PlannedReminder) -> None:
        async with gate:
            await limiter.wait()
            try:
                await trigger(item.phone, item.appointment)
            except RasaUnavailable as exc:
                # Left `scheduled`: a re-run sends it.
                log.error("Assistant unavailable for %s: %s", item.appointment.id, exc)
                summary.failed[ASSISTANT_UNAVAILABLE] += 1
                on_done()
                return
            _count_outcome(store, item.appointment.id, summary)
            on_done()

    await asyncio.gather(*(one(item) for item in planned))


def _count_outcome(store: ReminderStore, appointment_id: str, summary: JobSummary) -> None:
    reminder = store.get(appointment_id)
    if reminder is None or reminder.state == states.SCHEDULED:
        # The assistant declined (not the sender's, no longer active...).
        store.mark_failed(appointment_id, NOT_SENT_BY_ASSISTANT, source="job")
        summary.failed[NOT_SENT_BY_ASSISTANT] += 1
    elif reminder.state == states.FAILED:
        summary.failed[reminder.reason or "provider_error"] += 1
    else:
        summary.sent += 1


def rasa_trigger(session: aiohttp.ClientSession, settings: Settings) -> Trigger:
    async def trigger(phone: str, appointment: Appointment) -> None:
        await trigger_intent(session, settings.rasa_url, settings.rasa_token, phone, REMINDER_INTENT,
                             {"appointment_id": appointment.id, "language": appointment.language},
                             settings.whatsapp_channel)
    return trigger


async def run_job(settings: Settings, booking: BookingSystem, service_day: date,
                  office_ids: Optional[Iterable[str]] = None, dry_run: bool = False,
                  rate: float = 80.0, concurrency: int = 16, trigger: Optional[Trigger] = None,
                  progress: Optional[Callable[[int], Callable[[], None]]] = None) -> JobSummary:
    """One run for one service day. `progress(total)` returns a tick callback."""
    store = ReminderStore(settings.db_url)
    summary = JobSummary(service_day)
    if not dry_run:
        summary.interrupted = await in_thread(recover_interrupted_sends, store,
                                              timedelta(seconds=settings.interrupted_send_seconds))
    appointments = await gather_appointments(booking, service_day, office_ids)
    planned = await in_thread(
        plan, store, appointments, service_day, settings.default_region, dry_run, summary)
    summary.planned = planned
    if dry_run or not planned:
        return summary
    tick = progress(len(planned)) if progress else (lambda: None)
    if trigger is not None:
        await send_all(store, planned, trigger, rate, concurrency, summary, tick)
        return summary
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await send_all(store, planned, rasa_trigger(session, settings), rate, concurrency, summary, tick)
    return summary
