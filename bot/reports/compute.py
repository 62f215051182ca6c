"""The service figures of a period, computed: pure computation, no I/O, so
that the command line and the staff console share it.

Input: the reminders of the period's service days with their event history
(`ReminderHistory`, read by `bot.reports.load`), the period's appointments
from the booking system, in every status, and the setup of the reminders'
offices (`OfficeSetup`: touches, sending hour, wording experiment; also read
by `bot.reports.load`), and the period's freed slots with their offers to
the waiting list (`FreedSlotHistory`, read by `bot.reports.load`). Output: `Figures`
(bot/reports/figure_types.py, where every figure is defined).
`compute_figures` does it in one step; `reminder_facts` then
`figures_from_facts` in two, so that the reminders' part can be computed
while the booking system is still being read.
"""
from __future__ import annotations

import statistics
from collections import Counter
from typing import Dict, Iterable, List, Mapping, Optional, Sequence
from zoneinfo import ZoneInfo

from bot.booking import ATTENDED, NO_SHOW, Appointment
from bot.reminders import states
from bot.reports.experiment_report import experiment_reports
from bot.reports.figure_types import (
    ANSWER_CHANNELS,
    ANSWER_TIME_BUCKETS,
    OUTCOME_CONFIRMED,
    OUTCOME_FAILED,
    OUTCOME_NO_ANSWER,
    OUTCOME_NO_REMINDER,
    OUTCOMES,
    REFERENCE,
    WITHIN_2H_MINUTES,
    Answers,
    AnswerTimes,
    Delivery,
    Figures,
    FreedSlots,
    NoShowGroup,
    NoShows,
    Period,
    SendHour,
    Volume,
    share,
)
from bot.reports.freed_slot_figures import FreedSlotHistory, waiting_list_figures
from bot.reports.office_setup import OfficeSetup
from bot.reports.reminder_history import ReminderFacts, ReminderHistory, answer_channel, facts_of
from bot.reports.send_time_report import send_time_advice
from bot.reports.touch_figures import touch_figures
from bot.reports.whatsapp_cost import Pricing, conversation_costs

DEFAULT_PRICING = Pricing()  # frozen: one instance serves every call


def compute_figures(histories: Iterable[ReminderHistory], appointments: Iterable[Appointment],
                    period: Period, pricing: Pricing = DEFAULT_PRICING,
                    setups: Optional[Mapping[str, OfficeSetup]] = None,
                    freed: Optional[FreedSlotHistory] = None) -> Figures:
    """setups: by office id; an office without one has Recorda's built-in
    settings (one touch, sends at 17:00, no experiment). freed: the period's
    freed slots and their offers; without it the waiting list's figures
    are zero."""
    return figures_from_facts(reminder_facts(histories, period), appointments, period, pricing, setups, freed)


def reminder_facts(histories: Iterable[ReminderHistory], period: Period) -> List[ReminderFacts]:
    """What the figures read of each reminder's history: the part of
    compute_figures that needs no appointments, so that a caller can do it
    while the booking system is still answering (the console does)."""
    zone = ZoneInfo(period.timezone)
    return [facts_of(h, zone) for h in histories]


def figures_from_facts(facts: Sequence[ReminderFacts], appointments: Iterable[Appointment],
                       period: Period, pricing: Pricing = DEFAULT_PRICING,
                       setups: Optional[Mapping[str, OfficeSetup]] = None,
                       freed: Optional[FreedSlotHistory] = None) -> Figures:
    """compute_figures, from reminder_facts(histories, period) of the same period."""
    facts = list(facts)
    appointments = list(appointments)
    setups = setups or {}
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
        conversations=conversation_costs(sent, pricing),
        reference=REFERENCE,
        touches=touch_figures(facts, setups),
        experiments=experiment_reports(facts, appointments, setups),
        send_time_advice=send_time_advice(facts, setups, ZoneInfo(period.timezone)),
        waiting_list=waiting_list_figures(freed or FreedSlotHistory()),
    )


# --- delivery and answers -------------------------------------------------------
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
    # The first answer of each answered reminder (`answered` is first_answer is not None).
    answered = [f.first_answer for f in sent if f.first_answer is not None]
    channels = Counter(answer_channel(answer) for answer in answered)
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
    # A sent reminder's minutes_to_answer is None exactly when it is unanswered.
    minutes = [m for m in (f.minutes_to_answer for f in sent) if m is not None]
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
    # Every sent reminder has its sending time (facts_of sets it with sent_at).
    hours = [(f.sent_local.hour, f.answered) for f in sent if f.sent_local is not None]
    sent_by_hour = Counter(hour for hour, _ in hours)
    answered_by_hour = Counter(hour for hour, answered in hours if answered)
    return [SendHour(hour, sent_by_hour[hour], answered_by_hour[hour],
                     share(answered_by_hour[hour], sent_by_hour[hour]).value)
            for hour in range(24)]


# --- attendance -------------------------------------------------------------------
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
    groups: Dict[str, List[Appointment]] = {outcome: [] for outcome in OUTCOMES}
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
