"""What the figures read of one reminder's history, read once: whether and
when it was sent, delivered, read, failed and answered (the words are
defined in bot/reports/figure_types.py), what the provider said its
message costs, and each touch's send with its answers (touch_history.py).
Pure computation, no I/O."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, Iterable, Mapping, NamedTuple, Optional, Sequence, Tuple
from zoneinfo import ZoneInfo

from bot.reminders import states
from bot.reminders.records import Reminder, ReminderEvent
from bot.reports.touch_history import Send, sends_of

# The reminder events facts_of reads: loaders may skip the others (scheduled,
# sending, expired, sms_*), a large share of a busy store's rows.
EVENTS_USED = (states.SENT, states.DELIVERED, states.READ, states.FAILED) + tuple(states.ANSWERS)
# The provider's receipts, whose detail may carry its pricing of the message
# (ReminderStore.apply_provider_status keeps it): a charged message has it
# in its delivered or read status; the sent status's is only an estimate.
PRICED_EVENTS = (states.DELIVERED, states.READ)
# The events whose detail facts_of reads (answer_channel, _failure_reason,
# _provider_pricing, the touch of a send): loaders may leave the others' undecoded.
DETAILS_USED = PRICED_EVENTS + (states.FAILED, states.SENT) + tuple(states.ANSWERS)
# ... and of the priced events, only those whose detail names a price; of
# the sends, only those that name their touch (the rest is a message id).
DETAILS_ONLY_MENTIONING = {**{kind: '"pricing"' for kind in PRICED_EVENTS}, states.SENT: '"touch"'}


@dataclass(frozen=True)
class ReminderHistory:
    """One reminder and every event recorded for it."""
    reminder: Reminder
    events: Sequence[ReminderEvent]


class ReminderFacts(NamedTuple):
    """What the figures read of one reminder's history (facts_of).
    A named tuple: one is built for every reminder of the period, four
    times faster than a frozen dataclass of twelve fields."""
    reminder: Reminder
    state: str                              # the reminder's
    sent_at: Optional[datetime]
    sent_local: Optional[datetime]          # sent_at in the period's time zone
    delivered: bool
    read: bool
    failure_reason: Optional[str]           # None unless the reminder failed
    first_answer: Optional[ReminderEvent]   # only for a sent reminder
    answered: bool                          # first_answer is not None
    cancelled_at: Optional[datetime]        # when the answer that freed the slot came
    pricing: Optional[Mapping[str, Any]]    # the provider's {billable, category, model}, if it said
    sends: Tuple[Send, ...]                 # every touch's send with its answers, in order

    @property
    def minutes_to_answer(self) -> Optional[float]:
        # None exactly when unanswered: an answer is only kept for a sent reminder.
        if self.first_answer is None or self.sent_at is None:
            return None
        return (self.first_answer.at - self.sent_at).total_seconds() / 60


def answer_channel(answer: ReminderEvent) -> str:
    """How the citizen answered: the `channel` of the answer event's detail."""
    return (answer.detail or {}).get("channel", "unknown")


def facts_of(history: ReminderHistory, zone: ZoneInfo) -> ReminderFacts:
    # The events are sorted out once, not once per question: this runs for
    # every reminder of the period (18,000 for a month of a large town).
    events, reminder = history.events, history.reminder
    applied = [e for e in events if e.applied]
    earliest = _earliest_of_each(applied)
    sent, failure, cancel = earliest.get(states.SENT), earliest.get(states.FAILED), earliest.get(states.CANCELLED)
    answers = [e for e in applied if e.event in states.ANSWERS]
    # Receipts count applied or not: they prove delivery whenever they came.
    recorded = {e.event for e in events}
    receipt = states.DELIVERED in recorded or states.READ in recorded
    # An answer through the SMS fallback's link says nothing about WhatsApp.
    answered_on_whatsapp = any(answer_channel(a) != "sms" for a in answers)
    first_answer = min(answers, key=_at) if sent and answers else None
    return ReminderFacts(
        reminder=reminder,
        state=reminder.state,
        sent_at=sent.at if sent else None,
        sent_local=sent.at.astimezone(zone) if sent else None,
        delivered=sent is not None and (receipt or answered_on_whatsapp),
        read=sent is not None and states.READ in recorded,
        # A delivery after a failure (a provider's retry) makes it no failure.
        failure_reason=_failure_reason(reminder, failure) if failure and not receipt else None,
        first_answer=first_answer,
        answered=first_answer is not None,
        cancelled_at=cancel.at if cancel and reminder.state == states.CANCELLED else None,
        pricing=_provider_pricing(events) if receipt else None,
        sends=sends_of(applied),
    )


def _at(event: ReminderEvent) -> datetime:
    return event.at


def _earliest_of_each(events: Iterable[ReminderEvent]) -> Dict[str, ReminderEvent]:
    """The earliest event of each kind; on a tie the first recorded, as min() picks."""
    earliest: Dict[str, ReminderEvent] = {}
    for event in events:
        known = earliest.get(event.event)
        if known is None or event.at < known.at:
            earliest[event.event] = event
    return earliest


def _provider_pricing(events: Iterable[ReminderEvent]) -> Optional[Mapping[str, Any]]:
    """The pricing the provider's last receipt with one gave the message,
    applied or not; None when none did (MessageBird)."""
    found = None
    for event in events:
        detail = event.detail
        # Most events have no detail decoded: the cheap test comes first.
        if detail and "pricing" in detail and event.event in PRICED_EVENTS:
            found = detail["pricing"]
    return found if isinstance(found, Mapping) else None


def _failure_reason(reminder: Reminder, failure: ReminderEvent) -> str:
    # The row keeps the reason after an SMS answer moved the state on;
    # provider failures carry it only there, job failures in the event too.
    return reminder.reason or (failure.detail or {}).get("reason") or "unknown"
