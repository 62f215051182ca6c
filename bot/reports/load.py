"""Reads what the figures need: the period's reminders with their history
from the reminder store, the period's appointments from the booking
system, the setup of the reminders' offices (offices.yml and the
variants retired from the console), and the period's freed slots with
their offers to the waiting list (the offer store)."""
from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Dict, Iterable, Iterator, List, Optional, Sequence

from bot.booking import Appointment, BookingSystem
from bot.offers.store import OfferStore
from bot.offices.service_days import is_service_day
from bot.offices.settings import OfficeSettingsError, for_office
from bot.reminders.store import ReminderStore
from bot.reminders.variant_choice import VariantRetirements
from bot.reports.freed_slot_figures import FreedSlotHistory
from bot.reports.office_setup import OfficeSetup
from bot.reports.reminder_history import DETAILS_ONLY_MENTIONING, DETAILS_USED, EVENTS_USED, ReminderHistory

log = logging.getLogger(__name__)


def load_histories(store: ReminderStore, first_day: date, last_day: date,
                   office_id: Optional[str] = None) -> List[ReminderHistory]:
    """The reminders of the service days first_day..last_day with the events
    the figures read (only those, and only the details they read: the rest
    is most of a busy store's rows and of the time to read them)."""
    with collector_paused():
        events = store.histories_between(first_day, last_day, office_id, events=EVENTS_USED,
                                         details=DETAILS_USED, details_mentioning=DETAILS_ONLY_MENTIONING)
        return [ReminderHistory(reminder, events.get(reminder.id, []))
                for reminder in store.between(first_day, last_day, office_id)]


def load_office_setups(db_url: str, office_ids: Iterable[Optional[str]]) -> Dict[str, OfficeSetup]:
    """The setup of each office (None and "" are left out): its settings
    from offices.yml and the variants of its experiment still given. An
    office whose settings cannot be read gets Recorda's built-in ones, with
    a warning: the figures still show what the store holds."""
    setups: Dict[str, OfficeSetup] = {}
    retirements: Optional[VariantRetirements] = None
    for office_id in sorted({office for office in office_ids if office}):
        try:
            settings = for_office(office_id)
        except OfficeSettingsError as exc:
            log.warning("Figures: office %s with built-in settings: %s", office_id, exc)
            setups[office_id] = OfficeSetup()
            continue
        active: Sequence[str] = ()
        if settings.experiment is not None:
            retirements = retirements or VariantRetirements(db_url)
            active = retirements.active(office_id, settings.experiment)
        setups[office_id] = OfficeSetup(settings, tuple(active))
    return setups


def load_freed_slots(db_url: str, first_day: date, last_day: date, timezone: tzinfo,
                     office_id: Optional[str] = None) -> FreedSlotHistory:
    """The freed slots whose appointment starts on a local day (in
    `timezone`) from first_day to last_day, of one office or (None) of all,
    with every offer made of each."""
    store = OfferStore(db_url)
    start = datetime.combine(first_day, time(), timezone)
    end = datetime.combine(last_day + timedelta(days=1), time(), timezone)
    slots = tuple(slot for slot in store.slots_starting_between(start, end)
                  if office_id is None or slot.office_id == office_id)
    return FreedSlotHistory(slots, store.offers_of_slots([slot.id for slot in slots]))


# Python's cycle collector scans every live object each time enough new ones
# have survived since its last scan. A month of a large town is ~100,000
# objects that all survive the read, so reading them scanned the web
# process's whole heap five times: 40 % of the read (bench/console_pages).
# None of them is in a cycle: reference counting frees them all once the
# figures are computed. While the collector is paused it does not scan them
# at all; objects freed before it resumes are never scanned.
_pause_lock = threading.Lock()
_pauses = 0
_collector_was_on = False


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pauses the cycle collector while bulk data is read and used. Pauses
    may overlap (two readers, two threads): the collector resumes when the
    last one ends, if it ran before the first began."""
    global _pauses, _collector_was_on
    with _pause_lock:
        if _pauses == 0:
            _collector_was_on = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0 and _collector_was_on:
                gc.enable()


def service_days(first_day: date, last_day: date, holidays: Iterable[date] = ()) -> List[date]:
    closed = set(holidays)
    days = (first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1))
    return [day for day in days if is_service_day(day, closed)]


async def load_appointments(booking: BookingSystem, days: Sequence[date],
                            office_ids: Sequence[str], concurrency: int = 20) -> List[Appointment]:
    """Every appointment of those offices on those days, in every status; at
    most `concurrency` requests at a time (a year of three offices is 750)."""
    limit = asyncio.Semaphore(concurrency)

    async def one(day: date, office_id: str) -> List[Appointment]:
        async with limit:
            return await booking.list_appointments(day, office_id)
    batches = await asyncio.gather(*(one(day, office_id) for day in days for office_id in office_ids))
    return [appointment for batch in batches for appointment in batch]


async def offices_to_report(booking: BookingSystem, office_id: Optional[str],
                            configured: Sequence[str] = ()) -> List[str]:
    """The office asked for; else the offices this deployment serves
    (RECORDA_OFFICES); else every office of the booking system."""
    if office_id:
        return [office_id]
    return list(configured) or [office.id for office in await booking.list_offices()]
