"""The freed slots and the offers made of them to people on a waiting list.

A freed slot is an appointment a citizen cancelled through Recorda early
enough to be offered again. Each offer goes to one person of the booking
system's waiting list; the booking system decides who gets the slot (its
atomic book_slot), this store keeps what was offered, to whom, and how it
ended, for the figures and so that a restarted worker repeats nothing.

    freed slot: open -> rebooked | unclaimed (nobody took it in time)
                | not_offered (too late, or its office offers nothing)
    offer:      pending -> sending -> sent -> accepted | declined | gone | expired
                side exit: failed (could not be sent)
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

from sqlalchemy import Column, DateTime, ForeignKey, Integer, MetaData, String, Table, func, select, update
from sqlalchemy.exc import IntegrityError

from bot.foundation.clock import stored_utc, utc_now
from bot.foundation.db import engine_with_tables

SCHEMA = MetaData()

OPEN, REBOOKED, UNCLAIMED, NOT_OFFERED = "open", "rebooked", "unclaimed", "not_offered"
PENDING, SENDING, SENT, ACCEPTED, DECLINED, GONE, EXPIRED, FAILED = (
    "pending", "sending", "sent", "accepted", "declined", "gone", "expired", "failed")
OUTSTANDING = (PENDING, SENDING, SENT)  # an offer that may still be taken
ANSWERABLE = (SENDING, SENT)            # a tap can arrive before the send is recorded

freed_slots = Table(
    "freed_slots", SCHEMA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("appointment_id", String(64), nullable=False, unique=True),  # the cancelled one
    Column("office_id", String(64), nullable=False),
    Column("procedure_id", String(64), nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("freed_at", DateTime(timezone=True), nullable=False, index=True),
    Column("state", String(16), nullable=False, index=True),
    Column("reason", String(32), nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("rebooked_appointment_id", String(64), nullable=True),
)

slot_offers = Table(
    "slot_offers", SCHEMA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("freed_slot_id", Integer, ForeignKey("freed_slots.id"), nullable=False, index=True),
    Column("entry_id", String(64), nullable=False),  # the booking system's waiting-list entry
    Column("phone", String(32), nullable=False, index=True),
    Column("citizen_name", String(200), nullable=False),
    Column("language", String(8), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("answered_at", DateTime(timezone=True), nullable=True),
)


@dataclass(frozen=True)
class FreedSlot:
    id: int
    appointment_id: str
    office_id: str
    procedure_id: str
    starts_at: datetime
    freed_at: datetime
    state: str
    reason: Optional[str]
    closed_at: Optional[datetime]
    rebooked_appointment_id: Optional[str]

    @classmethod
    def from_row(cls, row) -> "FreedSlot":
        return cls(row.id, row.appointment_id, row.office_id, row.procedure_id, stored_utc(row.starts_at),
                   stored_utc(row.freed_at), row.state, row.reason, stored_utc(row.closed_at),
                   row.rebooked_appointment_id)


@dataclass(frozen=True)
class Offer:
    id: int
    freed_slot_id: int
    entry_id: str
    phone: str
    citizen_name: str
    language: str
    state: str
    created_at: datetime
    sent_at: Optional[datetime]
    expires_at: datetime
    answered_at: Optional[datetime]

    @classmethod
    def from_row(cls, row) -> "Offer":
        return cls(row.id, row.freed_slot_id, row.entry_id, row.phone, row.citizen_name, row.language,
                   row.state, stored_utc(row.created_at), stored_utc(row.sent_at), stored_utc(row.expires_at),
                   stored_utc(row.answered_at))


def _utc(moment: datetime) -> datetime:
    """Stored in UTC: SQLite keeps no offset, and reads come back as UTC."""
    return moment.astimezone(timezone.utc)


class OfferStore:
    def __init__(self, db_url: str):
        self.engine = engine_with_tables(db_url, SCHEMA)

    # --- freed slots ------------------------------------------------------------
    def record_freed(self, appointment_id: str, office_id: str, procedure_id: str, starts_at: datetime,
                     state: str = OPEN, reason: Optional[str] = None,
                     at: Optional[datetime] = None) -> Optional[FreedSlot]:
        """The slot of a cancelled appointment, once; None if it was recorded already."""
        now = _utc(at or utc_now())
        try:
            with self.engine.begin() as conn:
                conn.execute(freed_slots.insert().values(
                    appointment_id=appointment_id, office_id=office_id, procedure_id=procedure_id,
                    starts_at=_utc(starts_at), freed_at=now, state=state, reason=reason,
                    closed_at=None if state == OPEN else now))
        except IntegrityError:
            return None
        return self.freed(appointment_id)

    def freed(self, appointment_id: str) -> Optional[FreedSlot]:
        with self.engine.connect() as conn:
            row = conn.execute(select(freed_slots).where(freed_slots.c.appointment_id == appointment_id)).first()
        return FreedSlot.from_row(row) if row else None

    def slot(self, slot_id: int) -> FreedSlot:
        with self.engine.connect() as conn:
            return FreedSlot.from_row(conn.execute(select(freed_slots).where(freed_slots.c.id == slot_id)).one())

    def open_slots(self) -> List[FreedSlot]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(freed_slots).where(freed_slots.c.state == OPEN)
                                .order_by(freed_slots.c.starts_at)).all()
        return [FreedSlot.from_row(r) for r in rows]

    def known_appointments(self, appointment_ids: List[str]) -> List[str]:
        """Those of `appointment_ids` that already have a freed slot."""
        if not appointment_ids:
            return []
        with self.engine.connect() as conn:
            return list(conn.execute(select(freed_slots.c.appointment_id).where(
                freed_slots.c.appointment_id.in_(appointment_ids))).scalars())

    def close_slot(self, slot_id: int, state: str, reason: Optional[str] = None,
                   at: Optional[datetime] = None) -> bool:
        """open -> `state`; False if it was closed already."""
        with self.engine.begin() as conn:
            closed = conn.execute(update(freed_slots).where(
                (freed_slots.c.id == slot_id) & (freed_slots.c.state == OPEN)).values(
                    state=state, reason=reason, closed_at=_utc(at or utc_now()))).rowcount == 1
            if closed:
                self._close_outstanding(conn, slot_id, _utc(at or utc_now()))
        return closed

    def slots_starting_between(self, start: datetime, end: datetime) -> List[FreedSlot]:
        """The freed slots whose appointment time is from `start` (included) to
        `end` (excluded): the figures of a period's service days."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(freed_slots).where(
                (freed_slots.c.starts_at >= _utc(start)) & (freed_slots.c.starts_at < _utc(end)))
                .order_by(freed_slots.c.id)).all()
        return [FreedSlot.from_row(r) for r in rows]

    def offers_of_slots(self, slot_ids: List[int]) -> Dict[int, List[Offer]]:
        found: Dict[int, List[Offer]] = {slot_id: [] for slot_id in slot_ids}
        if not slot_ids:
            return found
        with self.engine.connect() as conn:
            for row in conn.execute(select(slot_offers).where(slot_offers.c.freed_slot_id.in_(slot_ids))
                                    .order_by(slot_offers.c.id)):
                found[row.freed_slot_id].append(Offer.from_row(row))
        return found

    # --- offers -------------------------------------------------------------------
    def create_offer(self, slot_id: int, entry_id: str, phone: str, citizen_name: str, language: str,
                     expires_at: datetime, at: Optional[datetime] = None) -> Offer:
        with self.engine.begin() as conn:
            offer_id = conn.execute(slot_offers.insert().values(
                freed_slot_id=slot_id, entry_id=entry_id, phone=phone, citizen_name=citizen_name[:200],
                language=language, state=PENDING, created_at=_utc(at or utc_now()),
                expires_at=_utc(expires_at))).inserted_primary_key[0]
        return self.offer(offer_id)

    def offer(self, offer_id: int) -> Offer:
        """The offer of that id, which must exist."""
        found = self.find_offer(offer_id)
        if found is None:
            raise LookupError(f"no offer {offer_id}")
        return found

    def find_offer(self, offer_id: int) -> Optional[Offer]:
        with self.engine.connect() as conn:
            row = conn.execute(select(slot_offers).where(slot_offers.c.id == offer_id)).first()
        return Offer.from_row(row) if row else None

    def offers_of(self, slot_id: int) -> List[Offer]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(slot_offers).where(slot_offers.c.freed_slot_id == slot_id)
                                .order_by(slot_offers.c.id)).all()
        return [Offer.from_row(r) for r in rows]

    def offers_to_since(self, phone: str, since: datetime) -> int:
        """Offers sent (or being sent) to a number since a moment: the daily cap."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(slot_offers).where(
                (slot_offers.c.phone == phone) & (slot_offers.c.created_at >= _utc(since))
                & (slot_offers.c.state != FAILED))).scalar_one())

    def move(self, offer_id: int, from_states: tuple, to_state: str, at: Optional[datetime] = None) -> bool:
        """One offer from one of `from_states` to `to_state`, atomically; False if it was elsewhere."""
        values: Dict[str, Any] = {"state": to_state}
        now = _utc(at or utc_now())
        if to_state == SENT:
            values["sent_at"] = now
        elif to_state in (ACCEPTED, DECLINED):
            values["answered_at"] = now
        with self.engine.begin() as conn:
            return conn.execute(update(slot_offers).where(
                (slot_offers.c.id == offer_id) & slot_offers.c.state.in_(from_states))
                .values(**values)).rowcount == 1

    def accept(self, offer_id: int, appointment_id: str, at: Optional[datetime] = None) -> None:
        """The booking system gave this offer's person the slot: the offer is
        accepted, its slot rebooked, and the other offers of the slot are gone."""
        now = _utc(at or utc_now())
        with self.engine.begin() as conn:
            offer = conn.execute(select(slot_offers).where(slot_offers.c.id == offer_id)).one()
            conn.execute(update(slot_offers).where(slot_offers.c.id == offer_id).values(
                state=ACCEPTED, answered_at=now))
            conn.execute(update(freed_slots).where(freed_slots.c.id == offer.freed_slot_id).values(
                state=REBOOKED, closed_at=now, rebooked_appointment_id=appointment_id, reason=None))
            self._close_outstanding(conn, offer.freed_slot_id, now)

    def expire_due(self, now: Optional[datetime] = None) -> int:
        with self.engine.begin() as conn:
            return conn.execute(update(slot_offers).where(
                slot_offers.c.state.in_(OUTSTANDING) & (slot_offers.c.expires_at <= _utc(now or utc_now())))
                .values(state=EXPIRED)).rowcount

    @staticmethod
    def _close_outstanding(conn, slot_id: int, now: datetime) -> None:
        conn.execute(update(slot_offers).where(
            (slot_offers.c.freed_slot_id == slot_id) & slot_offers.c.state.in_(OUTSTANDING))
            .values(state=GONE))
