"""The retention purge: conversations and reminders older than the retention
period are deleted, with everything that names the citizens they were about.

    purge(settings, days=90)                 delete, return what went
    purge(settings, days=90, dry_run=True)   count only

What goes, with cutoff = now - days:

* Rasa's tracker store: every event older than the cutoff.
* The reminder store: the reminders of service days before the cutoff's
  date (in the town's time zone; a reminder without a service day by when
  it was created), their histories, their SMS fallback rows, the used SMS
  links of their appointments, and their finished booking operations.
* Old rows of the other tables: provider statuses that never matched a
  reminder, webhook receipts, finished booking operations whose citizen was
  told, used links whose link has expired for sure.
* Console sessions that have expired.

What stays: pending work (booking operations not yet done, or done but the
citizen not yet told), the console users, and the reveal log, an audit
trail kept for at least a year (REVEAL_LOG_MIN_DAYS) whatever the period.

Each group of tables is one transaction, so a failure leaves a group
entirely there or entirely gone.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Dict, Optional

from sqlalchemy import and_, delete, exists, func, not_, or_, select
from sqlalchemy.engine import Connection

import bot.foundation.clock
from bot.booking import outbox
from bot.booking.outbox import PENDING, booking_operations
from bot.citizens import links
from bot.citizens.links import MAX_LIFETIME as LINK_LIFETIME
from bot.citizens.links import used_links
from bot.console.accounts import Accounts, reveals_table, sessions_table
from bot.console.tracker import TrackerEvents
from bot.foundation.db import engine_with_tables
from bot.messaging import webhook_receipts as receipts
from bot.messaging.webhook_receipts import webhook_receipts
from bot.reminders import sms_fallback, store
from bot.reminders.records import reminder_events, reminders, unmatched_statuses
from bot.reminders.sms_fallback import sms_fallbacks

log = logging.getLogger(__name__)

REVEAL_LOG_MIN_DAYS = 365


@dataclass
class PurgeReport:
    """How many rows of each kind went (or would go, in a dry run)."""
    days: int
    cutoff: datetime
    dry_run: bool
    tracker_events: int = 0
    reminders: int = 0
    reminder_events: int = 0
    sms_fallbacks: int = 0
    used_links: int = 0
    booking_operations: int = 0
    unmatched_statuses: int = 0
    webhook_receipts: int = 0
    console_sessions: int = 0
    console_reveals: int = 0
    notes: list = field(default_factory=list)

    COUNTS = ("tracker_events", "reminders", "reminder_events", "sms_fallbacks", "used_links",
              "booking_operations", "unmatched_statuses", "webhook_receipts", "console_sessions",
              "console_reveals")

    def counts(self) -> Dict[str, int]:
        return {name: getattr(self, name) for name in self.COUNTS}

    @property
    def total(self) -> int:
        return sum(self.counts().values())

    def to_dict(self) -> dict:
        data = asdict(self)
        data["cutoff"] = self.cutoff.isoformat()
        data["total"] = self.total
        return data


def purge(settings, days: int, dry_run: bool = False, now: Optional[datetime] = None) -> PurgeReport:
    """Deletes what is older than `days` days (counts it only if dry_run)."""
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"The retention period must be a whole number of days, 1 or more (got {days!r})")
    now = now or bot.foundation.clock.now()
    if now.tzinfo is None:
        raise ValueError("`now` needs a time zone")
    now = now.astimezone(timezone.utc)  # SQLite stores times without their offset: all UTC
    cutoff = now - timedelta(days=days)
    report = PurgeReport(days=days, cutoff=cutoff, dry_run=dry_run)

    tracker = TrackerEvents(settings.tracker_db_url)
    if tracker.available():
        report.tracker_events = tracker.delete_before(cutoff, dry_run=dry_run)
    else:
        report.notes.append("no tracker store to purge (RECORDA_TRACKER_DB_URL unset, or Rasa has not run)")

    engine = engine_with_tables(settings.db_url, store.SCHEMA, sms_fallback.SCHEMA, links.SCHEMA,
                                outbox.SCHEMA, receipts.SCHEMA)
    with engine.begin() as conn:
        _purge_reminders(conn, report, cutoff.astimezone(settings.timezone).date(), cutoff, now, dry_run)
    with engine.begin() as conn:
        _purge_leftovers(conn, report, cutoff, dry_run)
    _purge_console(settings, report, now, dry_run)

    verb = "Would delete" if dry_run else "Deleted"
    log.info("Retention purge (%d days, before %s): %s %s", days, cutoff.isoformat(timespec="seconds"),
             verb.lower(), ", ".join(f"{n} {name}" for name, n in report.counts().items()))
    for note in report.notes:
        log.warning("Retention purge: %s", note)
    return report


def _remove(conn: Connection, table, condition, dry_run: bool) -> int:
    if dry_run:
        return conn.execute(select(func.count()).select_from(table).where(condition)).scalar_one()
    return conn.execute(delete(table).where(condition)).rowcount


def _finished_and_told():
    """Booking operations that are no longer work: done or refused, citizen told."""
    return and_(booking_operations.c.state != PENDING, booking_operations.c.notified != 0)


def _purge_reminders(conn: Connection, report: PurgeReport, cutoff_day, cutoff: datetime,
                     now: datetime, dry_run: bool) -> None:
    """Old reminders and every row about their appointments, in one transaction."""
    old = or_(reminders.c.service_date < cutoff_day,
              and_(reminders.c.service_date.is_(None), reminders.c.created_at < cutoff))
    old_ids = select(reminders.c.id).where(old)
    old_appointments = select(reminders.c.appointment_id).where(old)
    # Children first: reminder_events points at reminders.
    report.reminder_events = _remove(conn, reminder_events, reminder_events.c.reminder_id.in_(old_ids), dry_run)
    report.sms_fallbacks = _remove(conn, sms_fallbacks, or_(
        sms_fallbacks.c.appointment_id.in_(old_appointments),
        # a fallback whose reminder is gone already can no longer send anything
        and_(sms_fallbacks.c.updated_at < cutoff,
             not_(exists().where(reminders.c.appointment_id == sms_fallbacks.c.appointment_id)))),
        dry_run)
    # A used link stays while the link could still be valid: it is what stops a second use.
    report.used_links = _remove(conn, used_links, or_(
        used_links.c.appointment_id.in_(old_appointments),
        used_links.c.used_at < min(cutoff, now - LINK_LIFETIME)), dry_run)
    report.booking_operations = _remove(conn, booking_operations, and_(_finished_and_told(), or_(
        booking_operations.c.appointment_id.in_(old_appointments),
        func.coalesce(booking_operations.c.finished_at, booking_operations.c.created_at) < cutoff)),
        dry_run)
    report.reminders = _remove(conn, reminders, old, dry_run)


def _purge_leftovers(conn: Connection, report: PurgeReport, cutoff: datetime, dry_run: bool) -> None:
    """Old rows that belong to no reminder: unmatched provider statuses, webhook receipts."""
    report.unmatched_statuses = _remove(conn, unmatched_statuses, unmatched_statuses.c.at < cutoff, dry_run)
    report.webhook_receipts = _remove(conn, webhook_receipts, webhook_receipts.c.received_at < cutoff, dry_run)


def _purge_console(settings, report: PurgeReport, now: datetime, dry_run: bool) -> None:
    """Expired console sessions, and reveal log entries past their own, longer period."""
    accounts = Accounts.from_settings(settings)
    accounts.clock = lambda: now
    reveal_cutoff = now - timedelta(days=max(report.days, REVEAL_LOG_MIN_DAYS))
    with accounts.engine.begin() as conn:
        report.console_reveals = _remove(conn, reveals_table, reveals_table.c.at < reveal_cutoff, dry_run)
        if dry_run:
            report.console_sessions = _remove(conn, sessions_table, or_(
                sessions_table.c.expires_at <= now,
                sessions_table.c.last_seen_at <= now - accounts.idle), dry_run=True)
    if not dry_run:
        report.console_sessions = accounts.purge_expired_sessions()
