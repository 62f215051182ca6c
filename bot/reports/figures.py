"""The service figures of a period: pure computation, no I/O, so that the
command line and the staff console share it.

Input: the reminders of the period's service days with their event history
(`ReminderHistory`, read by `bot.reports.load`) and the period's appointments
from the booking system, in every status. Output: `Figures`, whose
`to_dict()` is plain JSON. `compute_figures` does it in one step;
`reminder_facts` then `figures_from_facts` in two, so that the reminders'
part can be computed while the booking system is still being read.

Words used in every definition below:

* **attempted**: a reminder row in the store for a service day of the period
  (every row, whatever its state).
* **sent**: an attempted reminder with an applied `sent` event; its send time
  is the earliest such event's `at`.
* **delivered**: a sent reminder with a `delivered` or `read` event, applied or
  not (a receipt that arrives after the answer or after the window closed
  changes no state but still proves delivery), or answered through WhatsApp
  (button, text, queued; not by the SMS fallback's link).
* **read**: a sent reminder with a `read` event, applied or not (the read
  receipt often arrives after the button reply that it preceded).
* **answered**: a sent reminder with an applied citizen answer (`confirmed` or
  `cancelled`). The *first* answer gives the answer's time and channel; the
  reminder's final state gives the outcome (a citizen may confirm, then
  cancel).
* **failed**: an attempted reminder with an applied `failed` event and no
  delivery receipt (a provider that retried and delivered: delivery is the
  truth). It stays failed when the citizen then answered through the SMS
  fallback. Its reason is the reminder's (failures found before sending
  included: invalid_number, not_mobile).

Every rate is a `Share` (part, whole, value); a share of nothing has value
None, never an error. Local times (hour and month of sending) are in the
period's time zone, Europe/Madrid by default.
"""
from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence
from zoneinfo import ZoneInfo

from bot.booking import ATTENDED, NO_SHOW, Appointment
from bot.reminders import states
from bot.reminders.provider_status import NO_WHATSAPP, NOT_DELIVERED, NUMBER_DOES_NOT_EXIST
from bot.reminders.store import Reminder, ReminderEvent

# How a citizen answered (the `channel` of an answer event's detail).
ANSWER_CHANNELS = ("button", "text", "sms", "queued")

# Reminder outcomes compared by no-show rate.
OUTCOME_CONFIRMED = "confirmed"
OUTCOME_NO_ANSWER = "no_answer"
OUTCOME_FAILED = "failed"
OUTCOME_NO_REMINDER = "no_reminder"
OUTCOMES = (OUTCOME_CONFIRMED, OUTCOME_NO_ANSWER, OUTCOME_FAILED, OUTCOME_NO_REMINDER)

# Time from sending to the first answer: (label, upper bound in minutes,
# excluded); each bucket starts where the previous one ends.
ANSWER_TIME_BUCKETS = (
    ("<15 min", 15), ("15-60 min", 60), ("1-2 h", 120), ("2-4 h", 240),
    ("4-8 h", 480), ("8-24 h", 1440), (">24 h", None),
)
WITHIN_2H_MINUTES = 120

# The figures that the reference deployment reported (docs/architecture.md), for comparison.
REFERENCE = {
    "answer_rate_low": 0.60,
    "answer_rate_high": 0.63,
    "cancelled_share_of_appointments": 0.127,
    "answered_within_2h_share": 0.50,
    # "no-shows before (SMS reminder only) ~19 %", "after: halved".
    "no_show_rate_before": 0.19,
    "no_show_rate_after": 0.095,
    # Shares of sends failing, by reason.
    "failure_share_by_reason": {
        NO_WHATSAPP: 0.0607,
        NOT_DELIVERED: 0.0619,
        NUMBER_DOES_NOT_EXIST: 0.0071,
    },
}


# --- inputs -------------------------------------------------------------------
@dataclass(frozen=True)
class ReminderHistory:
    """One reminder and every event recorded for it."""
    reminder: Reminder
    events: Sequence[ReminderEvent]


@dataclass(frozen=True)
class Period:
    """The service days first_day..last_day (both included), of one office or
    of every office; `timezone` gives the local hour and month of sending."""
    first_day: date
    last_day: date
    office_id: Optional[str] = None  # None: every office
    timezone: str = "Europe/Madrid"


@dataclass(frozen=True)
class Pricing:
    """WhatsApp's price of a delivered reminder (EUR) and the conversations
    free each month."""
    price_per_conversation: float = 0.04
    free_per_month: int = 0


# --- outputs ------------------------------------------------------------------
@dataclass(frozen=True)
class Share:
    """A rate with what it is made of: value = part / whole, None when whole is 0."""
    part: int
    whole: int
    value: Optional[float]


def share(part: int, whole: int) -> Share:
    return Share(part, whole, part / whole if whole else None)


@dataclass(frozen=True)
class Volume:
    """appointments: the period's appointments in the booking system, every status.
    reminders_attempted: attempted reminders.
    reminders_sent: sent reminders."""
    appointments: int
    reminders_attempted: int
    reminders_sent: int


@dataclass(frozen=True)
class Delivery:
    """delivery_rate: delivered / sent.
    read_rate: read / sent (citizens who hide read receipts count as unread).
    failure_rate: failed / attempted.
    failures_by_reason: per reason, failed with that reason / attempted, most
    frequent first; includes reasons found before sending (invalid_number,
    not_mobile), so the shares add up to failure_rate."""
    delivery_rate: Share
    read_rate: Share
    failure_rate: Share
    failures_by_reason: Dict[str, Share]


@dataclass(frozen=True)
class Answers:
    """answer_rate: answered / sent.
    by_channel: per channel (button, text, sms, queued, then any other), answered
    whose first answer came that way / answered.
    confirmed_share_of_appointments: reminders ending confirmed / appointments.
    cancelled_share_of_appointments: reminders ending cancelled / appointments
    (a cancel through Recorda before the reminder was sent counts too)."""
    answer_rate: Share
    by_channel: Dict[str, Share]
    confirmed_share_of_appointments: Share
    cancelled_share_of_appointments: Share


@dataclass(frozen=True)
class AnswerTimes:
    """Time from sending to the first answer, over answered reminders. A
    `queued` answer is timed when the booking system carried it out.
    answers_timed: answered reminders.
    median_minutes: the median of those times, in minutes; None without answers.
    within_2h: times under 120 min / answered (= the first three buckets).
    histogram: answered per bucket of ANSWER_TIME_BUCKETS, lower bound
    included, upper bound excluded."""
    answers_timed: int
    median_minutes: Optional[float]
    within_2h: Share
    histogram: Dict[str, int]


@dataclass(frozen=True)
class SendHour:
    """hour: the local hour of sending, 0-23.
    sent: sent reminders sent in that hour.
    answered: of those, answered.
    answer_rate: answered / sent; None for an hour without sends."""
    hour: int
    sent: int
    answered: int
    answer_rate: Optional[float]


@dataclass(frozen=True)
class NoShowGroup:
    """recorded: appointments with attendance recorded (status attended or no_show).
    no_shows: of those, no_show.
    rate: no_shows / recorded."""
    recorded: int
    no_shows: int
    rate: Optional[float]


@dataclass(frozen=True)
class NoShows:
    """overall: every appointment of the period with attendance recorded.
    by_outcome: the same, grouped by the appointment's reminder outcome:
      confirmed    the reminder ended confirmed;
      no_answer    it was sent and ended sent, delivered, read or expired;
      failed       it ended failed;
      no_reminder  no reminder row, or one never sent (scheduled, sending).
    A reminder that ended cancelled cancelled its appointment, which then has
    no attendance: those are counted as freed slots instead."""
    overall: NoShowGroup
    by_outcome: Dict[str, NoShowGroup]


@dataclass(frozen=True)
class FreedSlots:
    """cancelled_through_recorda: attempted reminders ending cancelled (a
    citizen's answer; the booking system cancelled the appointment then).
    median_notice_hours: the median, over those whose appointment the booking
    system lists, of (appointment start - time of the cancel), in hours."""
    cancelled_through_recorda: int
    median_notice_hours: Optional[float]


@dataclass(frozen=True)
class MonthCost:
    """month: YYYY-MM, the local month of sending.
    conversations: delivered reminders sent that month.
    billable: conversations beyond the month's free tier.
    cost_eur: billable x price per conversation, rounded to 0.0001 EUR."""
    month: str
    conversations: int
    billable: int
    cost_eur: float


@dataclass(frozen=True)
class Conversations:
    """WhatsApp charges per delivered template (since July 2025), so a
    conversation is a delivered reminder; the citizen's answer and our replies
    add nothing, even after the window has closed.
    by_month: every month with a sent reminder, in order.
    total_conversations, total_cost_eur: sums over the months."""
    price_per_conversation: float
    free_per_month: int
    by_month: List[MonthCost]
    total_conversations: int
    total_cost_eur: float


@dataclass(frozen=True)
class Figures:
    """Every figure of a period; `reference` holds the reference deployment's
    (REFERENCE) for comparison. by_send_hour lists the 24 local hours."""
    period: Period
    volume: Volume
    delivery: Delivery
    answers: Answers
    answer_times: AnswerTimes
    by_send_hour: List[SendHour]
    no_shows: NoShows
    freed_slots: FreedSlots
    conversations: Conversations
    reference: dict

    def to_dict(self) -> dict:
        return asdict(self, dict_factory=_json_dict)


def _json_dict(items) -> dict:
    return {key: value.isoformat() if isinstance(value, date) else value for key, value in items}


# --- one reminder's history, read once ------------------------------------------
class ReminderFacts(NamedTuple):
    """What the figures read of one reminder's history (reminder_facts).
    A named tuple: one is built for every reminder of the period, four
    times faster than a frozen dataclass of ten fields."""
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

    @property
    def minutes_to_answer(self) -> Optional[float]:
        if self.first_answer is None:
            return None
        return (self.first_answer.at - self.sent_at).total_seconds() / 60


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


def _channel(answer: ReminderEvent) -> str:
    return (answer.detail or {}).get("channel", "unknown")


def _failure_reason(reminder: Reminder, failure: ReminderEvent) -> str:
    # The row keeps the reason after an SMS answer moved the state on;
    # provider failures carry it only there, job failures in the event too.
    return reminder.reason or (failure.detail or {}).get("reason") or "unknown"


# The reminder events _facts reads: loaders may skip the others (scheduled,
# sending, expired, sms_*), a large share of a busy store's rows.
EVENTS_USED = (states.SENT, states.DELIVERED, states.READ, states.FAILED) + tuple(states.ANSWERS)
# The events whose detail _facts reads (_channel, _failure_reason): loaders
# may leave the others' undecoded.
DETAILS_USED = (states.FAILED,) + tuple(states.ANSWERS)


def _facts(history: ReminderHistory, zone: ZoneInfo) -> ReminderFacts:
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
    answered_on_whatsapp = any(_channel(a) != "sms" for a in answers)
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
    )


# --- the figures, section by section --------------------------------------------
def compute_figures(histories: Iterable[ReminderHistory], appointments: Iterable[Appointment],
                    period: Period, pricing: Pricing = Pricing()) -> Figures:
    return figures_from_facts(reminder_facts(histories, period), appointments, period, pricing)


def reminder_facts(histories: Iterable[ReminderHistory], period: Period) -> List[ReminderFacts]:
    """What the figures read of each reminder's history: the part of
    compute_figures that needs no appointments, so that a caller can do it
    while the booking system is still answering (the console does)."""
    zone = ZoneInfo(period.timezone)
    return [_facts(h, zone) for h in histories]


def figures_from_facts(facts: Sequence[ReminderFacts], appointments: Iterable[Appointment],
                       period: Period, pricing: Pricing = Pricing()) -> Figures:
    """compute_figures, from reminder_facts(histories, period) of the same period."""
    facts = list(facts)
    appointments = list(appointments)
    sent = [f for f in facts if f.sent_at is not None]
    return Figures(
        period=period,
        volume=Volume(len(appointments), len(facts), len(sent)),
        delivery=_delivery(facts, sent),
        answers=_answers(facts, sent, len(appointments)),
        answer_times=_answer_times(sent),
        by_send_hour=_by_send_hour(sent),
        no_shows=_no_shows(facts, appointments),
        freed_slots=_freed_slots(facts, appointments),
        conversations=_conversations(sent, pricing),
        reference=REFERENCE,
    )


def _delivery(facts: List[ReminderFacts], sent: List[ReminderFacts]) -> Delivery:
    reasons = Counter(f.failure_reason for f in facts if f.failure_reason)
    return Delivery(
        delivery_rate=share(sum(f.delivered for f in sent), len(sent)),
        read_rate=share(sum(f.read for f in sent), len(sent)),
        failure_rate=share(sum(reasons.values()), len(facts)),
        failures_by_reason={reason: share(count, len(facts))
                            for reason, count in sorted(reasons.items(), key=lambda rc: (-rc[1], rc[0]))},
    )


def _answers(facts: List[ReminderFacts], sent: List[ReminderFacts], appointments: int) -> Answers:
    answered = [f for f in sent if f.answered]
    channels = Counter(_channel(f.first_answer) for f in answered)
    # The four known channels always appear, with zero if unused.
    names = list(ANSWER_CHANNELS) + sorted(set(channels) - set(ANSWER_CHANNELS))
    return Answers(
        answer_rate=share(len(answered), len(sent)),
        by_channel={name: share(channels[name], len(answered)) for name in names},
        confirmed_share_of_appointments=share(_ending_in(facts, states.CONFIRMED), appointments),
        cancelled_share_of_appointments=share(_ending_in(facts, states.CANCELLED), appointments),
    )


def _ending_in(facts: List[ReminderFacts], state: str) -> int:
    return sum(f.state == state for f in facts)


def _answer_times(sent: List[ReminderFacts]) -> AnswerTimes:
    minutes = [f.minutes_to_answer for f in sent if f.answered]
    return AnswerTimes(
        answers_timed=len(minutes),
        median_minutes=statistics.median(minutes) if minutes else None,
        within_2h=share(sum(m < WITHIN_2H_MINUTES for m in minutes), len(minutes)),
        histogram=_histogram(minutes),
    )


def _histogram(minutes: List[float]) -> Dict[str, int]:
    counts = {label: 0 for label, _ in ANSWER_TIME_BUCKETS}
    for value in minutes:
        counts[_bucket(value)] += 1
    return counts


def _bucket(minutes: float) -> str:
    for label, upper in ANSWER_TIME_BUCKETS:
        if upper is None or minutes < upper:
            return label
    raise AssertionError("the last bucket is open-ended")


def _by_send_hour(sent: List[ReminderFacts]) -> List[SendHour]:
    sent_by_hour = Counter(f.sent_local.hour for f in sent)
    answered_by_hour = Counter(f.sent_local.hour for f in sent if f.answered)
    return [SendHour(hour, sent_by_hour[hour], answered_by_hour[hour],
                     share(answered_by_hour[hour], sent_by_hour[hour]).value)
            for hour in range(24)]


# The reminder outcome of each final state; a reminder that ended cancelled
# has none (its appointment has no attendance).
_OUTCOME_OF_STATE = {
    states.SCHEDULED: OUTCOME_NO_REMINDER, states.SENDING: OUTCOME_NO_REMINDER,
    states.CONFIRMED: OUTCOME_CONFIRMED,
    states.SENT: OUTCOME_NO_ANSWER, states.DELIVERED: OUTCOME_NO_ANSWER, states.READ: OUTCOME_NO_ANSWER,
    states.EXPIRED: OUTCOME_NO_ANSWER,
    states.FAILED: OUTCOME_FAILED,
}


def _outcome(facts: Optional[ReminderFacts]) -> Optional[str]:
    """The reminder outcome an appointment's attendance is compared by; None
    for a reminder that ended cancelled."""
    return OUTCOME_NO_REMINDER if facts is None else _OUTCOME_OF_STATE.get(facts.state)


def _no_shows(facts: List[ReminderFacts], appointments: List[Appointment]) -> NoShows:
    by_appointment = {f.reminder.appointment_id: f for f in facts}
    recorded = [a for a in appointments if a.status in (ATTENDED, NO_SHOW)]
    groups = {outcome: [] for outcome in OUTCOMES}
    for appointment in recorded:
        outcome = _outcome(by_appointment.get(appointment.id))
        if outcome is not None:
            groups[outcome].append(appointment)
    return NoShows(overall=_no_show_group(recorded),
                   by_outcome={outcome: _no_show_group(group) for outcome, group in groups.items()})


def _no_show_group(appointments: List[Appointment]) -> NoShowGroup:
    no_shows = sum(a.status == NO_SHOW for a in appointments)
    return NoShowGroup(len(appointments), no_shows, share(no_shows, len(appointments)).value)


def _freed_slots(facts: List[ReminderFacts], appointments: List[Appointment]) -> FreedSlots:
    starts = {a.id: a.starts_at for a in appointments}
    cancelled = [f for f in facts if f.state == states.CANCELLED]
    # Notice needs the appointment's start: one the booking system no longer lists is left out.
    notice = [(starts[f.reminder.appointment_id] - f.cancelled_at).total_seconds() / 3600
              for f in cancelled if f.reminder.appointment_id in starts and f.cancelled_at]
    return FreedSlots(len(cancelled), statistics.median(notice) if notice else None)


def _conversations(sent: List[ReminderFacts], pricing: Pricing) -> Conversations:
    months = [_month(f.sent_local) for f in sent]
    delivered = Counter(month for month, f in zip(months, sent) if f.delivered)
    by_month = [_month_cost(month, delivered[month], pricing) for month in sorted(set(months))]
    return Conversations(
        price_per_conversation=pricing.price_per_conversation,
        free_per_month=pricing.free_per_month,
        by_month=by_month,
        total_conversations=sum(m.conversations for m in by_month),
        total_cost_eur=round(sum(m.cost_eur for m in by_month), 4),
    )


def _month(local: datetime) -> str:
    # YYYY-MM as strftime("%Y-%m") writes it, at a tenth of the cost.
    return f"{local.year:04d}-{local.month:02d}"


def _month_cost(month: str, conversations: int, pricing: Pricing) -> MonthCost:
    billable = max(0, conversations - pricing.free_per_month)
    return MonthCost(month, conversations, billable, round(billable * pricing.price_per_conversation, 4))
