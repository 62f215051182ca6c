"""A read-through cache of offices, procedures and the booking page's link,
for the action server.

They change rarely, yet every reminder and every answer reads them (a
cancellation gives the booking link): each read is an HTTP round trip that costs CPU in the action
server and in the booking system. `ReferenceDataCache` answers them from
memory for `ttl` seconds after a successful answer, so a change to an office
(its address, its phone) reaches the assistant within the TTL
(RECORDA_BOOKING_REFERENCE_TTL). Everything else, appointments above all,
always goes to the booking system. Errors are never kept: the next call asks
again.

Two first requests for the same id at once may both ask the booking system;
that costs one extra call and keeps the cache free of shared in-flight state.
"""
from __future__ import annotations

from collections import OrderedDict
from datetime import date, datetime, timedelta
from typing import Awaitable, Callable, List, Optional, Tuple, TypeVar, cast

from bot.booking import Appointment, BookingSystem, Office, Procedure, WaitingListEntry
from bot.foundation import clock

DEFAULT_TTL_SECONDS = 300.0
# Offices and procedures of one town number in the tens: the bound only
# keeps a stream of distinct ids from growing the process's memory.
DEFAULT_MAX_ENTRIES = 2000

T = TypeVar("T", Office, Procedure, str)
_Key = Tuple[str, str]  # (kind, id)


class ReferenceDataCache(BookingSystem):
    """`system`, with get_office and get_procedure kept for `ttl` seconds
    (0 or less: not kept at all). Per process, not shared between processes."""

    def __init__(self, system: BookingSystem, ttl: float = DEFAULT_TTL_SECONDS,
                 max_entries: int = DEFAULT_MAX_ENTRIES):
        self._system = system
        self._ttl = timedelta(seconds=max(ttl, 0.0))
        self._max_entries = max_entries
        # key -> (when answered, answer); oldest answer first, for eviction.
        self._entries: "OrderedDict[_Key, Tuple[datetime, object]]" = OrderedDict()

    async def get_office(self, office_id: str) -> Office:
        return await self._read(("office", office_id), self._system.get_office)

    async def get_procedure(self, procedure_id: str) -> Procedure:
        return await self._read(("procedure", procedure_id), self._system.get_procedure)

    async def booking_link(self, language: str) -> str:
        # The public booking page, given with every cancellation and change.
        return await self._read(("booking_link", language), self._system.booking_link)

    async def _read(self, key: _Key, fetch: Callable[[str], Awaitable[T]]) -> T:
        if not self._ttl:
            return await fetch(key[1])
        cached = self._entries.get(key)
        now = clock.utc_now()
        # A clock set back (tests, an NTP step) makes an entry stale, never immortal.
        if cached is not None and cached[0] <= now < cached[0] + self._ttl:
            return cast(T, cached[1])
        value = await fetch(key[1])  # an error propagates, and nothing is kept
        self._store(key, clock.utc_now(), value)
        return value

    def _store(self, key: _Key, at: datetime, value: object) -> None:
        self._entries.pop(key, None)
        self._entries[key] = (at, value)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    # --- everything else: straight to the booking system ---

    async def list_offices(self) -> List[Office]:
        return await self._system.list_offices()

    async def list_appointments(self, day: date, office_id: str) -> List[Appointment]:
        return await self._system.list_appointments(day, office_id)

    async def upcoming_appointments(self, phone_e164: str, from_day: date) -> List[Appointment]:
        return await self._system.upcoming_appointments(phone_e164, from_day)

    async def get_appointment(self, appointment_id: str) -> Appointment:
        return await self._system.get_appointment(appointment_id)

    async def confirm(self, appointment_id: str) -> Appointment:
        return await self._system.confirm(appointment_id)

    async def cancel(self, appointment_id: str) -> Appointment:
        return await self._system.cancel(appointment_id)

    async def record_attendance(self, appointment_id: str, attended: bool) -> Appointment:
        return await self._system.record_attendance(appointment_id, attended)


    async def waiting_list(self, office_id: str, procedure_id: str) -> List[WaitingListEntry]:
        return await self._system.waiting_list(office_id, procedure_id)

    async def join_waiting_list(self, office_id: str, procedure_id: str, citizen_name: str,
                                phone: str, language: str) -> WaitingListEntry:
        return await self._system.join_waiting_list(office_id, procedure_id, citizen_name, phone, language)

    async def leave_waiting_list(self, entry_id: str) -> None:
        await self._system.leave_waiting_list(entry_id)

    async def book_slot(self, office_id: str, procedure_id: str, starts_at: datetime,
                        entry_id: str, freed_appointment_id: Optional[str] = None) -> Appointment:
        return await self._system.book_slot(office_id, procedure_id, starts_at, entry_id,
                                            freed_appointment_id)

    async def close(self) -> None:
        await self._system.close()
