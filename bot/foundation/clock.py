"""The one clock Recorda reads "now" from.

Everything that decides by the time of day or the date (which appointments
are still upcoming, which service day is next, when a question expires)
asks this module, so that tests can set the time instead of depending on
the hour they happen to run at.

RECORDA_CLOCK shifts the clock of a whole stack of processes (the sandbox
booking service, the simulator, Rasa, the action server, the worker):

    RECORDA_CLOCK=2026-12-11T23:50:00+01:00

means the clock showed that moment when the process started and runs on
from there. The offset is required: the moment is unambiguous whatever the
process's time zone. A process that reads the variable pins it for the
processes it starts by rewriting it as `<moment>@<Unix time>` ("the clock
showed <moment> at that real Unix time"), so they all share one clock
instead of each restarting it at <moment>. scripts/test-at-times uses it.

Tests freeze the clock with set_source() (the `clock` fixture of
tests/conftest.py); reset() returns to the real clock, shifted as
RECORDA_CLOCK says; start_at() restarts that shifted clock at a moment
(scripts/test-at-times starts each test module at the chosen time).

What this clock cannot reach: the times Rasa stamps on tracker events and
the signatures of provider webhooks (connectors/) stay on the real clock.
So keep a shifted clock a few days ahead of the real one at most: the
console's default ranges (the last 7 days) would miss Rasa's conversations.
"""
from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Callable, Optional, overload

ENV = "RECORDA_CLOCK"


def _offset_from_env() -> timedelta:
    """How far RECORDA_CLOCK puts this process's clock from the real one."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return timedelta(0)
    moment_text, _, anchor = raw.partition("@")
    try:
        moment = datetime.fromisoformat(moment_text)
        real = float(anchor) if anchor else time.time()
    except ValueError:
        raise ValueError(f"{ENV}={raw!r}: expected an ISO date and time with its offset, "
                         "e.g. 2026-12-11T23:50:00+01:00") from None
    if moment.tzinfo is None:
        raise ValueError(f"{ENV}={raw!r}: the moment needs its UTC offset, e.g. +01:00")
    return _pin(moment, real)


def _pin(moment: datetime, real: float) -> timedelta:
    """The offset of a clock showing `moment` at Unix time `real`, written
    back anchored so that children started later do not restart it."""
    os.environ[ENV] = f"{moment.isoformat()}@{real:.6f}"
    return moment - datetime.fromtimestamp(real, timezone.utc)


_offset = _offset_from_env()


def _shifted() -> datetime:
    return datetime.now(timezone.utc) + _offset


_source: Callable[[], datetime] = _shifted


def now(tz: Optional[tzinfo] = None) -> datetime:
    """The current time, aware: in UTC, or in `tz` when given."""
    return _source().astimezone(tz or timezone.utc)


def set_source(source: Callable[[], datetime]) -> None:
    """Tests: make `now()` answer `source()` (an aware datetime)."""
    global _source
    _source = source


def reset() -> None:
    """Back to the real clock, shifted as RECORDA_CLOCK says."""
    set_source(_shifted)


def start_at(moment: datetime) -> None:
    """Restarts the shifted clock at `moment`, here and in the processes
    started from now on (RECORDA_CLOCK is rewritten for them)."""
    global _offset
    if moment.tzinfo is None:
        raise ValueError("start_at needs an aware moment")
    _offset = _pin(moment, time.time())


def utc_now() -> datetime:
    """Now in UTC: every store keeps its times in UTC."""
    return now(timezone.utc)


_NAIVE_EPOCH = datetime(1970, 1, 1)
_UTC_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@overload
def stored_utc(value: datetime) -> datetime: ...
@overload
def stored_utc(value: None) -> None: ...


def stored_utc(value: Optional[datetime]) -> Optional[datetime]:
    """A time read back from a store: SQLite keeps no offset and gives naive
    datetimes, stored in UTC; PostgreSQL gives them aware. The same datetime
    as value.replace(tzinfo=timezone.utc), by arithmetic, in a tenth of the
    time: the figures page reads ~130,000 times for a month of a large town
    (bench/console_pages)."""
    if value is None or value.tzinfo is not None:
        return value
    return _UTC_EPOCH + (value - _NAIVE_EPOCH)
