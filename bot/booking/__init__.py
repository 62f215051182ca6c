"""The booking-system interface: what Recorda needs from a city hall's
appointment ("cita prèvia") system, whatever adapter speaks to it.

Adapters implement `BookingSystem`; `bot.booking.rest.RestBookingSystem`
speaks the reference REST API described in `bot/booking/openapi.yaml`.

The waiting lists and `book_slot` are optional: a booking system without
them keeps the defaults, which refuse with the code "not_supported".
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Dict, List, Optional


class BookingError(Exception):
    """Base of every error a booking adapter raises."""


class AppointmentNotFound(BookingError):
    """No appointment (or office, procedure) with that id."""


class BookingRefused(BookingError):
    """The booking system understood and said no (e.g. cancel a past appointment)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class SlotTaken(BookingRefused):
    """book_slot: an active appointment of the office already starts at that
    time (someone else took the slot first)."""

    CODE = "slot_taken"

    def __init__(self, message: str = "the slot is no longer free"):
        super().__init__(self.CODE, message)


NOT_SUPPORTED = "not_supported"


class BookingUnavailable(BookingError):
    """The booking system could not be reached or failed (network, timeout, 5xx).
    The operation may be retried later."""


# Appointment statuses in the booking system.
BOOKED, CONFIRMED, CANCELLED, ATTENDED, NO_SHOW = "booked", "confirmed", "cancelled", "attended", "no_show"
ACTIVE_STATUSES = (BOOKED, CONFIRMED)


@dataclass(frozen=True)
class OpeningHours:
    weekday: int  # 0 = Monday, as datetime.weekday()
    opens: str    # "09:00", office local time
    closes: str   # "14:00"


@dataclass(frozen=True)
class Office:
    id: str
    name: str
    address: str
    map_url: str
    phone: str
    opening_hours: List[OpeningHours] = field(default_factory=list)
    late_policy_minutes: int = 10

    @classmethod
    def from_dict(cls, d: dict) -> "Office":
        return cls(
            id=str(d["id"]), name=d["name"], address=d["address"], map_url=d["map_url"],
            phone=d.get("phone", ""),
            opening_hours=[OpeningHours(int(h["weekday"]), h["opens"], h["closes"])
                           for h in d.get("opening_hours", [])],
            late_policy_minutes=int(d.get("late_policy_minutes", 10)),
        )


@dataclass(frozen=True)
class Procedure:
    id: str
    names: Dict[str, str]  # language -> name
    documents_url: str

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names.get("ca") or next(iter(self.names.values()))

    @classmethod
    def from_dict(cls, d: dict) -> "Procedure":
        return cls(id=str(d["id"]), names=dict(d["name"]), documents_url=d["documents_url"])


@dataclass(frozen=True)
class Appointment:
    id: str
    office_id: str
    procedure_id: str
    starts_at: datetime  # timezone-aware
    citizen_name: str
    phone: str           # as the booking system stores it; normalise with bot.foundation.phone
    language: str        # "ca" | "es" | "en"
    status: str
    duration_minutes: int = 15
    confirmed_at: Optional[datetime] = None
    cancelled_at: Optional[datetime] = None

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @classmethod
    def from_dict(cls, d: dict) -> "Appointment":
        def ts(v):
            return datetime.fromisoformat(v) if v else None
        return cls(
            id=str(d["id"]), office_id=str(d["office_id"]), procedure_id=str(d["procedure_id"]),
            starts_at=datetime.fromisoformat(d["starts_at"]), citizen_name=d.get("citizen_name", ""),
            phone=d.get("phone") or "", language=d.get("language") or "ca", status=d["status"],
            duration_minutes=int(d.get("duration_minutes", 15)),
            confirmed_at=ts(d.get("confirmed_at")), cancelled_at=ts(d.get("cancelled_at")),
        )


@dataclass(frozen=True)
class WaitingListEntry:
    """A citizen waiting for a free slot of one procedure at one office."""
    id: str
    office_id: str
    procedure_id: str
    citizen_name: str
    phone: str           # as given when joining; entries are matched on its E.164 form
    language: str        # "ca" | "es" | "en"
    created_at: datetime  # timezone-aware: when they joined
    position: int        # 1 = next in line, when the booking system answered

    @classmethod
    def from_dict(cls, d: dict) -> "WaitingListEntry":
        created_at = datetime.fromisoformat(d["created_at"])
        if created_at.tzinfo is None:
            raise ValueError(f"created_at {d['created_at']!r} has no UTC offset")
        position = d["position"]
        if isinstance(position, bool) or not isinstance(position, int) or position < 1:
            raise ValueError(f"position {position!r} is not a positive integer")
        return cls(
            id=str(d["id"]), office_id=str(d["office_id"]), procedure_id=str(d["procedure_id"]),
            citizen_name=str(d["citizen_name"]), phone=str(d["phone"]), language=str(d["language"]),
            created_at=created_at, position=position,
        )


class BookingSystem(abc.ABC):
    """Everything Recorda asks of a booking system. All calls are async and
    raise AppointmentNotFound, BookingRefused or BookingUnavailable."""

    @abc.abstractmethod
    async def list_offices(self) -> List[Office]: ...

    @abc.abstractmethod
    async def get_office(self, office_id: str) -> Office: ...

    @abc.abstractmethod
    async def get_procedure(self, procedure_id: str) -> Procedure: ...

    @abc.abstractmethod
    async def list_appointments(self, day: date, office_id: str) -> List[Appointment]:
        """Appointments of one office on one day, in every status."""

    @abc.abstractmethod
    async def upcoming_appointments(self, phone_e164: str, from_day: date) -> List[Appointment]:
        """Active appointments of one phone number from a day on."""

    @abc.abstractmethod
    async def get_appointment(self, appointment_id: str) -> Appointment: ...

    @abc.abstractmethod
    async def confirm(self, appointment_id: str) -> Appointment:
        """Idempotent: confirming a confirmed appointment returns it unchanged."""

    @abc.abstractmethod
    async def cancel(self, appointment_id: str) -> Appointment:
        """Idempotent; refused (BookingRefused) for past or attended appointments."""

    @abc.abstractmethod
    async def record_attendance(self, appointment_id: str, attended: bool) -> Appointment: ...

    @abc.abstractmethod
    async def booking_link(self, language: str) -> str:
        """The public page where a citizen books a new appointment."""

    # --- waiting lists (optional: the defaults refuse with NOT_SUPPORTED, so
    # adapters and test doubles written before them keep working) ---

    async def waiting_list(self, office_id: str, procedure_id: str) -> List[WaitingListEntry]:
        """The people waiting for that procedure at that office, oldest first."""
        raise _not_supported(self)

    async def join_waiting_list(self, office_id: str, procedure_id: str, citizen_name: str,
                                phone: str, language: str) -> WaitingListEntry:
        """Idempotent: a phone already waiting on that list gets its entry back
        unchanged (same id, same place in line)."""
        raise _not_supported(self)

    async def leave_waiting_list(self, entry_id: str) -> None:
        """Idempotent: leaving again, or after the entry got a slot, does nothing.
        AppointmentNotFound only for an id the booking system never issued."""
        raise _not_supported(self)

    async def book_slot(self, office_id: str, procedure_id: str, starts_at: datetime,
                        entry_id: str, freed_appointment_id: Optional[str] = None) -> Appointment:
        """Books the slot of that office starting at `starts_at` (aware) for the
        person of the waiting-list entry, in one step: a new `booked`
        appointment for them, and the entry leaves the list. The booking system
        decides who wins a slot, so two people can never get one.
        `freed_appointment_id`: the cancelled appointment whose place it takes
        (an office with several desks has several appointments at one time).

        Raises SlotTaken when the slot is no longer free, AppointmentNotFound
        when the entry (or office, procedure) is gone, BookingRefused for a
        time that is not a bookable slot. Idempotent: when that entry already
        got that slot, returns the same appointment (a retry after a timeout)."""
        raise _not_supported(self)

    async def close(self) -> None:  # noqa: B027 (a hook: only adapters that hold connections override it)
        """Releases connections; adapters override when they hold any."""


def _not_supported(system: BookingSystem) -> BookingRefused:
    return BookingRefused(NOT_SUPPORTED, f"{type(system).__name__} has no waiting lists")
