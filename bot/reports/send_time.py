"""Send-time advice: from the history of reminders by local hour of sending,
the hour at which an office's reminders were most often answered within 2 h,
next to the hour it sends at most, so that the office can see whether moving
its sends would help. Pure computation.

Only hours with at least `min_sent` reminders compete: a share of a handful
of sends is noise. The best of many hours is, by being picked, somewhat
luckier than its true rate; the intervals are there to show how much.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from fractions import Fraction
from typing import Dict, Iterable, List, Optional

from bot.reports.experiments import Difference, EstimatedShare, difference_interval, estimated_share

DEFAULT_MIN_SENT = 30


@dataclass(frozen=True)
class SentReminder:
    """One sent reminder: its office, the local hour (0-23) it was sent in,
    and whether it was answered less than 2 h after sending."""
    office_id: str
    sent_at_local_hour: int
    answered_within_2h: bool


@dataclass(frozen=True)
class SendHourAdvice:
    """best_hour: among the hours with at least min_sent reminders, the one
    with the highest share answered within 2 h (ties: the earlier hour);
    best: that share (answered within 2 h / sent in that hour, with its Wilson
    interval). most_used_hour: the hour with the most reminders sent (ties:
    the earlier); most_used: its share. gain: best's share - most_used's,
    with Newcombe's interval; None when they are the same hour.
    hours_compared: how many hours had at least min_sent reminders."""
    office_id: str
    best_hour: int
    best: EstimatedShare
    most_used_hour: int
    most_used: EstimatedShare
    gain: Optional[Difference]
    hours_compared: int


def best_send_hours(rows: Iterable[SentReminder],
                    min_sent: int = DEFAULT_MIN_SENT) -> Dict[str, Optional[SendHourAdvice]]:
    """The advice for every office in rows; None for an office none of whose
    hours has min_sent reminders. Raises ValueError for an hour outside 0-23."""
    if min_sent < 1:
        raise ValueError(f"min_sent must be at least 1, not {min_sent}")
    sent: Dict[str, Counter] = defaultdict(Counter)
    answered: Dict[str, Counter] = defaultdict(Counter)
    for row in rows:
        if not 0 <= row.sent_at_local_hour <= 23:
            raise ValueError(f"not an hour of the day: {row.sent_at_local_hour}")
        sent[row.office_id][row.sent_at_local_hour] += 1
        answered[row.office_id][row.sent_at_local_hour] += row.answered_within_2h
    return {office: _advice(office, sent[office], answered[office], min_sent) for office in sorted(sent)}


def _advice(office: str, sent: Counter, answered: Counter, min_sent: int) -> Optional[SendHourAdvice]:
    eligible: List[int] = sorted(hour for hour, count in sent.items() if count >= min_sent)
    if not eligible:
        return None
    # Exact fractions so that equal shares tie and the earlier hour wins; min() keeps the first of equals.
    best = min(eligible, key=lambda hour: -Fraction(answered[hour], sent[hour]))
    most_used = min(sorted(sent), key=lambda hour: -sent[hour])
    return SendHourAdvice(
        office_id=office,
        best_hour=best,
        best=estimated_share(answered[best], sent[best]),
        most_used_hour=most_used,
        most_used=estimated_share(answered[most_used], sent[most_used]),
        gain=None if best == most_used else _gain(answered, sent, best, most_used),
        hours_compared=len(eligible),
    )


def _gain(answered: Counter, sent: Counter, best: int, most_used: int) -> Difference:
    interval = difference_interval(answered[best], sent[best], answered[most_used], sent[most_used])
    assert interval is not None, "both hours have reminders"
    return Difference(answered[best] / sent[best] - answered[most_used] / sent[most_used], *interval)
