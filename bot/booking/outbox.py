"""A durable queue of confirm/cancel operations that the booking system could
not take at the time (down, 5xx, timeout).

The citizen is told the request is being processed, never that it is done;
the worker retries with backoff until the booking system answers, then the
assistant tells the citizen the outcome. Each operation runs under a lease so
two workers never run it at once; the booking API's confirm/cancel are
idempotent, so a retry after a lost answer is harmless.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Awaitable, Callable, List, Optional

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, and_, insert, select, update

from bot.booking import AppointmentNotFound, BookingRefused, BookingSystem, BookingUnavailable
from bot.foundation.clock import utc_now as _now
from bot.foundation.db import engine_with_tables

log = logging.getLogger(__name__)

PENDING, DONE, REFUSED = "pending", "done", "refused"
OPERATIONS = ("confirm", "cancel")
MAX_BACKOFF_SECONDS = 300
LEASE_SECONDS = 60

# This store's tables, created by the store itself (bot/foundation/db.py knows none).
SCHEMA = MetaData()

booking_operations = Table(
    "booking_operations", SCHEMA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("appointment_id", String(64), nullable=False, index=True),
    Column("operation", String(16), nullable=False),
    Column("sender_id", String(32), nullable=False),
    Column("language", String(8), nullable=True),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("notified", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
)


@dataclass(frozen=True)
class Operation:
    id: int
    appointment_id: str
    operation: str
    sender_id: str
    language: Optional[str]
    state: str
    attempts: int
    last_error: Optional[str]
    notified: bool


def _op(row) -> Operation:
    return Operation(row.id, row.appointment_id, row.operation, row.sender_id, row.language,
                     row.state, row.attempts, row.last_error, bool(row.notified))


def backoff_seconds(attempts: int) -> float:
    return float(min(2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS))


class BookingOutbox:
    def __init__(self, db_url: str):
        self.engine = engine_with_tables(db_url, SCHEMA)

    def enqueue(self, appointment_id: str, operation: str, sender_id: str,
                language: Optional[str]) -> Operation:
        """Queues an operation; an identical one still pending is returned instead."""
        assert operation in OPERATIONS
        with self.engine.begin() as conn:
            existing = conn.execute(select(booking_operations).where(and_(
                booking_operations.c.appointment_id == appointment_id,
                booking_operations.c.operation == operation,
                booking_operations.c.state == PENDING))).first()
            if existing:
                return _op(existing)
            now = _now()
            result = conn.execute(insert(booking_operations).values(
                appointment_id=appointment_id, operation=operation, sender_id=sender_id,
                language=language, state=PENDING, attempts=0, next_attempt_at=now, notified=0,
                created_at=now))
            row = conn.execute(select(booking_operations).where(
                booking_operations.c.id == result.inserted_primary_key[0])).first()
        return _op(row)

    def pending_for(self, appointment_id: str) -> List[Operation]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(booking_operations).where(and_(
                booking_operations.c.appointment_id == appointment_id,
                booking_operations.c.state == PENDING))).all()
        return [_op(r) for r in rows]

    def all(self) -> List[Operation]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(booking_operations).order_by(booking_operations.c.id)).all()
        return [_op(r) for r in rows]

    def claim_due(self, limit: int = 20) -> List[Operation]:
        """Pending operations whose time has come, each leased to this caller."""
        now = _now()
        claimed = []
        with self.engine.begin() as conn:
            rows = conn.execute(select(booking_operations).where(and_(
                booking_operations.c.state == PENDING,
                booking_operations.c.next_attempt_at <= now)).limit(limit)).all()
            for row in rows:
                result = conn.execute(update(booking_operations).where(and_(
                    booking_operations.c.id == row.id,
                    booking_operations.c.next_attempt_at == row.next_attempt_at)).values(
                    next_attempt_at=now + timedelta(seconds=LEASE_SECONDS)))
                if result.rowcount == 1:
                    claimed.append(_op(row))
        return claimed

    def unnotified(self) -> List[Operation]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(booking_operations).where(and_(
                booking_operations.c.state != PENDING, booking_operations.c.notified == 0))).all()
        return [_op(r) for r in rows]

    def finish(self, op_id: int, state: str, error: Optional[str] = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(booking_operations).where(booking_operations.c.id == op_id).values(
                state=state, finished_at=_now(), last_error=error,
                attempts=booking_operations.c.attempts + 1))

    def retry_later(self, op: Operation, error: str) -> None:
        attempts = op.attempts + 1
        with self.engine.begin() as conn:
            conn.execute(update(booking_operations).where(booking_operations.c.id == op.id).values(
                attempts=attempts, last_error=error[:500],
                next_attempt_at=_now() + timedelta(seconds=backoff_seconds(attempts))))

    def mark_notified(self, op_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(booking_operations).where(booking_operations.c.id == op_id)
                         .values(notified=1))


Notifier = Callable[[Operation], Awaitable[None]]


class OutboxWorker:
    """Runs due operations against the booking system and has the citizen told."""

    def __init__(self, outbox: BookingOutbox, booking: BookingSystem, notify: Notifier):
        self.outbox = outbox
        self.booking = booking
        self.notify = notify

    async def run_once(self) -> int:
        """One pass; returns how many operations reached an end state."""
        finished = 0
        for op in self.outbox.claim_due():
            call = self.booking.cancel if op.operation == "cancel" else self.booking.confirm
            try:
                await call(op.appointment_id)
            except BookingUnavailable as exc:
                log.warning("Booking system still unavailable for %s %s (attempt %d): %s",
                            op.operation, op.appointment_id, op.attempts + 1, exc)
                self.outbox.retry_later(op, str(exc))
                continue
            except (BookingRefused, AppointmentNotFound) as exc:
                log.info("Booking system refused queued %s of %s: %s", op.operation,
                         op.appointment_id, exc)
                self.outbox.finish(op.id, REFUSED, str(exc))
            else:
                log.info("Queued %s of %s done", op.operation, op.appointment_id)
                self.outbox.finish(op.id, DONE)
            finished += 1
        await self._notify_finished()
        return finished

    async def _notify_finished(self) -> None:
        # Separate from the booking call: if telling the citizen fails (Rasa
        # down), the operation is not repeated, only the message is retried.
        for op in self.outbox.unnotified():
            try:
                await self.notify(op)
            except Exception as exc:  # retried on the next pass
                log.warning("Could not tell %s about operation %d yet: %s", op.sender_id, op.id, exc)
                continue
            self.outbox.mark_notified(op.id)
