"""The story of a past reminder, told the same way by the booking seed (what
the booking system remembers: confirmed, cancelled, attended, no-show, and
when) and by the history filler (bot.dev.sandbox.history: what the reminder store
remembers: sent, delivered, read, answered, failed, expired, and when).

Everything here is a pure function of the service day, the office, the
appointment id, the number and the profile (bot.dev.sandbox.citizen_behaviour),
so both tell one story without talking to each other, and a booking
database seeded on another day tells the same story of the days it shares.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta, timezone
from typing import Optional
from zoneinfo import ZoneInfo

from bot.dev.sandbox.citizen_behaviour import (
    CANCELLED,
    CONFIRMED,
    HIDDEN,
    LATE,
    NEVER,
    NOT_DELIVERED,
    Behaviour,
    Profile,
    answer_delay,
    late_read_delay,
    reply_pause,
)
from bot.offices.service_days import previous_service_day

MADRID = ZoneInfo("Europe/Madrid")
UTC = timezone.utc

# The daily job's hour, local time: the town tried a few over the weeks.
SEND_HOURS = (16, 17, 17, 18)
SENDS_PER_SECOND = 4
# Nobody answers before the appointment's last minutes.
LAST_ANSWER_BEFORE_START = timedelta(minutes=10)
# Asleep: what would happen then happens in the morning.
NIGHT = (time(0, 0), time(7, 0))
MORNING_SPREAD_S = 90 * 60

# Reminder outcomes, as bot.reports.compute compares no-shows by them.
OUTCOME_CONFIRMED, OUTCOME_NO_ANSWER, OUTCOME_FAILED, OUTCOME_NO_REMINDER = (
    "confirmed", "no_answer", "failed", "no_reminder")
# The chance of a no-show by outcome: the reference town had ~19 % with an
# SMS reminder only (no reminder here) and half that with Recorda.
NO_SHOW_RATES = {OUTCOME_CONFIRMED: 0.04, OUTCOME_NO_ANSWER: 0.17, OUTCOME_FAILED: 0.12,
                 OUTCOME_NO_REMINDER: 0.19}


def _stable(text: str) -> int:
    return zlib.crc32(text.encode())


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def reminder_sent_at(office_id: str, starts_at: datetime) -> datetime:
    """When the job sent the reminder of an appointment (its start in Madrid
    wall-clock time, naive or aware): the afternoon of the service day
    before, a few minutes apart per office, in the order of the day's slots."""
    day = starts_at.date()
    hour = SEND_HOURS[_stable(day.isoformat()) % len(SEND_HOURS)]
    local = datetime.combine(previous_service_day(day), time(hour, _stable(office_id) % 10))
    slot = max(0, (starts_at.hour * 60 + starts_at.minute - 8 * 60) // 15)
    local += timedelta(seconds=slot // SENDS_PER_SECOND)
    return local.replace(tzinfo=MADRID).astimezone(UTC)


def answer_deadline(sent_at: datetime, reply_window: timedelta, starts_at: datetime) -> datetime:
    """The last moment an answer counts: the window closes, or the appointment is about to start."""
    return min(sent_at + reply_window, starts_at - LAST_ANSWER_BEFORE_START)


@dataclass(frozen=True)
class PastReminder:
    """What happened to one reminder; times are aware UTC, whole seconds."""
    behaviour: Behaviour
    sent_at: datetime
    failed_at: Optional[datetime] = None
    error: Optional[dict] = None
    delivered_at: Optional[datetime] = None
    read_at: Optional[datetime] = None
    answer: Optional[str] = None         # CONFIRMED | CANCELLED
    channel: Optional[str] = None        # button | text
    answered_at: Optional[datetime] = None

    @property
    def reached(self) -> bool:
        """Delivered on WhatsApp, so an answer there was possible."""
        return self.failed_at is None and self.delivered_at is not None

    @property
    def outcome(self) -> str:
        """confirmed | cancelled | failed | no_answer."""
        if self.failed_at is not None:
            return OUTCOME_FAILED
        return self.answer or OUTCOME_NO_ANSWER

    def answered(self, answer: str, at: datetime) -> "PastReminder":
        """The same story with the answer the booking system recorded."""
        at = _second(at.astimezone(UTC))
        read_at = None
        if self.behaviour.reads != HIDDEN:
            read_at = max(self.delivered_at, min(self.read_at or at, at) - timedelta(seconds=20))
        return replace(self, answer=answer, channel=self.channel or "button", answered_at=at,
                       read_at=read_at)

    def unanswered(self) -> "PastReminder":
        return replace(self, answer=None, channel=None, answered_at=None)


def _morning(moment: datetime, rng) -> datetime:
    """A moment in the night moves to the next morning: people sleep."""
    local = moment.astimezone(MADRID)
    if not NIGHT[0] <= local.time() < NIGHT[1]:
        return moment
    morning = datetime.combine(local.date(), NIGHT[1]).replace(tzinfo=MADRID)
    return (morning + timedelta(seconds=rng.uniform(0, MORNING_SPREAD_S))).astimezone(UTC)


def plan_past_reminder(profile: Profile, number: str, appointment_id: str, sent_at: datetime,
                       deadline: datetime) -> PastReminder:
    """The story of the reminder of one appointment, sent at `sent_at` to
    `number` (E.164), under the number's behaviour in `profile`."""
    behaviour = profile.behaviour_of(number)
    rng = profile.rng(number, appointment_id)
    sent_at = _second(sent_at)
    after = lambda seconds: _second(sent_at + timedelta(seconds=seconds))  # noqa: E731
    if behaviour.failure:
        return PastReminder(behaviour, sent_at, failed_at=after(rng.uniform(2, 40)),
                            error=behaviour.failure)
    if not behaviour.delivered:
        # Phone off or an old app: the platform gives up after some hours.
        return PastReminder(behaviour, sent_at, failed_at=after(rng.uniform(2, 8) * 3600),
                            error=NOT_DELIVERED)
    delivered_s = rng.uniform(1, 8)
    if rng.random() < 0.15:  # the phone was off for a while
        delivered_s += rng.expovariate(1 / 2400)
    delivered_at = after(delivered_s)
    story = PastReminder(behaviour, sent_at, delivered_at=delivered_at)
    if behaviour.reads == NEVER:
        return story
    if behaviour.reads == LATE:
        read_at = _morning(after(delivered_s + late_read_delay(rng)), rng)
        answer_at = read_at + timedelta(seconds=reply_pause(rng))
    else:
        answer_at = _morning(after(delivered_s + answer_delay(rng)), rng)
        read_at = answer_at - timedelta(seconds=rng.uniform(10, 180))
    read_at, answer_at = _second(max(read_at, delivered_at)), _second(max(answer_at, delivered_at))
    if behaviour.reads == HIDDEN:
        read_at = None
    if read_at is not None and read_at > deadline:
        read_at = None
    if not behaviour.answers or answer_at > deadline:
        return replace(story, read_at=read_at)   # meant to answer, but too late
    return replace(story, read_at=read_at, answer=behaviour.answer, channel=behaviour.channel,
                   answered_at=answer_at)


def shows_up(profile: Profile, appointment_id: str, outcome: str) -> bool:
    """Whether the citizen came, given the reminder's outcome: one draw per
    appointment, so the seed and the filler agree."""
    return profile.rng(appointment_id, "attendance").random() >= NO_SHOW_RATES[outcome]


__all__ = ["CANCELLED", "CONFIRMED", "NO_SHOW_RATES", "PastReminder", "answer_deadline",
           "plan_past_reminder", "reminder_sent_at", "shows_up"]
