"""The sandbox booking service's data (bot/dev/sandbox/booking_service.py):
the SQLite database, seeded on first use, and the booking rules of the
reference API (bot/booking/openapi.yaml) as queries and updates on it.

Booking a slot from a waiting list reads (is the slot free?) and then writes
(the appointment): both run in one transaction that holds SQLite's write
lock from its start (BEGIN IMMEDIATE), so two requests, even from two
processes on the same file, can never both find the slot free."""
from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Tuple

from sqlalchemy import and_, create_engine, func, inspect, or_, select
from sqlalchemy.engine import Connection, Engine

from bot.booking import ACTIVE_STATUSES, ATTENDED, BOOKED, CANCELLED, CONFIRMED, NO_SHOW, SlotTaken
from bot.dev.sandbox.booking_seed import (
    LEFT,
    MADRID,
    SEED_VERSION,
    SLOT_BOOKED,
    WAITING,
    appointments,
    duration_minutes,
    next_service_day,
    office_slots,
    offices,
    procedures,
    seed,
    seed_version,
    waiting_entry_id,
    waiting_list,
)

NowFn = Callable[[], datetime]


class ApiError(Exception):
    """An error answered with the API's JSON error envelope."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def open_database(db_path: str, today: date, reseed: bool = False,
                  bench_appointments: int = 0) -> Engine:
    """The engine of the sandbox database, seeded on first use or on request."""
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{db_path}", future=True)
    # A benchmark needs a known state, so asking for bench data reseeds; so
    # does data seeded days ago, or the demo would have nothing to remind of.
    if reseed or bench_appointments or not inspect(engine).has_table("appointments") \
            or _is_stale(engine, today):
        seed(engine, today, bench_appointments)
    return engine


def _is_stale(engine: Engine, today: date) -> bool:
    """True when no appointment is left on the next service day, or an older
    seed made the data."""
    if seed_version(engine) != SEED_VERSION:
        return True
    first = datetime.combine(next_service_day(today), datetime.min.time())
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(appointments)
                             .where(appointments.c.starts_at >= first)
                             .where(appointments.c.starts_at < first + timedelta(days=1))).scalar()
    return count == 0


def _local(wall_clock: datetime) -> datetime:
    return wall_clock.replace(tzinfo=MADRID)


def _stamp(naive_utc: Optional[datetime]) -> Optional[str]:
    if naive_utc is None:
        return None
    return naive_utc.replace(tzinfo=timezone.utc).astimezone(MADRID).isoformat()


def _day_range(first: date, last: date):
    """A filter for appointments from `first` to `last`, both included."""
    start = datetime.combine(first, time())
    end = datetime.combine(last + timedelta(days=1), time())
    return and_(appointments.c.starts_at >= start, appointments.c.starts_at < end)


def appointment_json(row) -> dict:
    return {
        "id": row.id, "office_id": row.office_id, "procedure_id": row.procedure_id,
        "starts_at": _local(row.starts_at).isoformat(), "duration_minutes": row.duration_minutes,
        "citizen_name": row.citizen_name, "phone": row.phone, "language": row.language,
        "status": row.status, "confirmed_at": _stamp(row.confirmed_at),
        "cancelled_at": _stamp(row.cancelled_at), "attended_at": _stamp(row.attended_at),
    }


def waiting_entry_json(row, position: int) -> dict:
    return {"id": waiting_entry_id(row.number), "office_id": row.office_id,
            "procedure_id": row.procedure_id, "citizen_name": row.citizen_name, "phone": row.phone,
            "language": row.language, "created_at": _stamp(row.created_at), "position": position}


_ENTRY_ID = re.compile(r"WL-(\d{1,18})")


def _entry_number(entry_id: str) -> int:
    """The row number of an entry id; an id of another shape names no entry."""
    match = _ENTRY_ID.fullmatch(entry_id)
    if match is None:
        raise ApiError(404, "not_found", f"No waiting-list entry with id {entry_id!r}.")
    return int(match.group(1))


def office_json(row) -> dict:
    return {"id": row.id, "name": row.name, "address": row.address, "map_url": row.map_url,
            "phone": row.phone, "opening_hours": row.opening_hours,
            "late_policy_minutes": row.late_policy_minutes}


def procedure_json(row) -> dict:
    return {"id": row.id, "name": row.name, "documents_url": row.documents_url}


class Store:
    """The booking rules on top of SQLite. Calls are short and local, so
    handlers run them directly on the event loop."""

    def __init__(self, engine: Engine, now_fn: NowFn):
        self.engine = engine
        self.now = now_fn

    def _utcnow(self) -> datetime:
        return self.now().astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)

    def _all(self, query) -> list:
        with self.engine.connect() as conn:
            return conn.execute(query).all()

    def _one(self, table, key: str, what: str):
        rows = self._all(select(table).where(table.c.id == key))
        if not rows:
            raise ApiError(404, "not_found", f"No {what} with id {key!r}.")
        return rows[0]

    def offices(self) -> List[dict]:
        return [office_json(r) for r in self._all(select(offices).order_by(offices.c.id))]

    def office(self, office_id: str) -> dict:
        return office_json(self._one(offices, office_id, "office"))

    def procedures(self) -> List[dict]:
        return [procedure_json(r) for r in self._all(select(procedures).order_by(procedures.c.id))]

    def procedure(self, procedure_id: str) -> dict:
        return procedure_json(self._one(procedures, procedure_id, "procedure"))

    def day_appointments(self, day: date, office_id: str) -> List[dict]:
        self._one(offices, office_id, "office")  # an unknown office is a 404, not an empty day
        query = (select(appointments)
                 .where(_day_range(day, day), appointments.c.office_id == office_id)
                 .order_by(appointments.c.starts_at, appointments.c.id))
        return [appointment_json(r) for r in self._all(query)]

    def upcoming(self, phone_e164: str, from_day: date) -> List[dict]:
        query = (select(appointments)
                 .where(appointments.c.phone_e164 == phone_e164,
                        appointments.c.status.in_(ACTIVE_STATUSES),
                        appointments.c.starts_at >= datetime.combine(from_day, time()))
                 .order_by(appointments.c.starts_at, appointments.c.id))
        return [appointment_json(r) for r in self._all(query)]

    def appointment(self, appointment_id: str) -> dict:
        return appointment_json(self._one(appointments, appointment_id, "appointment"))

    def _has_started(self, row) -> bool:
        return _local(row.starts_at) <= self.now()

    def confirm(self, appointment_id: str) -> dict:
        row = self._one(appointments, appointment_id, "appointment")
        if row.status == CONFIRMED:
            return appointment_json(row)
        if row.status == CANCELLED:
            raise ApiError(409, "not_confirmable", "The appointment was cancelled.")
        if row.status in (ATTENDED, NO_SHOW):
            raise ApiError(409, "not_confirmable", "Attendance has already been recorded.")
        if self._has_started(row):
            raise ApiError(409, "not_confirmable", "The appointment time has passed.")
        return self._update(appointment_id, status=CONFIRMED, confirmed_at=self._utcnow())

    def cancel(self, appointment_id: str) -> dict:
        row = self._one(appointments, appointment_id, "appointment")
        if row.status == CANCELLED:
            return appointment_json(row)
        if row.status in (ATTENDED, NO_SHOW):
            raise ApiError(409, "not_cancellable", "Attendance has already been recorded.")
        if self._has_started(row):
            raise ApiError(409, "not_cancellable", "The appointment time has passed.")
        return self._update(appointment_id, status=CANCELLED, cancelled_at=self._utcnow())

    def record_attendance(self, appointment_id: str, attended: bool) -> dict:
        row = self._one(appointments, appointment_id, "appointment")
        status = ATTENDED if attended else NO_SHOW
        if row.status == status:
            return appointment_json(row)
        if row.status == CANCELLED:
            raise ApiError(409, "attendance_not_recordable", "The appointment was cancelled.")
        if not self._has_started(row):
            raise ApiError(409, "attendance_not_recordable", "The appointment has not started yet.")
        # A correction (attended <-> no-show) replaces the earlier record.
        return self._update(appointment_id, status=status,
                            attended_at=self._utcnow() if attended else None)

    def _update(self, appointment_id: str, **values) -> dict:
        with self.engine.begin() as conn:
            conn.execute(appointments.update().where(appointments.c.id == appointment_id).values(**values))
        return self.appointment(appointment_id)

    def board_rows(self, days: List[date]) -> list:
        query = (select(appointments, procedures.c.name.label("procedure_name"))
                 .join(procedures, procedures.c.id == appointments.c.procedure_id)
                 .where(_day_range(days[0], days[-1]))
                 .order_by(appointments.c.starts_at, appointments.c.id))
        return self._all(query)

    def office_rows(self) -> list:
        return self._all(select(offices).order_by(offices.c.id))

    # --- waiting lists and booking a slot from them -----------------------------------

    @contextmanager
    def _write_locked(self) -> Iterator[Connection]:
        """A transaction holding the database's write lock from its first
        read: nothing it read can change before it commits. Another writer
        waits (pysqlite's busy timeout) instead of interleaving."""
        with self.engine.connect() as conn, conn.begin():  # pysqlite itself emits no BEGIN
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn

    @staticmethod
    def _row(conn: Connection, column, key, what: str):
        row = conn.execute(select(column.table).where(column == key)).first()
        if row is None:
            raise ApiError(404, "not_found", f"No {what} with id {key!r}.")
        return row

    @staticmethod
    def _entry(conn: Connection, number: int):
        row = conn.execute(select(waiting_list).where(waiting_list.c.number == number)).first()
        if row is None:
            raise ApiError(404, "not_found", f"No waiting-list entry with id {waiting_entry_id(number)!r}.")
        return row

    def _check_list(self, conn: Connection, office_id: str, procedure_id: str):
        """The office's row, after checking that both the office and the procedure exist."""
        office = self._row(conn, offices.c.id, office_id, "office")
        self._row(conn, procedures.c.id, procedure_id, "procedure")
        return office

    @staticmethod
    def _waiting(office_id: str, procedure_id: str):
        return and_(waiting_list.c.office_id == office_id, waiting_list.c.procedure_id == procedure_id,
                    waiting_list.c.status == WAITING)

    def _with_position(self, conn: Connection, row) -> dict:
        """The entry as the API shows it: its place counts the entries ahead of it."""
        ahead: int = conn.execute(
            select(func.count()).select_from(waiting_list)
            .where(self._waiting(row.office_id, row.procedure_id),
                   or_(waiting_list.c.created_at < row.created_at,
                       and_(waiting_list.c.created_at == row.created_at,
                            waiting_list.c.number < row.number)))).scalar_one()
        return waiting_entry_json(row, ahead + 1)

    def waiting_list(self, office_id: str, procedure_id: str) -> List[dict]:
        with self.engine.connect() as conn:
            self._check_list(conn, office_id, procedure_id)
            rows = conn.execute(select(waiting_list)
                                .where(self._waiting(office_id, procedure_id))
                                .order_by(waiting_list.c.created_at, waiting_list.c.number)).all()
        return [waiting_entry_json(row, position) for position, row in enumerate(rows, start=1)]

    def join_waiting_list(self, office_id: str, procedure_id: str, citizen_name: str, phone: str,
                          phone_e164: str, language: str) -> Tuple[dict, bool]:
        """(the entry, whether it is new): a phone already waiting on the
        list keeps its entry and its place."""
        with self._write_locked() as conn:
            self._check_list(conn, office_id, procedure_id)
            row = conn.execute(select(waiting_list).where(self._waiting(office_id, procedure_id),
                                                          waiting_list.c.phone_e164 == phone_e164)).first()
            created = row is None
            if created:
                number = conn.execute(waiting_list.insert().values(
                    office_id=office_id, procedure_id=procedure_id, citizen_name=citizen_name,
                    phone=phone, phone_e164=phone_e164, language=language,
                    created_at=self._utcnow(), status=WAITING)).inserted_primary_key[0]
                row = self._entry(conn, number)
            entry = self._with_position(conn, row)
        return entry, created

    def leave_waiting_list(self, entry_id: str) -> None:
        """Idempotent: an entry that left or got a slot stays as it is."""
        number = _entry_number(entry_id)
        with self._write_locked() as conn:
            row = self._entry(conn, number)
            if row.status == WAITING:
                conn.execute(waiting_list.update().where(waiting_list.c.number == number)
                             .values(status=LEFT, ended_at=self._utcnow()))

    def book_slot(self, office_id: str, procedure_id: str, starts_at: datetime, entry_id: str,
                  freed_appointment_id: Optional[str] = None) -> dict:
        """The new appointment of the entry's person at that slot of the office
        (`starts_at` aware). A slot is an office and a start time on its
        15-minute grid within its opening hours. The place of a cancelled
        appointment (`freed_appointment_id`) is free until one booking takes
        it; without one, a slot is free when no active appointment of that
        office starts then (one desk)."""
        number = _entry_number(entry_id)
        wall_clock = starts_at.astimezone(MADRID).replace(tzinfo=None)
        with self._write_locked() as conn:
            office = self._check_list(conn, office_id, procedure_id)
            entry = self._entry(conn, number)
            if entry.status == SLOT_BOOKED:
                return self._booked_already(conn, entry, office_id, procedure_id, wall_clock)
            if entry.status != WAITING:
                raise ApiError(404, "not_found", f"Waiting-list entry {entry_id!r} has left the list.")
            if (entry.office_id, entry.procedure_id) != (office_id, procedure_id):
                raise ApiError(409, "not_bookable", f"Waiting-list entry {entry_id!r} waits for "
                                                    f"{entry.procedure_id} at {entry.office_id}.")
            if wall_clock not in office_slots({"opening_hours": office.opening_hours}, wall_clock.date()):
                raise ApiError(409, "not_bookable",
                               f"{_local(wall_clock).isoformat()} is not an appointment time of {office_id}.")
            if _local(wall_clock) <= self.now():
                raise ApiError(409, "not_bookable", "That time has passed.")
            if freed_appointment_id is not None:
                self._check_freed(conn, freed_appointment_id, office_id, wall_clock)
            else:
                holder = conn.execute(select(appointments.c.id).where(
                    appointments.c.office_id == office_id, appointments.c.starts_at == wall_clock,
                    appointments.c.status.in_(ACTIVE_STATUSES))).first()
                if holder is not None:
                    raise ApiError(409, SlotTaken.CODE, f"The slot {_local(wall_clock).isoformat()} at "
                                                        f"{office_id} is no longer free.")
            appointment_id = self._book(conn, entry, wall_clock)
            if freed_appointment_id is not None:
                conn.execute(appointments.update().where(appointments.c.id == freed_appointment_id)
                             .values(rebooked_as=appointment_id))
            return appointment_json(self._row(conn, appointments.c.id, appointment_id, "appointment"))

    @staticmethod
    def _check_freed(conn: Connection, freed_appointment_id: str, office_id: str, wall_clock: datetime) -> None:
        freed = conn.execute(select(appointments).where(appointments.c.id == freed_appointment_id)).first()
        if freed is None or freed.status != CANCELLED or (freed.office_id, freed.starts_at) != (
                office_id, wall_clock):
            raise ApiError(409, "not_bookable", f"{freed_appointment_id!r} is no cancelled appointment of "
                                                f"{office_id} at that time.")
        if freed.rebooked_as is not None:
            raise ApiError(409, SlotTaken.CODE, f"The place of {freed_appointment_id} has been booked again.")

    @staticmethod
    def _booked_already(conn: Connection, entry, office_id: str, procedure_id: str,
                        wall_clock: datetime) -> dict:
        """A retry gets the appointment the first attempt made; the same entry
        asking for another slot finds itself off the list."""
        booked = conn.execute(select(appointments).where(appointments.c.id == entry.appointment_id)).first()
        if booked is not None and (booked.office_id, booked.procedure_id, booked.starts_at) == (
                office_id, procedure_id, wall_clock):
            return appointment_json(booked)
        raise ApiError(404, "not_found", f"Waiting-list entry {waiting_entry_id(entry.number)!r} "
                                         "already got another slot.")

    def _book(self, conn: Connection, entry, wall_clock: datetime) -> str:
        # The id comes from the entry's number (9 digits, clear of the seed's
        # 6): one entry can never make two appointments.
        appointment_id = f"VLD-{wall_clock.year}-{entry.number}"
        conn.execute(appointments.insert().values(
            id=appointment_id, office_id=entry.office_id, procedure_id=entry.procedure_id,
            starts_at=wall_clock, duration_minutes=duration_minutes(entry.procedure_id),
            citizen_name=entry.citizen_name, phone=entry.phone, phone_e164=entry.phone_e164,
            language=entry.language, status=BOOKED))
        conn.execute(waiting_list.update().where(waiting_list.c.number == entry.number)
                     .values(status=SLOT_BOOKED, ended_at=self._utcnow(), appointment_id=appointment_id))
        return appointment_id
