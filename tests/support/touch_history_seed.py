"""A reminder history with two touches, a wording experiment and sends at
three hours, every figure of which is known (tests/integration/test_touch_figures.py
says which), written through the reminder store's own API with the frozen
clock at each moment.

oac-centre sends an early touch three service days before (Monday) and the
day-before one (Wednesday) for Thursday 5 November 2026, both at 18:00; each
appointment has a variant of the experiment `cost-sentence`:

    plain  P1-P3 confirm the early touch, P4 cancels it, P5 confirms then
           cancels it; P6-P9 answer only the day-before touch; P10 never.
    cost   C1 confirms the early touch, C2 cancels it; C3 confirms the
           day-before touch; C4-C10 never answer.

oac-la-platja sends its one touch (day_before) for Tuesday 3 November:
40 at 17:00 (14 answered within 30 min, 3 of them cancels; 2 answered at
exactly 2 h), 30 at 10:00 (21 answered in 1 h) and, recorded without a
touch, 5 at 12:00 (answered in 5 min).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import List, Optional, Tuple
from zoneinfo import ZoneInfo

from bot.booking import ATTENDED, BOOKED, CANCELLED, NO_SHOW, Appointment
from bot.reminders import states
from bot.reminders.store import ReminderStore

MADRID = ZoneInfo("Europe/Madrid")
CENTRE, PLATJA = "oac-centre", "oac-la-platja"
MONDAY, TUESDAY, WEDNESDAY, THURSDAY = (date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4),
                                        date(2026, 11, 5))

OFFICES_YML = """
offices:
  oac-centre:
    send_at: "18:00"
    touches:
      - {name: early, days_before: 3}
      - {name: day_before, days_before: 1}
    experiment:
      name: cost-sentence
      variants:
        plain: {}
        cost: {day_before: appointment_reminder_cost}
        short: {}
      retired: [short]
  oac-la-platja: {}
"""

# (appointment, variant, early answer, its minutes, day-before answer, its minutes, attendance)
# An answer "confirmed,cancelled" is a confirmation then, a day later, a cancel.
CENTRE_APPOINTMENTS: List[Tuple[str, str, Optional[str], int, Optional[str], int, str]] = [
    ("P1", "plain", "confirmed", 30, None, 0, ATTENDED),
    ("P2", "plain", "confirmed", 90, None, 0, ATTENDED),
    ("P3", "plain", "confirmed", 180, None, 0, NO_SHOW),
    ("P4", "plain", "cancelled", 20, None, 0, CANCELLED),
    ("P5", "plain", "confirmed,cancelled", 10, None, 0, CANCELLED),
    ("P6", "plain", None, 0, "confirmed", 15, ATTENDED),
    ("P7", "plain", None, 0, "confirmed", 300, ATTENDED),
    ("P8", "plain", None, 0, "confirmed", 45, BOOKED),
    ("P9", "plain", None, 0, "confirmed", 100, BOOKED),
    ("P10", "plain", None, 0, None, 0, ATTENDED),
    ("C1", "cost", "confirmed", 40, None, 0, ATTENDED),
    ("C2", "cost", "cancelled", 150, None, 0, CANCELLED),
    ("C3", "cost", None, 0, "confirmed", 60, NO_SHOW),
    ("C4", "cost", None, 0, None, 0, NO_SHOW),
    ("C5", "cost", None, 0, None, 0, NO_SHOW),
    ("C6", "cost", None, 0, None, 0, ATTENDED),
    ("C7", "cost", None, 0, None, 0, ATTENDED),
    ("C8", "cost", None, 0, None, 0, ATTENDED),
    ("C9", "cost", None, 0, None, 0, ATTENDED),
    ("C10", "cost", None, 0, None, 0, BOOKED),
]


def local(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=MADRID)


def centre_appointments() -> List[Appointment]:
    return [Appointment(aid, CENTRE, "padro", local(THURSDAY, 9) + timedelta(minutes=10 * n), f"Citizen {aid}",
                        "612 345 678", "ca", attendance)
            for n, (aid, *_, attendance) in enumerate(CENTRE_APPOINTMENTS)]


def _send(store: ReminderStore, clock, aid: str, at: datetime) -> None:
    clock.set(at)
    assert store.claim_for_sending(aid, at=at)
    assert store.mark_sent(aid, f"m-{aid}-{at:%d%H}", at=at)


def _answer(store: ReminderStore, clock, aid: str, answers: str, at: datetime) -> None:
    for n, answer in enumerate(answers.split(",")):
        moment = at + timedelta(days=n)
        clock.set(moment)
        store.record_answer(aid, answer, "button", at=moment)


def seed_centre(store: ReminderStore, clock) -> None:
    early, day_before = local(MONDAY, 18), local(WEDNESDAY, 18)
    for aid, variant, *_ in CENTRE_APPOINTMENTS:
        clock.set(early - timedelta(hours=1))
        store.schedule(aid, THURSDAY, CENTRE, "+34612345678", "ca", at=clock(), touch="early", variant=variant)
        _send(store, clock, aid, early)
    for aid, _, first, first_minutes, _, _, _ in CENTRE_APPOINTMENTS:
        if first:
            _answer(store, clock, aid, first, early + timedelta(minutes=first_minutes))
    # The early touch's reply window closes; the day-before touch re-arms the unanswered.
    clock.set(early + timedelta(days=1, hours=1))
    store.expire_due(clock())
    for aid, _, first, _, second, second_minutes, _ in CENTRE_APPOINTMENTS:
        if first:
            continue
        clock.set(day_before - timedelta(minutes=5))
        assert store.rearm_for_touch(aid, "day_before", ["early"], at=clock())
        _send(store, clock, aid, day_before)
        if second:
            _answer(store, clock, aid, second, day_before + timedelta(minutes=second_minutes))


def seed_platja(store: ReminderStore, clock) -> None:
    # (first number, how many, local hour, touch, [(how many, answer, minutes after sending)])
    blocks = [
        (1, 40, 17, "day_before", [(11, states.CONFIRMED, 30), (3, states.CANCELLED, 30),
                                   (2, states.CONFIRMED, 120)]),
        (41, 30, 10, "day_before", [(21, states.CONFIRMED, 60)]),
        (71, 5, 12, None, [(5, states.CONFIRMED, 5)]),
    ]
    for first, count, hour, touch, answers in blocks:
        sent_at = local(MONDAY, hour)
        outcomes = [(answer, minutes) for many, answer, minutes in answers for _ in range(many)]
        for n in range(count):
            aid = f"L{first + n}"
            clock.set(sent_at - timedelta(minutes=10))
            store.schedule(aid, TUESDAY, PLATJA, "+34612345678", "ca", at=clock(), touch=touch)
            _send(store, clock, aid, sent_at)
            if n < len(outcomes):
                answer, minutes = outcomes[n]
                _answer(store, clock, aid, answer, sent_at + timedelta(minutes=minutes))


def seed_touch_history(store: ReminderStore, clock) -> None:
    seed_centre(store, clock)
    seed_platja(store, clock)
