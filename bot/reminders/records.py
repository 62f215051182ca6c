"""The reminder store's records: its tables (one row per appointment
reminder, its append-only events, statuses that came before their send, the
message ids of earlier touches) and the typed rows read from them. The
store (bot/reminders/store.py) writes them; readers that query the tables
themselves (the console, retention, metrics) use these definitions."""
from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import date, datetime, timezone
from typing import Iterable, Optional

from sqlalchemy import Boolean, Column, Date, DateTime, ForeignKey, Integer, MetaData, String, Table, Text

from bot.foundation.clock import stored_utc as _aware

# This store's tables, created by the store itself (bot/foundation/db.py knows none).
SCHEMA = MetaData()

reminders = Table(
    "reminders", SCHEMA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("appointment_id", String(64), nullable=False, unique=True),
    Column("service_date", Date, nullable=True, index=True),
    Column("office_id", String(64), nullable=True),
    Column("phone", String(32), nullable=True),
    Column("language", String(8), nullable=True),
    Column("state", String(16), nullable=False),
    Column("reason", String(48), nullable=True),
    Column("error_code", Integer, nullable=True),
    # Meta's message ids ("wamid.…") run past 64 characters; 128 holds both providers'.
    Column("provider_message_id", String(128), nullable=True, unique=True),
    Column("was_read", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    # When the reply window closes; set at send time from the office's settings.
    Column("window_closes_at", DateTime(timezone=True), nullable=True, index=True),
    # The office's touch (offices.yml) the current send belongs to; None for
    # a reminder sent outside the job. A later touch re-arms the same row.
    Column("touch", String(32), nullable=True),
    # The wording experiment's variant this appointment got, kept for every touch.
    Column("variant", String(32), nullable=True),
)

# The messages of a reminder's earlier touches: their late statuses are
# kept in its history without moving the state of the touch now running.
earlier_messages = Table(
    "reminder_earlier_messages", SCHEMA,
    Column("message_id", String(128), primary_key=True),
    Column("reminder_id", Integer, ForeignKey("reminders.id"), nullable=False, index=True),
    Column("touch", String(32), nullable=True),
)

# Statuses that arrived before the send that produced the message was
# recorded (the provider can be faster than our own bookkeeping), or for
# messages that are not reminders; replayed by mark_sent.
unmatched_statuses = Table(
    "unmatched_statuses", SCHEMA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(128), nullable=False, index=True),
    Column("status", String(32), nullable=False),
    Column("error_code", Integer, nullable=True),
    Column("reason", String(48), nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
    # E.164; finds the message of a send that was interrupted (bot.reminders.interrupted_sends).
    Column("recipient", String(32), nullable=True, index=True),
)

reminder_events = Table(
    "reminder_events", SCHEMA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reminder_id", Integer, ForeignKey("reminders.id"), nullable=False, index=True),
    Column("event", String(24), nullable=False),
    Column("applied", Boolean, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("source", String(16), nullable=False),
    Column("detail", Text, nullable=True),
)


def as_utc(value: datetime) -> datetime:
    """Every time is stored in UTC (SQLite keeps no offset)."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


# slots (here and on ReminderEvent): no dict per object; the figures page
# reads 18,000 reminders and 60,000 events for a month of a large town.
@dataclass(frozen=True, slots=True)
class Reminder:
    id: int
    appointment_id: str
    service_date: Optional[date]
    office_id: Optional[str]
    phone: Optional[str]
    language: Optional[str]
    state: str
    reason: Optional[str]
    error_code: Optional[int]
    provider_message_id: Optional[str]
    was_read: bool
    created_at: datetime
    updated_at: datetime
    sent_at: Optional[datetime]
    window_closes_at: Optional[datetime]
    touch: Optional[str] = None
    variant: Optional[str] = None

    @classmethod
    def from_row(cls, row) -> "Reminder":
        """From a row with the reminders table's columns, in any order."""
        values = row._mapping
        return reminder_of_values(values[name] for name in REMINDER_FIELDS)


REMINDER_FIELDS = tuple(f.name for f in fields(Reminder))
TIME_POSITIONS = tuple(i for i, name in enumerate(REMINDER_FIELDS)
                        if name in ("created_at", "updated_at", "sent_at", "window_closes_at"))
# The table's columns in Reminder's field order: a row of these is a
# Reminder's values by position, which is half the cost of looking each up
# by name (a month of the figures page reads 18,000 reminders).
REMINDER_COLUMNS = tuple(reminders.c[name] for name in REMINDER_FIELDS)


def reminder_of_values(values: Iterable) -> Reminder:
    """The Reminder of a row's values in REMINDER_FIELDS order."""
    values = list(values)
    for i in TIME_POSITIONS:
        values[i] = _aware(values[i])
    return Reminder(*values)


@dataclass(frozen=True, slots=True)
class ReminderEvent:
    event: str
    applied: bool
    at: datetime
    source: str
    detail: Optional[dict]

    @classmethod
    def from_row(cls, row) -> "ReminderEvent":
        return cls(row.event, row.applied, _aware(row.at), row.source, decoded_detail(row.detail))


def decoded_detail(detail: Optional[str]) -> Optional[dict]:
    return json.loads(detail) if detail else None


def in_period(first_day: date, last_day: date, office_id: Optional[str]):
    """Reminders of the service days first_day..last_day (both included), of one office or all."""
    clause = reminders.c.service_date.between(first_day, last_day)
    return clause & (reminders.c.office_id == office_id) if office_id else clause
