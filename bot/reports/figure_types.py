"""What the service figures of a period are: the period asked for, and each
figure as a typed value with its definition (bot/reports/compute.py
computes them). `Figures.to_dict()` is plain JSON.

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
* **send**: an applied `sent` event. A reminder has one per touch of its
  office it went out for (offices.yml `touches`: a later touch re-arms the
  reminder of an unanswered earlier one), each naming its touch; a send
  recorded without a touch counts as its office's last touch. An applied
  citizen answer belongs to the latest send recorded before it.
* **freed slot**: the slot of an appointment a citizen cancelled through
  Recorda, as the worker's offer round recorded it (bot/offers: it records
  the cancels of the next 14 days once the booking system shows the
  appointment cancelled). A period's freed slots are those whose
  appointment is on the period's service days (its local days, in the
  period's time zone), of the office asked or of every office, whenever
  they were freed.
* **offer that went out**: an offer of a freed slot to a person on the
  booking system's waiting list whose send was recorded, or that the
  person answered (a tap can come before the send is recorded). An offer
  closed while still pending (the assistant was down) or that failed did
  not go out.

Every rate is a `Share` (part, whole, value); a share of nothing has value
None, never an error. Local times (hour and month of sending) are in the
period's time zone, Europe/Madrid by default.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Dict, List, Optional

from bot.reminders.provider_status import NO_WHATSAPP, NOT_DELIVERED, NUMBER_DOES_NOT_EXIST
from bot.reports.experiments import ExperimentFigures
from bot.reports.send_time import SendHourAdvice
from bot.reports.whatsapp_cost import Conversations

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


@dataclass(frozen=True)
class Period:
    """The service days first_day..last_day (both included), of one office or
    of every office; `timezone` gives the local hour and month of sending."""
    first_day: date
    last_day: date
    office_id: Optional[str] = None  # None: every office
    timezone: str = "Europe/Madrid"


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
class TouchFigures:
    """touch: the touch's name (offices.yml).
    sent: its sends (an appointment whose earlier touch went unanswered
    counts for both touches).
    answered: sends of it that an answer (confirmed or cancelled) belongs
    to / sent.
    cancelled: sends of it that a cancel belongs to / sent."""
    touch: str
    sent: int
    answered: Share
    cancelled: Share


@dataclass(frozen=True)
class Touches:
    """overall: every office's sends by touch, earliest touch first.
    by_office: per office with sends, every touch offices.yml gives it (in
    its order, none sent: 0) then any other touch its sends name."""
    overall: List[TouchFigures]
    by_office: Dict[str, List[TouchFigures]]


@dataclass(frozen=True)
class ExperimentReport(ExperimentFigures):
    """The figures of an office's wording experiment (offices.yml
    `experiment`; bot/reports/experiments.py defines them) over its sent
    reminders with a variant of it; an appointment is a sent reminder, its
    answer any answer after sending, its cancel a reminder ending
    cancelled, its no-show the booking system's attendance. retired: every
    variant of the experiment, True where it is no longer given (retired
    in offices.yml or from the console)."""
    retired: Dict[str, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class OfficeSendTime:
    """send_at: the local time the office's hourly sends start at now
    (offices.yml `send_at`). sends: its sends in the period, every touch.
    min_sent: the sends an hour needs to compete. advice: the hour whose
    sends were most often answered within 2 h (an answer belonging to that
    send, under 120 min after it) next to the hour it sent most at
    (bot/reports/send_time.py); None when no hour had min_sent sends."""
    office_id: str
    send_at: str
    sends: int
    min_sent: int
    advice: Optional[SendHourAdvice]


@dataclass(frozen=True)
class FreedSlotFigures:
    """The waiting list's figures over some of the period's freed slots.
    freed: freed slots.
    offerable: freed slots the round could offer (freed early enough, at an
    office with a waiting list: any state but not_offered).
    offered: freed slots with at least one offer that went out (or booked
    again through one).
    offers_sent: the offers of those slots that went out.
    rebooked: freed slots someone on the list booked through an offer.
    median_minutes_to_rebook: the median, over rebooked slots, of the time
    from the slot's freeing to that booking, in minutes; None without any.
    reused: rebooked / freed (what the waiting list gave back to the agenda).
    rebooked_of_offered: rebooked / offered.
    not_offered_reasons: every freed slot that was not offered, by why
    (offered + the counts = freed): office_has_no_waiting_list and too_late
    (at its freeing, or before anyone could be offered it), nobody_left (the
    list had nobody to offer it to), still_open (not offered yet), other."""
    freed: int
    offerable: int
    offered: int
    offers_sent: int
    rebooked: int
    median_minutes_to_rebook: Optional[float]
    reused: Share
    rebooked_of_offered: Share
    not_offered_reasons: Dict[str, int]


@dataclass(frozen=True)
class WaitingList:
    """overall: the figures of every freed slot of the period.
    by_office: the same per office with freed slots, by office id."""
    overall: FreedSlotFigures
    by_office: Dict[str, FreedSlotFigures]


@dataclass(frozen=True)
class Figures:
    """Every figure of a period; `reference` holds the reference deployment's
    (REFERENCE) for comparison. by_send_hour lists the 24 local hours;
    `conversations` is what the reminders cost (bot/reports/whatsapp_cost.py).
    touches, experiments and send_time_advice are per office (by office
    id, experiments and advice in the order of the ids). `freed_slots`
    counts the reminders that ended cancelled; `waiting_list` what the
    offer round did with the slots they freed (FreedSlotFigures)."""
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
    touches: Touches
    experiments: List[ExperimentReport]
    send_time_advice: List[OfficeSendTime]
    waiting_list: WaitingList

    def to_dict(self) -> dict:
        return asdict(self, dict_factory=_json_dict)


def _json_dict(items) -> dict:
    return {key: value.isoformat() if isinstance(value, date) else value for key, value in items}
