"""Is an office open now, until when, and when does it open next."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Iterable, List, Optional, Tuple

from bot.booking import Office, OpeningHours


def _t(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _periods_on(hours: Iterable[OpeningHours], day: datetime) -> List[Tuple[datetime, datetime]]:
    periods = []
    for h in hours:
        if h.weekday == day.weekday():
            opens = day.replace(hour=_t(h.opens).hour, minute=_t(h.opens).minute, second=0, microsecond=0)
            closes = day.replace(hour=_t(h.closes).hour, minute=_t(h.closes).minute, second=0, microsecond=0)
            periods.append((opens, closes))
    return sorted(periods)


def status_at(office: Office, now: datetime, holidays: Iterable = ()) -> Tuple[bool, Optional[datetime]]:
    """(True, closing time) when open at `now` (office-local, aware), else
    (False, next opening time or None when the office has no hours)."""
    closed_days = set(holidays)
    for offset in range(0, 15):
        day = now + timedelta(days=offset)
        if day.date() in closed_days:
            continue
        for opens, closes in _periods_on(office.opening_hours, day):
            if offset == 0 and opens <= now < closes:
                return True, closes
            if opens > now:
                return False, opens
    return False, None
