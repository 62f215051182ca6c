"""Send-time advice (bot/reports/send_time.py): per office, the hour whose
reminders are most often answered within 2 h, next to the hour it sends at
most, on seeded histories whose every figure is known."""
from __future__ import annotations

from typing import List

import pytest

from bot.reports.experiments import Difference, EstimatedShare, difference_interval, proportion_interval
from bot.reports.send_time import SendHourAdvice, SentReminder, best_send_hours

CENTRE, NORD = "oac-centre", "oac-nord"


def sends(office: str, hour: int, count: int, answered: int) -> List[SentReminder]:
    return [SentReminder(office, hour, n < answered) for n in range(count)]


def test_the_best_hour_among_those_with_enough_sends_next_to_the_most_used():
    rows = sends(CENTRE, 17, 100, answered=50) + sends(CENTRE, 9, 40, answered=30) \
        + sends(CENTRE, 11, 10, answered=10)  # answered every time, but too few sends to tell
    advice = best_send_hours(rows)[CENTRE]
    assert advice == SendHourAdvice(
        office_id=CENTRE,
        best_hour=9,
        best=EstimatedShare(30, 40, 0.75, *proportion_interval(30, 40)),
        most_used_hour=17,
        most_used=EstimatedShare(50, 100, 0.5, *proportion_interval(50, 100)),
        gain=Difference(0.25, *difference_interval(30, 40, 50, 100)),
        hours_compared=2,
    )
    # Wilson for 30 of 40 and 50 of 100; Newcombe for their difference: sending at 9 would likely help.
    assert (advice.best.low, advice.best.high) == pytest.approx((0.5981, 0.8581), abs=5e-5)
    assert (advice.most_used.low, advice.most_used.high) == pytest.approx((0.4038, 0.5962), abs=5e-5)
    assert (advice.gain.low, advice.gain.high) == pytest.approx((0.0702, 0.3947), abs=5e-5)


def test_an_office_whose_hours_all_have_too_few_sends_gets_no_advice():
    rows = sends(CENTRE, 17, 30, answered=10) + sends(NORD, 8, 29, answered=20) + sends(NORD, 9, 5, answered=5)
    advice = best_send_hours(rows)
    assert list(advice) == [CENTRE, NORD]
    assert advice[NORD] is None
    assert advice[CENTRE].best_hour == 17  # exactly min_sent is enough
    assert best_send_hours(rows, min_sent=5)[NORD].best_hour == 9


def test_equal_shares_go_to_the_earlier_hour_whatever_the_order_of_the_rows():
    rows = sends(CENTRE, 12, 60, answered=30) + sends(CENTRE, 10, 60, answered=30) + sends(CENTRE, 8, 90, answered=30)
    advice = best_send_hours(reversed(rows))[CENTRE]
    assert (advice.best_hour, advice.best.value) == (10, 0.5)
    assert advice.most_used_hour == 8


def test_most_used_ties_go_to_the_earlier_hour_too():
    rows = sends(CENTRE, 18, 50, answered=20) + sends(CENTRE, 16, 50, answered=10) + sends(CENTRE, 9, 30, answered=30)
    advice = best_send_hours(rows)[CENTRE]
    assert (advice.best_hour, advice.most_used_hour) == (9, 16)


def test_an_office_already_sending_at_its_best_hour_has_nothing_to_gain():
    advice = best_send_hours(sends(CENTRE, 17, 200, answered=120) + sends(CENTRE, 10, 40, answered=20))[CENTRE]
    assert (advice.best_hour, advice.most_used_hour, advice.gain) == (17, 17, None)


def test_no_reminders_no_offices_and_impossible_hours_are_refused():
    assert best_send_hours([]) == {}
    with pytest.raises(ValueError, match="24"):
        best_send_hours([SentReminder(CENTRE, 24, True)])
    with pytest.raises(ValueError):
        best_send_hours([], min_sent=0)
