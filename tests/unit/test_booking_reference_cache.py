"""The action server's cache of offices and procedures
(bot/booking/reference_cache.py): a second read within the TTL costs no call
to the booking system, a change is seen once the TTL is over, failures are
never kept, and appointments always come from the booking system."""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timezone
from typing import Dict, List

import pytest

from bot.booking import (
    BOOKED,
    CONFIRMED,
    Appointment,
    AppointmentNotFound,
    BookingRefused,
    BookingSystem,
    BookingUnavailable,
    Office,
    Procedure,
)
from bot.booking.reference_cache import ReferenceDataCache
from bot.foundation.settings import Settings

TTL = 300


def office(office_id: str, phone: str = "972 00 00 00") -> Office:
    return Office(id=office_id, name=f"OAC {office_id}", address="Plaça Major 1",
                  map_url="https://maps.example/1", phone=phone)


class CountingBooking(BookingSystem):
    """A booking system that counts every call it answers (or fails)."""

    def __init__(self):
        self.calls: Counter = Counter()
        self.offices: Dict[str, Office] = {"oac": office("oac")}
        self.procedures = {"padro": Procedure(id="padro", names={"ca": "Padró"},
                                              documents_url="https://docs.example/padro")}
        self.down = False
        self.status = BOOKED
        self.closed = False

    def _call(self, name: str) -> None:
        self.calls[name] += 1
        if self.down:
            raise BookingUnavailable("down")

    async def list_offices(self) -> List[Office]:
        self._call("list_offices")
        return list(self.offices.values())

    async def get_office(self, office_id: str) -> Office:
        self._call("get_office")
        if office_id not in self.offices:
            raise AppointmentNotFound(office_id)
        return self.offices[office_id]

    async def get_procedure(self, procedure_id: str) -> Procedure:
        self._call("get_procedure")
        return self.procedures[procedure_id]

    async def list_appointments(self, day: date, office_id: str) -> List[Appointment]:
        self._call("list_appointments")
        return []

    async def upcoming_appointments(self, phone_e164: str, from_day: date) -> List[Appointment]:
        self._call("upcoming_appointments")
        return []

    async def get_appointment(self, appointment_id: str) -> Appointment:
        self._call("get_appointment")
        return Appointment(id=appointment_id, office_id="oac", procedure_id="padro",
                           starts_at=datetime(2026, 3, 2, 9, tzinfo=timezone.utc), citizen_name="Anna",
                           phone="+34600000001", language="ca", status=self.status)

    async def confirm(self, appointment_id: str) -> Appointment:
        self._call("confirm")
        self.status = CONFIRMED
        return await self.get_appointment(appointment_id)

    async def cancel(self, appointment_id: str) -> Appointment:
        raise NotImplementedError

    async def record_attendance(self, appointment_id: str, attended: bool) -> Appointment:
        raise NotImplementedError

    async def booking_link(self, language: str) -> str:
        self._call("booking_link")
        return f"https://cita.example/{language}"

    async def close(self) -> None:
        self.closed = True


@pytest.fixture
def booking() -> CountingBooking:
    return CountingBooking()


async def test_a_second_read_within_the_ttl_asks_nothing(booking, clock):
    cache = ReferenceDataCache(booking, ttl=TTL)
    first = await cache.get_office("oac")
    clock.advance(seconds=TTL - 1)
    assert await cache.get_office("oac") == first
    assert await cache.get_procedure("padro") == await cache.get_procedure("padro")
    assert booking.calls == {"get_office": 1, "get_procedure": 1}


async def test_a_changed_office_is_seen_once_the_ttl_is_over(booking, clock):
    cache = ReferenceDataCache(booking, ttl=TTL)
    await cache.get_office("oac")
    booking.offices["oac"] = office("oac", phone="972 11 11 11")
    assert (await cache.get_office("oac")).phone == "972 00 00 00"
    clock.advance(seconds=TTL)
    assert (await cache.get_office("oac")).phone == "972 11 11 11"
    assert booking.calls["get_office"] == 2


async def test_a_clock_set_back_does_not_keep_an_entry_forever(booking, clock):
    cache = ReferenceDataCache(booking, ttl=TTL)
    await cache.get_office("oac")
    clock.advance(hours=-1)
    await cache.get_office("oac")
    assert booking.calls["get_office"] == 2


async def test_a_failure_is_not_kept(booking, clock):
    cache = ReferenceDataCache(booking, ttl=TTL)
    booking.down = True
    with pytest.raises(BookingUnavailable):
        await cache.get_office("oac")
    booking.down = False
    assert await cache.get_office("oac") == booking.offices["oac"]
    with pytest.raises(AppointmentNotFound):
        await cache.get_office("gone")
    booking.offices["gone"] = office("gone")
    assert (await cache.get_office("gone")).id == "gone"
    assert booking.calls["get_office"] == 4


async def test_appointments_and_everything_else_always_ask(booking, clock):
    cache = ReferenceDataCache(booking, ttl=TTL)
    assert (await cache.get_appointment("a1")).status == BOOKED
    assert (await cache.confirm("a1")).status == CONFIRMED
    assert (await cache.get_appointment("a1")).status == CONFIRMED
    await cache.list_offices()
    await cache.list_offices()
    await cache.upcoming_appointments("+34600000001", date(2026, 3, 2))
    await cache.list_appointments(date(2026, 3, 2), "oac")
    assert booking.calls == {"get_appointment": 3, "confirm": 1, "list_offices": 2,
                             "upcoming_appointments": 1, "list_appointments": 1}
    await cache.close()
    assert booking.closed


async def test_the_booking_link_is_kept_per_language(booking, clock):
    cache = ReferenceDataCache(booking, ttl=TTL)
    assert await cache.booking_link("es") == "https://cita.example/es"
    assert await cache.booking_link("es") == "https://cita.example/es"
    assert await cache.booking_link("ca") == "https://cita.example/ca"
    assert booking.calls["booking_link"] == 2


async def test_waiting_lists_stay_those_of_the_booking_system(booking):
    # CountingBooking has none: the wrapped system's own refusal comes through.
    cache = ReferenceDataCache(booking, ttl=TTL)
    with pytest.raises(BookingRefused, match="CountingBooking has no waiting lists"):
        await cache.waiting_list("oac", "padro")


async def test_ttl_zero_asks_every_time(booking, clock):
    cache = ReferenceDataCache(booking, ttl=0)
    for _ in range(3):
        await cache.get_office("oac")
        await cache.get_procedure("padro")
    assert booking.calls == {"get_office": 3, "get_procedure": 3}


async def test_many_ids_keep_at_most_the_bound(booking, clock):
    for n in range(10):
        booking.offices[f"o{n}"] = office(f"o{n}")
    cache = ReferenceDataCache(booking, ttl=TTL, max_entries=3)
    for n in range(10):
        await cache.get_office(f"o{n}")
    assert len(cache._entries) == 3
    # The latest ones are kept; the first was dropped and is asked again.
    await cache.get_office("o9")
    assert booking.calls["get_office"] == 10
    await cache.get_office("o0")
    assert booking.calls["get_office"] == 11


def test_the_ttl_is_a_setting(monkeypatch):
    monkeypatch.delenv("RECORDA_BOOKING_REFERENCE_TTL", raising=False)
    assert Settings.from_env().booking_reference_ttl == 300
    monkeypatch.setenv("RECORDA_BOOKING_REFERENCE_TTL", "0")
    assert Settings.from_env().booking_reference_ttl == 0


@pytest.fixture
def action_server_booking(booking, monkeypatch):
    """The actions' Services, built on the counting booking system."""
    import actions.context
    monkeypatch.setattr(actions.context, "booking_system_from_settings", lambda settings: booking)
    actions.context.Services.reset()
    yield actions.context.Services
    actions.context.Services.reset()


async def test_the_action_server_reads_an_office_once_per_ttl(action_server_booking, booking, monkeypatch,
                                                              clock):
    monkeypatch.delenv("RECORDA_BOOKING_REFERENCE_TTL", raising=False)
    await action_server_booking.booking().get_office("oac")
    await action_server_booking.booking().get_office("oac")
    assert booking.calls == {"get_office": 1}


async def test_the_action_server_asks_every_time_with_ttl_zero(action_server_booking, booking, monkeypatch,
                                                               clock):
    monkeypatch.setenv("RECORDA_BOOKING_REFERENCE_TTL", "0")
    await action_server_booking.booking().get_office("oac")
    await action_server_booking.booking().get_office("oac")
    assert booking.calls == {"get_office": 2}
