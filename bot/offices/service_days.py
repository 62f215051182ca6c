"""Service days: the weekdays the offices open, less public holidays."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Iterable, List


def is_service_day(day: date, holidays: Iterable[date] = ()) -> bool:
    return day.weekday() < 5 and day not in set(holidays)


def next_service_day(day: date, holidays: Iterable[date] = ()) -> date:
    """The first service day after `day` (on a Friday, usually Monday)."""
    closed = set(holidays)
    day += timedelta(days=1)
    while not is_service_day(day, closed):
        day += timedelta(days=1)
    return day


def previous_service_day(day: date, holidays: Iterable[date] = ()) -> date:
    closed = set(holidays)
    day -= timedelta(days=1)
    while not is_service_day(day, closed):
        day -= timedelta(days=1)
    return day


def service_days_after(day: date, count: int, holidays: Iterable[date] = ()) -> List[date]:
    days = []
    for _ in range(count):
        day = next_service_day(day, holidays)
        days.append(day)
    return days
