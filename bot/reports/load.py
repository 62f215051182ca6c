"""Reads what the figures need: the period's reminders with their history
from the reminder store, and the period's appointments from the booking
system."""
from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Iterable, List, Optional, Sequence

from bot.booking import Appointment, BookingSystem
from bot.reminders.store import ReminderStore
from bot.reports.figures import EVENTS_USED, ReminderHistory
from bot.service_days import is_service_day


def load_histories(store: ReminderStore, first_day: date, last_day: date,
                   office_id: Optional[str] = None) -> List[ReminderHistory]:
    """The reminders of the service days first_day..last_day with their events."""
    events = store.histories_between(first_day, last_day, office_id, events=EVENTS_USED)
    return [ReminderHistory(reminder, events.get(reminder.id, []))
            for reminder in store.between(first_day, last_day, office_id)]


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
