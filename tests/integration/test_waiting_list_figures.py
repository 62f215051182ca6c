"""The waiting list's figures on the seeded history of
tests/support/freed_slot_seed.py, whose every figure is known: which freed
slots belong to the period, what was offered and booked again, how fast,
why the rest was not offered, per office; and how the reports command
shows them (--json key, CSV, table)."""
from __future__ import annotations

import io

import pytest
from rich.console import Console

from bot.apps.reports import csv_rows, print_tables
from bot.offers import store as offers
from bot.offers.store import OfferStore
from bot.reports.compute import compute_figures
from bot.reports.figure_types import FreedSlotFigures, Period, Share, WaitingList
from bot.reports.load import load_freed_slots
from tests.support.freed_slot_seed import MONDAY, THURSDAY, local, seed_freed_slots
from tests.support.touch_history_seed import CENTRE, MADRID, PLATJA

PERIOD = Period(MONDAY, THURSDAY)

# S1 and S2: both offered and booked again, in 45 and 120 min; W1-W4's offers went out.
CENTRE_FIGURES = FreedSlotFigures(freed=2, offerable=2, offered=2, offers_sent=4, rebooked=2,
                                  median_minutes_to_rebook=82.5, reused=Share(2, 2, 1.0),
                                  rebooked_of_offered=Share(2, 2, 1.0), not_offered_reasons={})
# S3 offered (W5; W6 failed), nobody took it; S4's only offer never went out; S5 came too late.
PLATJA_FIGURES = FreedSlotFigures(freed=3, offerable=2, offered=1, offers_sent=1, rebooked=0,
                                  median_minutes_to_rebook=None, reused=Share(0, 3, 0.0),
                                  rebooked_of_offered=Share(0, 1, 0.0),
                                  not_offered_reasons={"nobody_left": 1, "too_late": 1})
OVERALL = FreedSlotFigures(freed=5, offerable=4, offered=3, offers_sent=5, rebooked=2, median_minutes_to_rebook=82.5,
                           reused=Share(2, 5, 0.4), rebooked_of_offered=Share(2, 3, 2 / 3),
                           not_offered_reasons={"nobody_left": 1, "too_late": 1})


@pytest.fixture
def store(db_url, clock) -> OfferStore:
    store = OfferStore(db_url)
    seed_freed_slots(store, clock)
    return store


@pytest.fixture
def figures(store, db_url):
    return compute_figures([], [], PERIOD, freed=load_freed_slots(db_url, MONDAY, THURSDAY, MADRID))


def test_the_period_has_the_slots_of_its_appointments_by_local_day(store, db_url):
    freed = load_freed_slots(db_url, MONDAY, THURSDAY, MADRID)
    # Not S6 (Friday) nor S7 (Friday 00:30 in Madrid, Thursday in UTC) nor S0 (the Friday before);
    # S5 counts although it was freed on the last day, S1 although freed before any other.
    assert sorted(slot.appointment_id for slot in freed.slots) == ["S1", "S2", "S3", "S4", "S5"]
    offers_by_slot = {slot.appointment_id: [o.entry_id for o in freed.offers[slot.id]] for slot in freed.slots}
    assert offers_by_slot == {"S1": ["entry-W1", "entry-W2"], "S2": ["entry-W3", "entry-W4"],
                              "S3": ["entry-W5", "entry-W6"], "S4": ["entry-W7"], "S5": []}


def test_freed_offered_and_booked_again_to_the_exact_value(figures):
    assert figures.waiting_list.overall == OVERALL
    # What the waiting list gave back: 2 of 5 freed slots, half-way between 45 and 120 minutes after the cancel.
    assert figures.waiting_list.overall.reused.value == 0.4
    assert figures.waiting_list.overall.median_minutes_to_rebook == (45 + 120) / 2


def test_per_office(figures):
    assert figures.waiting_list.by_office == {CENTRE: CENTRE_FIGURES, PLATJA: PLATJA_FIGURES}
    # Every slot not offered has its one reason.
    for w in (OVERALL, CENTRE_FIGURES, PLATJA_FIGURES):
        assert w.offered + sum(w.not_offered_reasons.values()) == w.freed


def test_the_office_asked_for_only(store, db_url):
    freed = load_freed_slots(db_url, MONDAY, THURSDAY, MADRID, PLATJA)
    figures = compute_figures([], [], Period(MONDAY, THURSDAY, PLATJA), freed=freed)
    assert figures.waiting_list == WaitingList(PLATJA_FIGURES, {PLATJA: PLATJA_FIGURES})


def test_a_slot_counts_offered_once_an_offer_went_out(db_url, clock):
    store = OfferStore(db_url)
    clock.set(local(MONDAY, 9))
    slot = store.record_freed("X1", CENTRE, "padro", local(THURSDAY, 9))
    assert slot is not None
    offer = store.create_offer(slot.id, "entry-X", "+34600000001", "Citizen X", "ca", local(MONDAY, 13))

    def waiting_list():
        return compute_figures([], [], PERIOD, freed=load_freed_slots(db_url, MONDAY, THURSDAY, MADRID)).waiting_list

    # Pending, being sent: nothing reached anyone yet.
    assert waiting_list().overall.not_offered_reasons == {"still_open": 1}
    assert store.move(offer.id, (offers.PENDING,), offers.SENDING)
    assert (waiting_list().overall.offered, waiting_list().overall.offers_sent) == (0, 0)
    clock.set(local(MONDAY, 9, 1))
    assert store.move(offer.id, (offers.SENDING,), offers.SENT)
    overall = waiting_list().overall
    assert (overall.offered, overall.offers_sent, overall.not_offered_reasons) == (1, 1, {})
    assert (overall.rebooked, overall.reused) == (0, Share(0, 1, 0.0))


def test_without_freed_slots_the_figures_are_zero():
    nothing = compute_figures([], [], PERIOD).waiting_list
    assert nothing == WaitingList(FreedSlotFigures(0, 0, 0, 0, 0, None, Share(0, 0, None), Share(0, 0, None), {}), {})


# --- how the reports command shows them ------------------------------------------------
def test_the_json_key_csv_rows_and_table(figures):
    centre = {"freed": 2, "offerable": 2, "offered": 2, "offers_sent": 4, "rebooked": 2,
              "median_minutes_to_rebook": 82.5, "reused": {"part": 2, "whole": 2, "value": 1.0},
              "rebooked_of_offered": {"part": 2, "whole": 2, "value": 1.0}, "not_offered_reasons": {}}
    data = figures.to_dict()["waiting_list"]
    assert data["by_office"][CENTRE] == centre
    assert data["overall"] == {"freed": 5, "offerable": 4, "offered": 3, "offers_sent": 5, "rebooked": 2,
                               "median_minutes_to_rebook": 82.5, "reused": {"part": 2, "whole": 5, "value": 0.4},
                               "rebooked_of_offered": {"part": 2, "whole": 3, "value": 2 / 3},
                               "not_offered_reasons": {"nobody_left": 1, "too_late": 1}}
    assert set(data["by_office"]) == {CENTRE, PLATJA}

    rows = {(section, name): rest for section, name, *rest in csv_rows(figures.to_dict())}
    assert rows[("waiting_list", "overall.reused")] == [0.4, 2, 5]
    assert rows[("waiting_list", "overall.not_offered_reasons.too_late")] == [1, "", ""]
    assert rows[("waiting_list", f"by_office.{PLATJA}.offered")] == [1, "", ""]
    assert rows[("waiting_list", f"by_office.{CENTRE}.median_minutes_to_rebook")] == [82.5, "", ""]

    printed = io.StringIO()
    print_tables(figures, Console(file=printed, width=250))
    lines = printed.getvalue().splitlines()
    [centre_line] = [line for line in lines if line.startswith(f"│ {CENTRE} ") and "82.5 min" in line]
    assert "100.0 % (2/2)" in centre_line
    [total] = [line for line in lines if line.startswith("│ all ") and "nobody left on the list 1, too late 1" in line]
    assert "40.0 % (2/5)" in total and "66.7 % (2/3)" in total
