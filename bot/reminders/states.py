"""The reminder state machine (docs/architecture.md, "Reminder states").

    scheduled -> sending -> sent -> delivered -> read -> confirmed | cancelled
    side exits: failed(reason) before delivery, expired when the reply window closes

Provider status events arrive at least once and out of order, so a move is
only ever forward: an event for an earlier or equal stage changes nothing.
"""
from __future__ import annotations

from typing import Optional

SCHEDULED = "scheduled"
SENDING = "sending"
SENT = "sent"
DELIVERED = "delivered"
READ = "read"
CONFIRMED = "confirmed"
CANCELLED = "cancelled"
FAILED = "failed"
EXPIRED = "expired"

ALL_STATES = (SCHEDULED, SENDING, SENT, DELIVERED, READ, CONFIRMED, CANCELLED, FAILED, EXPIRED)
ANSWERS = (CONFIRMED, CANCELLED)

# Progress along the happy path; failed/expired are handled separately.
_RANK = {SCHEDULED: 0, SENDING: 1, SENT: 2, DELIVERED: 3, READ: 4, CONFIRMED: 5, CANCELLED: 6}


def next_state(current: str, target: str) -> Optional[str]:
    """The state after `target` is reported to a reminder in `current`, or
    None when the report changes nothing (late, duplicate or not allowed)."""
    if current == target or target not in ALL_STATES:
        return None  # an event that is not a state (e.g. "sms_sent") moves nothing
    if target in ANSWERS:
        # A citizen may change their mind from confirmed to cancelled, never
        # back: the booking system does not confirm a cancelled appointment.
        if current == CANCELLED:
            return None
        return target
    if current in ANSWERS:
        return None
    if target == FAILED:
        return FAILED if current in (SCHEDULED, SENDING, SENT) else None
    if target == EXPIRED:
        return EXPIRED if current in (SENT, DELIVERED, READ) else None
    if current == FAILED:
        # A provider that retried and then delivered: delivery is the truth.
        return target if target in (DELIVERED, READ) else None
    if current == EXPIRED:
        return None
    return target if _RANK[target] > _RANK[current] else None
