"""The sandbox booking service's data (bot/dev/sandbox/booking_service.py):
the SQLite database, seeded on first use, and the booking rules of the
reference API (bot/booking/openapi.yaml) as queries and updates on it."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Callable, List, Optional

from sqlalchemy import and_, create_engine, func, inspect, select
from sqlalchemy.engine import Engine

from bot.booking import ACTIVE_STATUSES, ATTENDED, CANCELLED, CONFIRMED, NO_SHOW
from bot.dev.sandbox.booking_seed import (
    MADRID,
    SEED_VERSION,
    appointments,
    next_service_day,
    offices,
    procedures,
    seed,
    seed_version,
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
