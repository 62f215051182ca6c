"""The figures of touches, wording experiments and send-time advice, on the
seeded history of tests/support/touch_history_seed.py whose every figure is
known: per touch the sends, answers and cancels; the experiment's rates and
intervals, worked out by hand here (and against Newcombe's published
example); the best hour to send per office; and how the reports command
shows them (--json keys, CSV, tables)."""
from __future__ import annotations

import io
import json
import math
from datetime import timedelta

import pytest
from rich.console import Console

from bot.apps.reports import csv_rows, print_tables
from bot.offices.settings import for_office
from bot.reminders import states
from bot.reminders.store import ReminderStore
from bot.reminders.variant_choice import VariantRetirements
from bot.reports.compute import compute_figures
from bot.reports.experiments import VERDICT_LEADER_ANSWERS_MORE, EstimatedShare
from bot.reports.figure_types import Period, Share, TouchFigures
from bot.reports.load import load_histories, load_office_setups
from tests.support.touch_history_seed import (
    CENTRE,
    MONDAY,
    OFFICES_YML,
    PLATJA,
    THURSDAY,
    TUESDAY,
    centre_appointments,
    local,
    seed_touch_history,
)

PERIOD = Period(MONDAY, THURSDAY)
Z = 1.959963984540054   # the standard normal's 97.5 % point
Z_80 = 0.8416212335729143  # ... and its 80 % point


def wilson(successes: int, total: int):
    """Wilson's score interval, worked out from its formula."""
    p = successes / total
    denominator = 1 + Z * Z / total
    centre = (p + Z * Z / (2 * total)) / denominator
    half = Z * math.sqrt(p * (1 - p) / total + Z * Z / (4 * total * total)) / denominator
    return centre - half, centre + half


def newcombe(s1: int, n1: int, s2: int, n2: int):
    """Newcombe's hybrid score interval of s1/n1 - s2/n2, from the two Wilson intervals."""
    (l1, u1), (l2, u2), p1, p2 = wilson(s1, n1), wilson(s2, n2), s1 / n1, s2 / n2
    return p1 - p2 - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), p1 - p2 + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def estimated(part: int, whole: int) -> EstimatedShare:
    return EstimatedShare(part, whole, part / whole, *wilson(part, whole))


def same(actual: EstimatedShare, expected: EstimatedShare) -> bool:
    return (actual.part, actual.whole, actual.value) == (expected.part, expected.whole, expected.value) \
        and (actual.low, actual.high) == pytest.approx((expected.low, expected.high), abs=1e-12)


@pytest.fixture
def offices(tmp_path, monkeypatch):
    path = tmp_path / "offices.yml"
    path.write_text(OFFICES_YML)
    monkeypatch.setenv("RECORDA_OFFICES_FILE", str(path))


@pytest.fixture
def store(offices, db_url, clock) -> ReminderStore:
    store = ReminderStore(db_url)
    seed_touch_history(store, clock)
    # An admin retired the `cost` variant from the console; `short` is retired in offices.yml.
    VariantRetirements(db_url).retire(CENTRE, for_office(CENTRE).experiment, "cost", by="admin")
    return store


@pytest.fixture
def figures(store, db_url):
    histories = load_histories(store, MONDAY, THURSDAY)
    setups = load_office_setups(db_url, {h.reminder.office_id for h in histories})
    return compute_figures(histories, centre_appointments(), PERIOD, setups=setups)


def touch(name: str, sent: int, answered: int, cancelled: int) -> TouchFigures:
    return TouchFigures(name, sent, Share(answered, sent, answered / sent), Share(cancelled, sent, cancelled / sent))


# --- per touch -------------------------------------------------------------------------
def test_each_answer_counts_for_the_touch_sent_last_before_it(figures):
    # oac-centre: 20 early sends; P1-P5, C1 and C2 answered them (P4, P5 and C2 cancelling).
    # The 13 unanswered got the day-before touch too: P6-P9 and C3 answered that one.
    assert figures.touches.by_office[CENTRE] == [touch("early", 20, 7, 3), touch("day_before", 13, 5, 0)]
    # oac-la-platja: one touch; the 5 sends recorded without a touch count as it (its last).
    assert figures.touches.by_office[PLATJA] == [touch("day_before", 75, 16 + 21 + 5, 3)]
    assert figures.touches.overall == [touch("early", 20, 7, 3), touch("day_before", 88, 47, 3)]
    # The period's other figures still count each appointment once.
    assert figures.volume.reminders_sent == 95
    assert figures.answers.answer_rate == Share(12 + 42, 95, 54 / 95)


def test_a_cancel_before_any_send_counts_for_no_touch(offices, db_url, clock):
    store = ReminderStore(db_url)
    clock.set(local(MONDAY, 12))
    store.schedule("X1", THURSDAY, CENTRE, "+34612345678", "ca", touch="early")
    store.record_answer("X1", states.CANCELLED, "text")  # through the assistant, before the reminder went out
    figures = compute_figures(load_histories(store, MONDAY, THURSDAY), [], PERIOD,
                              setups=load_office_setups(db_url, [CENTRE]))
    assert figures.touches.overall == [] and figures.touches.by_office == {}
    assert figures.answers.cancelled_share_of_appointments.part == 1


# --- the wording experiment ----------------------------------------------------------
def test_the_experiment_compares_the_variants_with_their_intervals(figures):
    [experiment] = figures.experiments
    assert (experiment.office_id, experiment.experiment) == (CENTRE, "cost-sentence")
    assert experiment.retired == {"plain": False, "cost": True, "short": True}
    cost, plain = experiment.variants
    # plain: 9 of 10 answered, P4 and P5 cancelled; attendance known for P1-P3, P6, P7, P10: P3 missed it.
    assert (plain.variant, plain.appointments, plain.answered, plain.cancelled) == ("plain", 10, 9, 2)
    assert (plain.attendance_known, plain.no_shows) == (6, 1)
    assert same(plain.answer_rate, estimated(9, 10))
    assert same(plain.cancellation_rate, estimated(2, 10))
    assert same(plain.no_show_rate, estimated(1, 6))
    # cost: C1, C2, C3 answered, C2 cancelled; attendance known for all but C2 and C10: C3-C5 missed it.
    assert (cost.variant, cost.appointments, cost.answered, cost.cancelled) == ("cost", 10, 3, 1)
    assert (cost.attendance_known, cost.no_shows) == (8, 3)
    assert same(cost.answer_rate, estimated(3, 10))
    assert same(cost.cancellation_rate, estimated(1, 10))
    assert same(cost.no_show_rate, estimated(3, 8))

    assert (experiment.leader, experiment.runner_up) == ("plain", "cost")
    difference = experiment.answer_rate_difference
    assert difference.value == pytest.approx(0.6, abs=1e-12)
    assert (difference.low, difference.high) == pytest.approx(newcombe(9, 10, 3, 10), abs=1e-12)
    # Newcombe (1998), Statist. Med. 17:873, Table II: 9/10 against 3/10 is 0.1705 to 0.8090.
    assert (difference.low, difference.high) == pytest.approx((0.1705, 0.8090), abs=5e-5)
    assert experiment.verdict == VERDICT_LEADER_ANSWERS_MORE

    # 5 points from the overall answer rate, 12 of 20, at alpha 0.05 and power 0.8.
    p1, p2 = 0.6, 0.65
    mean = (p1 + p2) / 2
    needed = math.ceil((Z * math.sqrt(2 * mean * (1 - mean)) + Z_80 * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2
                       / 0.05 ** 2)
    assert (experiment.minimum_effect, experiment.appointments_needed) == (0.05, needed) == (0.05, 1471)
    assert experiment.still_needed == 1471 - 10


# --- send-time advice -----------------------------------------------------------------
def test_send_time_advice_per_office_next_to_its_send_at(figures):
    centre, platja = figures.send_time_advice
    # oac-centre sends every touch at 18:00: 9 of its 33 sends answered within 2 h
    # (P1, P2, P4, P5, C1 early; P6, P8, P9, C3 the day before).
    assert (centre.office_id, centre.send_at, centre.sends, centre.min_sent) == (CENTRE, "18:00", 33, 30)
    advice = centre.advice
    assert (advice.best_hour, advice.most_used_hour, advice.gain, advice.hours_compared) == (18, 18, None, 1)
    assert same(advice.best, estimated(9, 33)) and same(advice.most_used, estimated(9, 33))

    # oac-la-platja sends from 17:00 (the default): 14 of its 40 sends then were answered
    # within 2 h (2 more at exactly 2 h), 21 of the 30 sent at 10:00; 12:00 had too few sends.
    assert (platja.office_id, platja.send_at, platja.sends) == (PLATJA, "17:00", 75)
    advice = platja.advice
    assert (advice.best_hour, advice.most_used_hour, advice.hours_compared) == (10, 17, 2)
    assert same(advice.best, estimated(21, 30)) and same(advice.most_used, estimated(14, 40))
    assert advice.gain.value == pytest.approx(0.35, abs=1e-12)
    assert (advice.gain.low, advice.gain.high) == pytest.approx(newcombe(21, 30, 14, 40), abs=1e-12)
    assert advice.gain.low > 0, "sending at 10:00 would likely be answered sooner"


def test_an_office_without_an_hour_of_enough_sends_gets_no_advice(offices, db_url, clock):
    store = ReminderStore(db_url)
    sent_at = clock.set(local(MONDAY, 17))
    store.schedule("Y1", TUESDAY, PLATJA, "+34612345678", "ca", touch="day_before")
    assert store.claim_for_sending("Y1")
    store.mark_sent("Y1", "m-Y1", at=sent_at)
    store.record_answer("Y1", states.CONFIRMED, "button", at=sent_at + timedelta(minutes=5))
    figures = compute_figures(load_histories(store, MONDAY, THURSDAY), [], PERIOD,
                              setups=load_office_setups(db_url, [PLATJA]))
    [platja] = figures.send_time_advice
    assert (platja.sends, platja.advice) == (1, None)
    assert figures.experiments == []


# --- the reports command's output ----------------------------------------------------------
def test_the_json_has_the_new_keys_beside_the_old_ones(figures):
    data = json.loads(json.dumps(figures.to_dict()))
    assert list(data) == ["period", "volume", "delivery", "answers", "answer_times", "by_send_hour", "no_shows",
                          "freed_slots", "conversations", "reference", "touches", "experiments", "send_time_advice",
                          "waiting_list"]
    assert data["touches"]["overall"][0] == {"touch": "early", "sent": 20,
                                             "answered": {"part": 7, "whole": 20, "value": 0.35},
                                             "cancelled": {"part": 3, "whole": 20, "value": 0.15}}
    [experiment] = data["experiments"]
    assert experiment["verdict"] == "leader_answers_more" and experiment["retired"]["cost"] is True
    assert experiment["variants"][1]["answer_rate"]["low"] == pytest.approx(wilson(9, 10)[0], abs=1e-12)
    assert data["send_time_advice"][1]["advice"]["best_hour"] == 10

    rows = {(section, name): (value, part, whole) for section, name, value, part, whole
            in csv_rows(figures.to_dict())}
    assert rows[("touches", "by_office.oac-centre.day_before.answered")] == (5 / 13, 5, 13)
    assert rows[("experiments", "oac-centre.variants.plain.appointments")] == (10, "", "")
    assert rows[("send_time_advice", "oac-la-platja.advice.best.part")] == (21, "", "")


def test_the_tables_show_touches_experiments_and_advice(figures):
    out = Console(file=io.StringIO(), width=250)
    print_tables(figures, out)
    text = " ".join(out.file.getvalue().split())
    assert "Sends by touch" in text and "35.0 % (7/20)" in text
    assert "plain vs cost: +60.0 points [+17.1 – +80.9]; the leader is answered more" in text
    assert "1471 appointments per variant to see 5 points, 1461 more needed" in text
    assert "10:00 70.0 %" in text and "set send_at in offices.yml" in text
