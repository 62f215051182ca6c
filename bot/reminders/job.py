"""The daily reminder job: for each office and each of its touches
(offices.yml; by default one, the service day before), the appointments
of the service day that touch is for get their WhatsApp reminder through the
assistant. A later touch goes only to those who have not answered; an answer
to any touch closes the appointment's reminders. Nothing is sent to an
office in its quiet hours.

Safe to re-run and to kill at any point: every appointment's reminder is a
row in the reminder store, which a later touch re-arms; the job only
triggers reminders `scheduled` for the touch it runs, and the connector's
atomic claim lets exactly one send happen.
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
from datetime import date, datetime, timedelta
from typing import Awaitable, Callable, Dict, Iterable, List, Optional, Tuple

import aiohttp

from bot.booking import Appointment, BookingSystem
from bot.foundation import clock
from bot.foundation.aio import in_thread
from bot.foundation.phone import check_for_whatsapp
from bot.foundation.settings import Settings
from bot.messaging.rasa_client import RasaUnavailable, rasa_session, trigger_intent
from bot.offices.service_days import service_days_after
from bot.offices.settings import Touch, all_touches, for_office
from bot.reminders import states
from bot.reminders.interrupted_sends import Recovery, recover_interrupted_sends
from bot.reminders.store import REARMABLE, ReminderStore
from bot.reminders.variant_choice import VariantRetirements, choose_variant

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
    touch: Optional[str] = None  # None: each office's last touch (the day before)
    sent: int = 0
    already_done: int = 0
    answered_earlier: int = 0  # answered an earlier touch: this one is not sent
    not_active: int = 0
    quiet_hours: int = 0  # held: their office was in its quiet hours
    held_offices: List[str] = field(default_factory=list)
    failed: Counter = field(default_factory=Counter)
    planned: List[PlannedReminder] = field(default_factory=list)
    # Sends an earlier run left unfinished (a process killed mid-send), settled before planning.
    interrupted: Recovery = field(default_factory=Recovery)

    @property
    def total(self) -> int:
        return (self.sent + self.already_done + self.answered_earlier + self.not_active + self.quiet_hours
                + sum(self.failed.values()))


# (conversation id, appointment) -> None; raises RasaUnavailable
Trigger = Callable[[str, Appointment], Awaitable[None]]


def plan(store: ReminderStore, appointments: Iterable[Appointment], service_day: date,
         region: str, dry_run: bool, summary: JobSummary,
         retirements: Optional[VariantRetirements] = None) -> List[PlannedReminder]:
    """Decides, per appointment, whether a reminder is to be sent now for
    the summary's touch (each office's last one when it names none)."""
    to_send = []
    active_variants: Dict[str, List[str]] = {}
    for appointment in appointments:
        if not appointment.is_active:
            summary.not_active += 1
            continue
        office = for_office(appointment.office_id)
        touch = office.touch(summary.touch)
        existing = store.get(appointment.id)
        if existing is not None and not _due_for(existing, touch, office.touches, summary):
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
            if appointment.office_id not in active_variants:  # read once per office and run
                active_variants[appointment.office_id] = retirements.active(
                    appointment.office_id, office.experiment) if retirements is not None and office.experiment else []
            active = active_variants[appointment.office_id]
            variant = choose_variant(appointment.id, appointment.office_id, office.experiment, active,
                                     existing.variant if existing else None)
            if existing is None:
                store.schedule(appointment.id, service_day, appointment.office_id, check.e164,
                               appointment.language, touch=touch.name, variant=variant)
            elif existing.touch not in (touch.name, None) and not store.rearm_for_touch(
                    appointment.id, touch.name, _earlier(touch, office.touches), variant=variant):
                summary.already_done += 1  # another run moved it meanwhile
                continue
        to_send.append(PlannedReminder(appointment, check.e164))
    return to_send


def _earlier(touch: Touch, touches: Tuple[Touch, ...]) -> List[str]:
    names = [t.name for t in touches]
    return names[:names.index(touch.name)] if touch.name in names else []


def _due_for(existing, touch: Touch, touches: Tuple[Touch, ...], summary: JobSummary) -> bool:
    """Whether an appointment that has a reminder gets `touch` now; counts it
    in the summary when not."""
    if existing.state in states.ANSWERS:
        # Answered (this touch or an earlier one): nothing more to ask.
        if existing.touch == touch.name:
            summary.already_done += 1
        else:
            summary.answered_earlier += 1
        return False
    if existing.state == states.SCHEDULED and existing.touch in (touch.name, None):
        return True  # scheduled by an earlier run of this touch that did not send it
    if existing.touch in _earlier(touch, touches) and existing.state in REARMABLE:
        return True
    summary.already_done += 1
    return False


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


def _outside_quiet_hours(appointments: List[Appointment], now: datetime,
                         summary: JobSummary) -> List[Appointment]:
    """The appointments whose office may be written to at `now` (local);
    the others are counted as held and left for a later run."""
    allowed = []
    for appointment in appointments:
        quiet = for_office(appointment.office_id).quiet_hours
        if quiet is not None and quiet.contains(now.time()):
            summary.quiet_hours += 1
            if appointment.office_id not in summary.held_offices:
                summary.held_offices.append(appointment.office_id)
            continue
        allowed.append(appointment)
    return allowed


async def run_job(settings: Settings, booking: BookingSystem, service_day: date,
                  office_ids: Optional[Iterable[str]] = None, dry_run: bool = False,
                  rate: float = 80.0, concurrency: int = 16, trigger: Optional[Trigger] = None,
                  progress: Optional[Callable[[int], Callable[[], None]]] = None,
                  touch: Optional[str] = None, now: Optional[datetime] = None) -> JobSummary:
    """One run for one service day and one touch (default: each office's
    last). `progress(total)` returns a tick callback; `now` (default the
    clock's, local) decides the quiet hours."""
    store = ReminderStore(settings.db_url)
    summary = JobSummary(service_day, touch)
    if not dry_run:
        summary.interrupted = await in_thread(recover_interrupted_sends, store,
                                              timedelta(seconds=settings.interrupted_send_seconds))
    appointments = await gather_appointments(booking, service_day, office_ids)
    appointments = _outside_quiet_hours(appointments, now or clock.now(settings.timezone), summary)
    retirements = VariantRetirements(settings.db_url)
    planned = await in_thread(
        plan, store, appointments, service_day, settings.default_region, dry_run, summary, retirements)
    summary.planned = planned
    if dry_run or not planned:
        return summary
    tick = progress(len(planned)) if progress else (lambda: None)
    if trigger is not None:
        await send_all(store, planned, trigger, rate, concurrency, summary, tick)
        return summary
    async with rasa_session(limit=concurrency) as session:
        await send_all(store, planned, rasa_trigger(session, settings), rate, concurrency, summary, tick)
    return summary


def touches_due(today: date, office_ids: List[str], holidays: Iterable[date] = (),
                sending_offices: Optional[Callable[[List[str]], List[str]]] = None
                ) -> List[Tuple[Touch, date, List[str]]]:
    """What a run on `today` sends: each touch of these offices with the
    service day it is for (its `days_before`-th service day after today) and
    the offices that send it, earliest touch first. `sending_offices` keeps
    only the offices whose sending hour has come (the hourly timer)."""
    due = []
    closed = list(holidays)
    for touch, offices in all_touches(office_ids):
        if sending_offices is not None:
            offices = sending_offices(offices)
        if offices:
            due.append((touch, service_days_after(today, touch.days_before, closed)[-1], offices))
    return due


async def run_touches(settings: Settings, booking: BookingSystem, today: date,
                      office_ids: Optional[Iterable[str]] = None, now: Optional[datetime] = None,
                      only_due_offices: bool = False, **options) -> List[JobSummary]:
    """Every touch due on `today`, one run_job each. With `only_due_offices`
    an office is sent to only once its sending hour (offices.yml `send_at`)
    has come, so an hourly timer sends each office at its own hour."""
    now = now or clock.now(settings.timezone)
    ids = list(office_ids or [o.id for o in await booking.list_offices()])

    def at_their_hour(offices: List[str]) -> List[str]:
        return [o for o in offices if for_office(o).send_at <= now.time()]

    summaries = []
    for touch, service_day, offices in touches_due(today, ids, settings.holidays,
                                                   at_their_hour if only_due_offices else None):
        summaries.append(await run_job(settings, booking, service_day, offices, touch=touch.name,
                                       now=now, **options))
    return summaries

