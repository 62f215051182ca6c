"""The sends of one reminder, touch by touch, with the answers each one got.

An office may send several touches for one appointment (offices.yml): a
later touch re-arms the same reminder row, so one history holds every
send. An answer belongs to the touch whose send was the latest before it,
in the order the history was recorded: the citizen answered the message
they had last. Pure computation, no I/O.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable, List, NamedTuple, Optional, Tuple

from bot.reminders import states
from bot.reminders.records import ReminderEvent


class Send(NamedTuple):
    """One applied `sent` event and what followed it before the next send."""
    touch: Optional[str]            # the sent event's; None for a send outside the job (older rows)
    at: datetime
    answered_at: Optional[datetime]  # the first citizen answer attributed to this send
    cancelled: bool                  # an applied cancel was attributed to this send


def sends_of(applied: Iterable[ReminderEvent]) -> Tuple[Send, ...]:
    """The sends of a history's applied events, in recorded order, each with
    its answers; an answer before any send (a cancel through the assistant
    before the reminder went out) belongs to none."""
    sends: List[Send] = []
    for event in applied:
        if event.event == states.SENT:
            sends.append(Send((event.detail or {}).get("touch"), event.at, None, False))
        elif event.event in states.ANSWERS and sends:
            last = sends[-1]
            sends[-1] = last._replace(
                answered_at=last.answered_at or event.at,
                cancelled=last.cancelled or event.event == states.CANCELLED)
    return tuple(sends)
