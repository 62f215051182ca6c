"""The figures of each touch (bot/reports/figure_types.py, `Touches`): per
office and overall, the sends of every touch, how many were answered and
how many cancelled. Pure computation, no I/O."""
from __future__ import annotations

from collections import Counter
from typing import Dict, List, Mapping, Sequence

from bot.reports.figure_types import Touches, TouchFigures, share
from bot.reports.office_setup import OfficeSetup, setup_of
from bot.reports.reminder_history import ReminderFacts


def touch_figures(facts: Sequence[ReminderFacts], setups: Mapping[str, OfficeSetup]) -> Touches:
    by_office: Dict[str, Counter] = {}
    overall: Counter = Counter()
    for f in facts:
        if not f.sends:
            continue
        office = f.reminder.office_id or ""
        setup = setup_of(setups, office)
        counts = by_office.setdefault(office, Counter())
        for send in f.sends:
            touch = setup.touch_name(send.touch)
            for tally in (counts, overall):
                tally[(touch, "sent")] += 1
                tally[(touch, "answered")] += send.answered_at is not None
                tally[(touch, "cancelled")] += send.cancelled
    return Touches(
        overall=[_figures(name, overall) for name in _overall_order(overall, setups)],
        by_office={office: [_figures(name, counts) for name in _office_order(counts, setup_of(setups, office))]
                   for office, counts in sorted(by_office.items()) if office},
    )


def _figures(touch: str, counts: Counter) -> TouchFigures:
    sent = counts[(touch, "sent")]
    return TouchFigures(touch, sent, share(counts[(touch, "answered")], sent),
                        share(counts[(touch, "cancelled")], sent))


def _names(counts: Counter) -> List[str]:
    return sorted({touch for touch, _ in counts})


def _office_order(counts: Counter, setup: OfficeSetup) -> List[str]:
    """The office's touches as offices.yml lists them (earliest first), then
    any other touch its sends name (one removed from offices.yml since)."""
    configured = [t.name for t in setup.touches]
    return configured + [name for name in _names(counts) if name not in configured]


def _overall_order(counts: Counter, setups: Mapping[str, OfficeSetup]) -> List[str]:
    """Every touch sent, earliest first: by the most service days before the
    appointment any office sends it; a touch no office names now goes last."""
    days: Dict[str, int] = {}
    for setup in setups.values():
        for touch in setup.touches:
            days[touch.name] = max(days.get(touch.name, 0), touch.days_before)
    return sorted(_names(counts), key=lambda name: (-days.get(name, 0), name))
