"""Send-time advice per office (figure_types.py, `OfficeSendTime`): every
send of the period at its local hour, answered within 2 h or not, compared
by bot/reports/send_time.py, next to the hour the office sends at now
(offices.yml `send_at`). Pure computation, no I/O."""
from __future__ import annotations

from collections import Counter
from typing import Iterator, List, Mapping, Sequence
from zoneinfo import ZoneInfo

from bot.reports.figure_types import WITHIN_2H_MINUTES, OfficeSendTime
from bot.reports.office_setup import OfficeSetup, setup_of
from bot.reports.reminder_history import ReminderFacts
from bot.reports.send_time import DEFAULT_MIN_SENT, SentReminder, best_send_hours


def send_time_advice(facts: Sequence[ReminderFacts], setups: Mapping[str, OfficeSetup], zone: ZoneInfo,
                     min_sent: int = DEFAULT_MIN_SENT) -> List[OfficeSendTime]:
    """The advice of every office with sends, by office id."""
    rows = list(_sent_reminders(facts, zone))
    advice = best_send_hours(rows, min_sent)
    sends = Counter(row.office_id for row in rows)
    return [OfficeSendTime(office, f"{setup_of(setups, office).settings.send_at:%H:%M}", sends[office], min_sent,
                           advice[office])
            for office in sorted(advice)]


def _sent_reminders(facts: Sequence[ReminderFacts], zone: ZoneInfo) -> Iterator[SentReminder]:
    # Every touch's send counts at its own hour: each is a send the office chose the time of.
    for f in facts:
        office = f.reminder.office_id
        if not office:
            continue
        for send in f.sends:
            answered_in = (send.answered_at - send.at).total_seconds() / 60 if send.answered_at else None
            yield SentReminder(office, send.at.astimezone(zone).hour,
                               answered_in is not None and answered_in < WITHIN_2H_MINUTES)
