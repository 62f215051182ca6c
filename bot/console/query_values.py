"""Values that several console pages read from a query string the same
way, with limits that keep a mistyped or crafted value from reaching date
arithmetic or the database as something they cannot hold.

    FIRST_DAY, LAST_DAY   the days a page may be asked about
    within_bounds(day)
    query_day(text)       a day typed as YYYY-MM-DD, None when left empty
    page_number(text)     a page of a list, 1..MAX_PAGE, or None
    row_id(text)          a database id, 1..MAX_ROW_ID, or None
"""
from __future__ import annotations

from datetime import date
from typing import Optional

# Further off is a typing mistake; and a range ending on 9999-12-31 could
# not be turned into "midnight after its last day".
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
MAX_PAGE = 100_000
MAX_ROW_ID = 2 ** 63 - 1          # SQL's BIGINT, SQLite's INTEGER


def within_bounds(day: date) -> bool:
    return FIRST_DAY <= day <= LAST_DAY


class DayOutOfRange(ValueError):
    """A real date, but outside FIRST_DAY..LAST_DAY."""


def query_day(text: Optional[str]) -> Optional[date]:
    """The day of a date field (YYYY-MM-DD), None when it was left empty.
    ValueError when it is not a date, DayOutOfRange (a ValueError too, so
    catch it first) when it is one no page can be asked about."""
    text = (text or "").strip()
    if not text:
        return None
    day = date.fromisoformat(text)
    if not within_bounds(day):
        raise DayOutOfRange(text)
    return day


def _ascii_number(text: Optional[str], maximum: int) -> Optional[int]:
    # str.isdigit() is true of "²" and "٣": only 0-9 is a number here, and
    # no more digits than the maximum has (int() refuses 4,300 and more).
    text = (text or "").strip()
    if not text or not text.isascii() or not text.isdigit() or len(text) > len(str(maximum)):
        return None
    value = int(text)
    return value if 1 <= value <= maximum else None


def page_number(text: Optional[str]) -> Optional[int]:
    """The page of a list asked for; None unless it is 1..MAX_PAGE."""
    return _ascii_number(text, MAX_PAGE)


def row_id(text: Optional[str]) -> Optional[int]:
    """A database row id as typed in a link; None unless it is 1..MAX_ROW_ID."""
    return _ascii_number(text, MAX_ROW_ID)
