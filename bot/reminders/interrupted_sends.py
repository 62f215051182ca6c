"""Reminders whose send was interrupted: claimed (`sending`) by a process that
died before it recorded the provider's answer (a Rasa worker killed, a
machine restarted). Left alone they are never sent; sent again blindly, a
citizen whose reminder did reach the provider gets it twice.

The provider says which: every message it accepted produces at least one
delivery status (sent, delivered, read or failed), which names the message's
recipient, and statuses for messages Recorda has not recorded are kept
(`unmatched_statuses`). So once a claim is older than `after` (longer than
a send can take, and than statuses take to come back):
* exactly one unrecorded message to the reminder's number since its claim:
  that is the reminder; it is recorded as sent, with its statuses;
* none: the provider never got it; the claim is released (back to
  `scheduled`) and the job sends it;
* more than one: which message was the reminder cannot be told (the citizen
  was also being answered); left for staff, logged, never sent twice.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import List, Optional

from sqlalchemy import select, update

from bot.foundation.clock import stored_utc, utc_now
from bot.reminders import states
from bot.reminders.records import reminders, unmatched_statuses
from bot.reminders.store import ReminderStore

log = logging.getLogger(__name__)

DEFAULT_AFTER = timedelta(minutes=10)
# Provider and Recorda clocks differ a little: a status stamped just before the claim still counts.
CLOCK_SKEW = timedelta(seconds=60)
RELEASED = "send_interrupted"  # the event recorded when a claim is released


@dataclass
class Recovery:
    recorded_as_sent: List[str] = field(default_factory=list)  # appointment ids
    released: List[str] = field(default_factory=list)
    ambiguous: List[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.recorded_as_sent) + len(self.released) + len(self.ambiguous)


def recover_interrupted_sends(store: ReminderStore, after: timedelta = DEFAULT_AFTER,
                              now: Optional[datetime] = None) -> Recovery:
    now = now or utc_now()
    recovery = Recovery()
    with store.engine.connect() as conn:
        stale = conn.execute(select(reminders.c.appointment_id, reminders.c.phone, reminders.c.updated_at).where(
            (reminders.c.state == states.SENDING) & (reminders.c.updated_at <= now - after))).all()
    for appointment_id, phone, claimed_at in stale:
        claimed_at = stored_utc(claimed_at)
        messages = _unrecorded_messages_to(store, phone, claimed_at - CLOCK_SKEW) if phone else []
        if len(messages) == 1:
            if store.mark_sent(appointment_id, messages[0], at=claimed_at):
                log.warning("Reminder %s: its send was interrupted after the provider accepted it "
                            "(message %s); recorded as sent", appointment_id, messages[0])
                recovery.recorded_as_sent.append(appointment_id)
        elif not messages:
            if _release(store, appointment_id, claimed_at, now):
                log.warning("Reminder %s: its send was interrupted before the provider got it; "
                            "released to be sent again", appointment_id)
                recovery.released.append(appointment_id)
        else:
            log.error("Reminder %s: its send was interrupted and %d unrecorded messages went to its "
                      "number since; not sent again, check the conversation", appointment_id, len(messages))
            recovery.ambiguous.append(appointment_id)
    return recovery


def _unrecorded_messages_to(store: ReminderStore, phone: str, since: datetime) -> List[str]:
    """Distinct message ids with statuses for `phone` since `since` that no reminder holds."""
    recorded = select(reminders.c.provider_message_id).where(reminders.c.provider_message_id.isnot(None))
    with store.engine.connect() as conn:
        rows = conn.execute(select(unmatched_statuses.c.message_id).where(
            (unmatched_statuses.c.recipient == phone) & (unmatched_statuses.c.at >= since)
            & unmatched_statuses.c.message_id.notin_(recorded)).distinct()).all()
    return sorted(row[0] for row in rows)


def _release(store: ReminderStore, appointment_id: str, claimed_at: datetime, now: datetime) -> bool:
    """sending -> scheduled, only if nobody moved it since (conditional UPDATE)."""
    with store.engine.begin() as conn:
        moved = conn.execute(update(reminders).where(
            (reminders.c.appointment_id == appointment_id) & (reminders.c.state == states.SENDING)
            & (reminders.c.updated_at <= claimed_at)).values(state=states.SCHEDULED, updated_at=now)).rowcount
        if moved == 1:
            rid = conn.execute(select(reminders.c.id).where(reminders.c.appointment_id == appointment_id)).scalar_one()
            store._add_event(conn, rid, RELEASED, True, now, "job", {"claimed_at": claimed_at.isoformat()})
    return moved == 1
