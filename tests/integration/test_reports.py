"""The service figures, on a seeded history whose every figure is known:
two service days of one office, written through the reminder store's own
API with fixed times, and the appointments the booking system would list."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console

from bot.apps.reports import csv_rows, parse_args, pricing, print_tables
from bot.booking import ATTENDED, BOOKED, CANCELLED, CONFIRMED, NO_SHOW, Appointment
from bot.foundation.settings import PROJECT_ROOT, Settings
from bot.offers import store as offers
from bot.offers.store import OfferStore
from bot.offices.service_days import previous_service_day
from bot.reminders import states
from bot.reminders.provider_status import INVALID_NUMBER, NO_WHATSAPP, NOT_MOBILE
from bot.reminders.store import ReminderStore
from bot.reports.compute import compute_figures
from bot.reports.figure_types import REFERENCE, AnswerTimes, NoShowGroup, Period, Share
from bot.reports.load import load_histories, service_days
from bot.reports.whatsapp_cost import CategoryCost, MonthCost, Pricing
from tests.support.booking_sandbox import appointments_on, madrid_today

UTC = timezone.utc
MADRID = ZoneInfo("Europe/Madrid")
OFFICE = "oac-centre"
MONDAY, TUESDAY = date(2026, 11, 2), date(2026, 11, 3)
PERIOD = Period(MONDAY, TUESDAY, OFFICE)
# Summer time ended on 25 October: Madrid is UTC+1 at both sends.
FRIDAY_SEND = datetime(2026, 10, 30, 16, 0, tzinfo=UTC)  # 17:00 in Madrid, Monday's reminders
MONDAY_SEND = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)   # 18:00 in Madrid, Tuesday's reminders


def utc(month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


def appointment(aid: str, day: date, starts: str, status: str) -> Appointment:
    return Appointment(id=aid, office_id=OFFICE, procedure_id="padro",
                       starts_at=datetime.combine(day, time.fromisoformat(starts), tzinfo=MADRID),
                       citizen_name=f"Citizen {aid}", phone="612 345 678", language="ca", status=status)


APPOINTMENTS = [
    appointment("A1", MONDAY, "09:15", ATTENDED),
    appointment("A2", MONDAY, "09:00", CANCELLED),
    appointment("A3", MONDAY, "09:30", NO_SHOW),
    appointment("A4", MONDAY, "09:45", ATTENDED),
    appointment("A5", MONDAY, "10:00", ATTENDED),
    appointment("A6", TUESDAY, "09:00", NO_SHOW),
    appointment("A7", TUESDAY, "10:00", CANCELLED),
    appointment("A8", TUESDAY, "09:15", ATTENDED),
    appointment("A9", TUESDAY, "09:30", NO_SHOW),
    appointment("A10", TUESDAY, "09:45", BOOKED),     # attendance not recorded yet
    appointment("A11", TUESDAY, "10:15", ATTENDED),
    appointment("A12", TUESDAY, "10:30", CONFIRMED),  # attendance not recorded yet
    appointment("A13", MONDAY, "11:00", CANCELLED),   # by phone, before any reminder
    appointment("A14", MONDAY, "11:15", ATTENDED),    # no reminder
    appointment("A15", TUESDAY, "11:00", NO_SHOW),    # no reminder
]


def send(store: ReminderStore, aid: str, day: date, at: datetime, office: str = OFFICE) -> None:
    store.schedule(aid, day, office, "+34612345678", "ca")
    assert store.claim_for_sending(aid)
    store.mark_sent(aid, f"m-{aid}", at=at)


def status(store: ReminderStore, aid: str, name: str, at: datetime, **failure) -> None:
    store.apply_provider_status(f"m-{aid}", name, at=at, **failure)


def seed_history(store: ReminderStore) -> None:
    # Friday 17:00 (Madrid): Monday's reminders.
    send(store, "A1", MONDAY, FRIDAY_SEND)
    status(store, "A1", "delivered", utc(10, 30, 16, 1))
    status(store, "A1", "read", utc(10, 30, 16, 5))
    store.record_answer("A1", states.CONFIRMED, "button", at=utc(10, 30, 16, 20))    # 20 min
    send(store, "A2", MONDAY, FRIDAY_SEND)
    status(store, "A2", "delivered", utc(10, 30, 16, 2))
    store.record_answer("A2", states.CANCELLED, "text", at=utc(10, 30, 17, 15))      # 75 min
    send(store, "A3", MONDAY, FRIDAY_SEND)
    status(store, "A3", "delivered", utc(10, 30, 16, 3))                             # never read
    send(store, "A4", MONDAY, FRIDAY_SEND)
    status(store, "A4", "failed", utc(10, 30, 16, 1), error_code=302, reason=NO_WHATSAPP)
    store.record_answer("A4", states.CONFIRMED, "sms", at=utc(10, 30, 19))            # 180 min, SMS fallback
    store.record_unsendable("A5", MONDAY, OFFICE, "+34931234567", "ca", NOT_MOBILE)

    # Monday 18:00 (Madrid): Tuesday's reminders.
    send(store, "A6", TUESDAY, MONDAY_SEND)
    status(store, "A6", "delivered", utc(11, 2, 17, 2))
    store.record_answer("A6", states.CONFIRMED, "button", at=utc(11, 2, 17, 47, 30))  # 47.5 min
    status(store, "A6", "read", utc(11, 2, 17, 48))  # after the answer: recorded, not applied
    send(store, "A7", TUESDAY, MONDAY_SEND)
    status(store, "A7", "delivered", utc(11, 2, 17, 1))
    store.record_answer("A7", states.CONFIRMED, "text", at=utc(11, 3, 5))             # 720 min
    store.record_answer("A7", states.CANCELLED, "button", at=utc(11, 3, 6))           # changed mind
    send(store, "A8", TUESDAY, MONDAY_SEND)
    status(store, "A8", "delivered", utc(11, 2, 17, 1))
    status(store, "A8", "read", utc(11, 2, 20))                                       # never answered
    store.record_unsendable("A9", TUESDAY, OFFICE, "12345", "es", INVALID_NUMBER)
    store.schedule("A10", TUESDAY, OFFICE, "+34612345670", "ca")
    assert store.claim_for_sending("A10")
    store.mark_failed("A10", "not_sent_by_assistant", source="job")
    send(store, "A11", TUESDAY, MONDAY_SEND)
    status(store, "A11", "delivered", utc(11, 2, 17, 5))
    send(store, "A12", TUESDAY, MONDAY_SEND)                                          # no receipt at all
    store.record_answer("A12", states.CONFIRMED, "queued", at=utc(11, 2, 19))         # 120 min exactly

    expired = store.expire_due(utc(11, 3, 17))
    assert {r.appointment_id for r in expired} == {"A3", "A8", "A11"}
    store.record_answer("A11", states.CONFIRMED, "sms", at=utc(11, 3, 18))            # 1500 min, after expiry

    # Outside the report: another office, and a later day.
    send(store, "B1", MONDAY, FRIDAY_SEND, office="oac-can-mas")
    send(store, "C1", date(2026, 11, 4), MONDAY_SEND + timedelta(days=1))


@pytest.fixture
def store(db_url) -> ReminderStore:
    store = ReminderStore(db_url)
    seed_history(store)
    return store


@pytest.fixture
def histories(store):
    return load_histories(store, MONDAY, TUESDAY, OFFICE)


@pytest.fixture
def figures(histories):
    return compute_figures(histories, APPOINTMENTS, PERIOD)


# --- loading ------------------------------------------------------------------------
def test_loader_selects_the_period_and_office_with_the_events_the_figures_read(store, histories):
    assert [h.reminder.appointment_id for h in histories] == [f"A{n}" for n in range(1, 13)]
    a7 = next(h for h in histories if h.reminder.appointment_id == "A7")
    # scheduled and sending are in the store, but no figure reads them.
    assert [e.event for e in store.history("A7")][:2] == ["scheduled", "sending"]
    assert [(e.event, e.applied) for e in a7.events] == [
        ("sent", True), ("delivered", True), ("confirmed", True), ("cancelled", True)]
    assert a7.events[-1].detail == {"channel": "button"}
    every_office = load_histories(store, MONDAY, TUESDAY)
    assert {h.reminder.appointment_id for h in every_office} == {f"A{n}" for n in range(1, 13)} | {"B1"}


def test_service_days_skip_weekends_and_holidays():
    assert service_days(date(2026, 10, 30), date(2026, 11, 3), holidays=[TUESDAY]) == [
        date(2026, 10, 30), MONDAY]


# --- the figures ---------------------------------------------------------------------
def test_volume_and_delivery(figures):
    assert figures.volume.appointments == 15
    assert figures.volume.reminders_attempted == 12
    assert figures.volume.reminders_sent == 9  # not A5, A9 (unsendable) nor A10 (never sent)
    delivery = figures.delivery
    assert delivery.delivery_rate == Share(8, 9, 8 / 9)  # not A4 (answered by SMS); A12 by its answer
    assert delivery.read_rate == Share(3, 9, 3 / 9)      # A1, A6 (late receipt), A8
    assert delivery.failure_rate == Share(4, 12, 4 / 12)  # A4 too, though confirmed by SMS since
    assert delivery.failures_by_reason == {
        INVALID_NUMBER: Share(1, 12, 1 / 12), NO_WHATSAPP: Share(1, 12, 1 / 12),
        NOT_MOBILE: Share(1, 12, 1 / 12), "not_sent_by_assistant": Share(1, 12, 1 / 12)}


def test_answers(figures):
    answers = figures.answers
    assert answers.answer_rate == Share(7, 9, 7 / 9)  # A1, A2, A4, A6, A7, A11, A12
    assert answers.by_channel == {"button": Share(2, 7, 2 / 7), "text": Share(2, 7, 2 / 7),
                                  "sms": Share(2, 7, 2 / 7), "queued": Share(1, 7, 1 / 7)}
    assert answers.confirmed_share_of_appointments == Share(5, 15, 5 / 15)  # A1, A4, A6, A11, A12
    assert answers.cancelled_share_of_appointments == Share(2, 15, 2 / 15)  # A2, A7


def test_time_from_sending_to_answer(figures):
    # 20, 47.5, 75, 120 (not within 2 h), 180, 720 (A7's first answer), 1500 minutes.
    assert figures.answer_times == AnswerTimes(
        answers_timed=7, median_minutes=120.0, within_2h=Share(3, 7, 3 / 7),
        histogram={"<15 min": 0, "15-60 min": 2, "1-2 h": 1, "2-4 h": 2, "4-8 h": 0,
                   "8-24 h": 1, ">24 h": 1})


def test_answers_by_local_hour_of_sending(figures):
    hours = {h.hour: h for h in figures.by_send_hour}
    assert list(hours) == list(range(24))
    assert (hours[17].sent, hours[17].answered, hours[17].answer_rate) == (4, 3, 0.75)
    assert (hours[18].sent, hours[18].answered, hours[18].answer_rate) == (5, 4, 0.8)
    assert all(h.sent == 0 and h.answer_rate is None for n, h in hours.items() if n not in (17, 18))


def test_no_shows_by_reminder_outcome(figures):
    assert figures.no_shows.overall == NoShowGroup(10, 4, 0.4)
    assert figures.no_shows.by_outcome == {
        "confirmed": NoShowGroup(4, 1, 0.25),     # A1, A4, A11 attended; A6 did not come
        "no_answer": NoShowGroup(2, 1, 0.5),      # A8 attended; A3 did not come
        "failed": NoShowGroup(2, 1, 0.5),         # A5 attended; A9 did not come
        "no_reminder": NoShowGroup(2, 1, 0.5),    # A14 attended; A15 did not come
    }


def test_freed_slots(figures):
    # A2: Friday 17:15 UTC to Monday 08:00 UTC = 62.75 h; A7: 06:00 to 09:00 UTC = 3 h.
    assert figures.freed_slots.cancelled_through_recorda == 2
    assert figures.freed_slots.median_notice_hours == 32.875


def test_conversations_and_cost_by_month_of_sending(figures, histories):
    conversations = figures.conversations
    assert conversations.by_month == [MonthCost("2026-10", 3, 3, 0.12), MonthCost("2026-11", 5, 5, 0.2)]
    assert (conversations.total_conversations, conversations.total_cost_eur) == (8, 0.32)

    with_free_tier = compute_figures(histories, APPOINTMENTS, PERIOD, Pricing(0.05, 2)).conversations
    assert with_free_tier.by_month == [MonthCost("2026-10", 3, 1, 0.05), MonthCost("2026-11", 5, 3, 0.15)]
    assert (with_free_tier.total_cost_eur, with_free_tier.free_per_month) == (0.2, 2)
    # MessageBird's statuses carry no pricing: category prices change nothing.
    assert all(h.events and all("pricing" not in (e.detail or {}) for e in h.events) for h in histories)
    assert conversations.by_category == []
    with_category_prices = compute_figures(histories, APPOINTMENTS, PERIOD,
                                           Pricing(0.05, 2, (("utility", 0.0141),))).conversations
    assert with_category_prices == with_free_tier


# --- Meta's per-message pricing ------------------------------------------------------
UTILITY = {"billable": True, "category": "utility", "model": "PMP"}
SERVICE_FREE = {"billable": False, "category": "service", "model": "PMP"}
MARKETING = {"billable": True, "category": "marketing", "model": "PMP"}
AUTHENTICATION = {"billable": True, "category": "authentication", "model": "PMP"}
META_PRICES = Pricing(0.05, 1, (("marketing", 0.0509), ("utility", 0.0141)))


def seed_priced_history(store: ReminderStore) -> None:
    """WhatsApp Cloud API statuses with Meta's pricing, and one without."""
    # October (Friday's sends): a billable utility reminder, a free one.
    send(store, "P1", MONDAY, FRIDAY_SEND)
    status(store, "P1", "sent", utc(10, 30, 16, 0, 5), pricing=UTILITY)
    status(store, "P1", "delivered", utc(10, 30, 16, 1), pricing=UTILITY)
    send(store, "P2", MONDAY, FRIDAY_SEND)
    status(store, "P2", "delivered", utc(10, 30, 16, 1), pricing=SERVICE_FREE)
    # November (Monday's sends).
    send(store, "P3", TUESDAY, MONDAY_SEND)                  # the receipt's pricing, not the estimate
    status(store, "P3", "sent", utc(11, 2, 17, 0, 5), pricing=MARKETING)
    status(store, "P3", "read", utc(11, 2, 17, 3), pricing=UTILITY)   # read without delivered
    send(store, "P4", TUESDAY, MONDAY_SEND)                  # an estimate when sent, never delivered
    status(store, "P4", "sent", utc(11, 2, 17, 0, 5), pricing=UTILITY)
    send(store, "P5", TUESDAY, MONDAY_SEND)                  # a status without pricing
    status(store, "P5", "delivered", utc(11, 2, 17, 1))
    send(store, "P6", TUESDAY, MONDAY_SEND)                  # the receipt came after the answer
    store.record_answer("P6", states.CONFIRMED, "button", at=utc(11, 2, 17, 10))
    status(store, "P6", "delivered", utc(11, 2, 17, 20), pricing=AUTHENTICATION)


def test_provider_pricing_costs_billable_messages_by_category(db_url):
    store = ReminderStore(db_url)
    seed_priced_history(store)
    histories = load_histories(store, MONDAY, TUESDAY, OFFICE)   # reads the statuses' detail
    conversations = compute_figures(histories, [], PERIOD, META_PRICES).conversations

    assert conversations.by_month == [
        MonthCost("2026-10", 2, 1, 0.0141),           # P1 utility; P2 not billable: free
        # P3 utility 0.0141 + P6 authentication, no price of its own: 0.05; P5 unpriced, the free one.
        MonthCost("2026-11", 3, 2, 0.0641)]
    assert (conversations.total_conversations, conversations.total_cost_eur) == (5, 0.0782)
    assert conversations.by_category == [
        CategoryCost("authentication", 1, 1, 0.05, 0.05),
        CategoryCost("service", 1, 0, 0.05, 0.0),
        CategoryCost("utility", 2, 2, 0.0141, 0.0282)]   # P1, P3; P4 was never delivered

    # The free tier is for the unpriced conversations only.
    no_free_tier = compute_figures(histories, [], PERIOD, Pricing(0.05, 0, META_PRICES.category_prices))
    assert no_free_tier.conversations.by_month[1] == MonthCost("2026-11", 3, 3, 0.1141)


def test_provider_pricing_in_the_csv_and_tables(db_url):
    store = ReminderStore(db_url)
    seed_priced_history(store)
    figures = compute_figures(load_histories(store, MONDAY, TUESDAY, OFFICE), [], PERIOD, META_PRICES)
    rows = {(section, name): value for section, name, value, _, _ in csv_rows(figures.to_dict())}
    assert rows[("conversations", "by_category.utility.billable")] == 2
    assert rows[("conversations", "by_category.service.cost_eur")] == 0.0
    assert rows[("conversations", "by_month.2026-11.cost_eur")] == 0.0641

    out = Console(file=io.StringIO(), width=300)
    print_tables(figures, out)
    text = " ".join(out.file.getvalue().split())
    assert "0.05 EUR per delivered reminder, 1 free a month" in text   # P5 had no pricing
    assert "utility 0.0141 EUR (2 of 2 billable)" in text and "service 0.05 EUR (0 of 1 billable)" in text


def test_category_prices_of_the_command_line_over_the_settings():
    settings = Settings(db_url="sqlite://", booking_url="", booking_token="", rasa_url="", rasa_token="",
                        timezone=MADRID, default_region="ES", default_language="ca",
                        whatsapp_category_prices=(("marketing", 0.05), ("utility", 0.01)))
    args = parse_args(["--from", "2026-11-01", "--to", "2026-11-30", "--price", "0.03",
                       "--price-utility", "0.0141", "--price-authentication", "0.03"])
    assert pricing(args, settings) == Pricing(0.03, 0, (("authentication", 0.03), ("marketing", 0.05),
                                                        ("utility", 0.0141)))
    plain = parse_args(["--from", "2026-11-01", "--to", "2026-11-30"])
    assert pricing(plain, settings) == Pricing(0.04, 0, settings.whatsapp_category_prices)


def test_to_dict_is_plain_json_with_the_reference(figures):
    data = figures.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["period"] == {"first_day": "2026-11-02", "last_day": "2026-11-03",
                              "office_id": OFFICE, "timezone": "Europe/Madrid"}
    assert data["answers"]["answer_rate"] == {"part": 7, "whole": 9, "value": 7 / 9}
    assert data["reference"] == REFERENCE
    assert data["reference"]["failure_share_by_reason"]["no_whatsapp_account"] == 0.0607


def test_an_empty_period_gives_none_not_errors():
    figures = compute_figures([], [], PERIOD)
    assert figures.delivery.delivery_rate == Share(0, 0, None)
    assert figures.answers.confirmed_share_of_appointments.value is None
    assert figures.answer_times.median_minutes is None
    assert figures.no_shows.overall == NoShowGroup(0, 0, None)
    assert figures.freed_slots.median_notice_hours is None
    assert figures.conversations.by_month == [] and figures.conversations.total_cost_eur == 0
    json.dumps(figures.to_dict())


# --- output ------------------------------------------------------------------------
def test_csv_rows_one_per_figure_with_breakdowns(figures):
    rows = {(section, name): (value, part, whole) for section, name, value, part, whole
            in csv_rows(figures.to_dict())}
    assert rows[("volume", "appointments")] == (15, "", "")
    assert rows[("answers", "answer_rate")] == (7 / 9, 7, 9)
    assert rows[("delivery", "failures_by_reason.not_mobile")] == (1 / 12, 1, 12)
    assert rows[("answer_times", "histogram.>24 h")] == (1, "", "")
    assert rows[("by_send_hour", "18.answer_rate")] == (0.8, "", "")
    assert rows[("no_shows", "by_outcome.failed.rate")] == (0.5, "", "")
    assert rows[("conversations", "by_month.2026-11.cost_eur")] == (0.2, "", "")


def test_tables_print(figures):
    out = Console(file=io.StringIO(), width=120)
    print_tables(figures, out)
    text = out.file.getvalue()
    assert "77.8 % (7/9)" in text and "no WhatsApp account" in text and "32.9 h" in text


# --- the command line, against the sandbox booking service ---------------------------
def run_reports(booking_service, db_url, first: date, last: date, *extra) -> str:
    env = dict(os.environ, RECORDA_DB_URL=db_url, RECORDA_BOOKING_URL=booking_service.api_url,
               RECORDA_BOOKING_TOKEN=booking_service.token, RECORDA_OFFICES="", RECORDA_HOLIDAYS="",
               PYTHONPATH=str(PROJECT_ROOT))
    result = subprocess.run([sys.executable, "-m", "bot.apps.reports", "--from", first.isoformat(),
                             "--to", last.isoformat(), *extra], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_cli_json_and_csv_against_the_sandbox(booking_service, booking, db_url):
    # The sandbox has attendance recorded two and three service days back.
    last = previous_service_day(madrid_today())
    first = previous_service_day(previous_service_day(last))
    listed = [a for day in service_days(first, last) for a in await appointments_on(booking, day)]
    came = next(a for a in listed if a.status == ATTENDED)
    missed = next(a for a in listed if a.status == NO_SHOW)
    store = ReminderStore(db_url)
    sent_at = datetime.combine(previous_service_day(came.starts_at.date()), time(17), tzinfo=MADRID)
    send(store, came.id, came.starts_at.date(), sent_at, office=came.office_id)
    status(store, came.id, "delivered", sent_at + timedelta(minutes=1))
    store.record_answer(came.id, states.CONFIRMED, "button", at=sent_at + timedelta(minutes=30))
    store.record_unsendable(missed.id, missed.starts_at.date(), missed.office_id, "+34931234567", "ca",
                            NOT_MOBILE)
    # A slot of the period freed too late to offer it to the waiting list; one of the day after it.
    offer_store = OfferStore(db_url)
    for aid, starts_at in (("freed-in", came.starts_at),
                           ("freed-after", datetime.combine(last + timedelta(days=1), time(9), tzinfo=MADRID))):
        offer_store.record_freed(aid, came.office_id, came.procedure_id, starts_at, offers.NOT_OFFERED, "too_late")

    data = json.loads(run_reports(booking_service, db_url, first, last, "--json"))
    assert set(data) == {"period", "volume", "delivery", "answers", "answer_times", "by_send_hour",
                         "no_shows", "freed_slots", "conversations", "reference",
                         "touches", "experiments", "send_time_advice", "waiting_list"}
    assert data["period"]["first_day"] == first.isoformat() and data["period"]["office_id"] is None
    assert data["volume"] == {"appointments": len(listed), "reminders_attempted": 2, "reminders_sent": 1}
    assert data["answers"]["answer_rate"] == {"part": 1, "whole": 1, "value": 1.0}
    assert data["answer_times"]["median_minutes"] == 30.0
    assert data["by_send_hour"][17] == {"hour": 17, "sent": 1, "answered": 1, "answer_rate": 1.0}
    recorded = [a for a in listed if a.status in (ATTENDED, NO_SHOW)]
    assert data["no_shows"]["overall"]["recorded"] == len(recorded)
    assert data["no_shows"]["overall"]["no_shows"] == sum(a.status == NO_SHOW for a in recorded)
    assert data["no_shows"]["by_outcome"]["confirmed"] == {"recorded": 1, "no_shows": 0, "rate": 0.0}
    assert data["no_shows"]["by_outcome"]["failed"] == {"recorded": 1, "no_shows": 1, "rate": 1.0}
    assert data["reference"] == REFERENCE
    # The repository's offices.yml: one touch, sends from 17:00, no experiment.
    day_before = {"touch": "day_before", "sent": 1, "answered": {"part": 1, "whole": 1, "value": 1.0},
                  "cancelled": {"part": 0, "whole": 1, "value": 0.0}}
    assert data["touches"] == {"overall": [day_before], "by_office": {came.office_id: [day_before]}}
    assert data["experiments"] == []
    assert data["send_time_advice"] == [{"office_id": came.office_id, "send_at": "17:00", "sends": 1,
                                         "min_sent": 30, "advice": None}]
    too_late = {"freed": 1, "offerable": 0, "offered": 0, "offers_sent": 0, "rebooked": 0,
                "median_minutes_to_rebook": None, "reused": {"part": 0, "whole": 1, "value": 0.0},
                "rebooked_of_offered": {"part": 0, "whole": 0, "value": None},
                "not_offered_reasons": {"too_late": 1}}
    assert data["waiting_list"] == {"overall": too_late, "by_office": {came.office_id: too_late}}

    office_csv = run_reports(booking_service, db_url, first, last, "--office", came.office_id, "--csv")
    rows = {(r["section"], r["name"]): r for r in csv.DictReader(io.StringIO(office_csv))}
    assert rows[("period", "office_id")]["value"] == came.office_id
    in_office = [a for a in listed if a.office_id == came.office_id]
    assert int(rows[("volume", "appointments")]["value"]) == len(in_office)
    assert rows[("answers", "answer_rate")]["part"] == "1"
    assert rows[("touches", "overall.day_before.answered")]["part"] == "1"
    assert rows[("send_time_advice", f"{came.office_id}.send_at")]["value"] == "17:00"
    assert rows[("waiting_list", "overall.not_offered_reasons.too_late")]["value"] == "1"
