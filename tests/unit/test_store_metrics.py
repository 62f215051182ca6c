"""The gauges counted from the database when Prometheus asks (reminders by
state, the booking outbox's depth), on a seeded SQLite store, and the
reminders sent/failed counters the store moves."""
from __future__ import annotations

from datetime import date, timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from bot.booking.outbox import DONE, BookingOutbox
from bot.booking.outbox_metrics import OutboxDepth
from bot.foundation import metrics
from bot.reminders import states
from bot.reminders.metrics import RemindersByState
from bot.reminders.store import ReminderStore

DAY = date(2026, 12, 1)


def scrape(*collectors) -> dict:
    """{(sample name, labels...): value} as Prometheus would read them."""
    registry = CollectorRegistry()
    for collector in collectors:
        registry.register(collector)
    text = generate_latest(registry).decode()
    return {(s.name, *sorted(s.labels.values())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def seed(store: ReminderStore) -> None:
    """2 scheduled, 1 sending, 1 sent, 1 delivered, 1 read, 2 confirmed,
    1 cancelled, 3 failed (2 before sending, 1 by the provider), 1 expired."""
    def sent(aid: str) -> None:
        store.schedule(aid, DAY, "oac-centre", "+34612345678", "ca")
        assert store.claim_for_sending(aid)
        store.mark_sent(aid, f"m-{aid}")

    for aid in ("s1", "s2"):
        store.schedule(aid, DAY, "oac-centre", "+34612345678", "ca")
    store.schedule("g1", DAY, "oac-centre", "+34612345678", "ca")
    store.claim_for_sending("g1")
    sent("t1")
    sent("d1")
    store.apply_provider_status("m-d1", "delivered")
    sent("r1")
    store.apply_provider_status("m-r1", "read")
    for aid in ("c1", "c2"):
        sent(aid)
        store.record_answer(aid, states.CONFIRMED, "button")
    sent("x1")
    store.record_answer("x1", states.CANCELLED, "text")
    store.record_unsendable("f1", DAY, "oac-centre", "933000000", "ca", "not_mobile")
    store.record_unsendable("f2", DAY, "oac-centre", "12", "ca", "invalid_number")
    sent("f3")
    store.apply_provider_status("m-f3", "failed", error_code=131026, reason="no_whatsapp_account")
    sent("e1")
    store.transition("e1", states.EXPIRED, store.get("e1").sent_at + timedelta(days=1), "window")


def test_reminders_by_state_counts_every_state_exactly(db_url):
    store = ReminderStore(db_url)
    seed(store)
    found = scrape(RemindersByState(store))
    assert {state: found[("recorda_reminders", state)] for state in states.ALL_STATES} == {
        "scheduled": 2, "sending": 1, "sent": 1, "delivered": 1, "read": 1,
        "confirmed": 2, "cancelled": 1, "failed": 3, "expired": 1}


def test_an_empty_store_reports_zero_for_every_state(db_url):
    found = scrape(RemindersByState(ReminderStore(db_url)))
    assert [found[("recorda_reminders", state)] for state in states.ALL_STATES] == [0] * len(states.ALL_STATES)


def test_a_database_that_fails_leaves_the_gauge_out_not_the_scrape(db_url):
    store = ReminderStore(db_url)
    store.engine = create_engine("postgresql://recorda:x@127.0.0.1:1/none")  # nothing listens there
    assert scrape(RemindersByState(store)) == {}


def test_sent_and_failed_counters_follow_the_moves(db_url):
    process = metrics.process_name()

    def count(name: str, **labels) -> float:
        return metrics._REGISTRY.get_sample_value(name, {"process": process, **labels}) or 0.0

    before_sent = count("recorda_reminders_sent_total")
    before_failed = {reason: count("recorda_reminders_failed_total", reason=reason)
                     for reason in ("not_mobile", "invalid_number", "no_whatsapp_account")}
    store = ReminderStore(db_url)
    seed(store)
    store.mark_sent("t1", "m-t1-again")  # a repeated mark moves nothing, counts nothing
    assert count("recorda_reminders_sent_total") - before_sent == 8
    assert {reason: count("recorda_reminders_failed_total", reason=reason) - before
            for reason, before in before_failed.items()} == {
        "not_mobile": 1, "invalid_number": 1, "no_whatsapp_account": 1}


def test_outbox_depth_by_operation_and_the_oldest_wait(db_url, clock):
    outbox = BookingOutbox(db_url)
    first = outbox.enqueue("A1", "confirm", "+34612345678", "ca")
    clock.advance(seconds=30)
    outbox.enqueue("A2", "confirm", "+34612345679", "ca")
    outbox.enqueue("A3", "cancel", "+34612345670", "es")
    done = outbox.enqueue("A4", "cancel", "+34612345671", "es")
    outbox.finish(done.id, DONE)
    clock.advance(seconds=60)
    found = scrape(OutboxDepth(outbox))
    assert found[("recorda_booking_outbox_pending", "confirm")] == 2
    assert found[("recorda_booking_outbox_pending", "cancel")] == 1
    assert found[("recorda_booking_outbox_oldest_pending_seconds",)] == 90
    outbox.finish(first.id, DONE)
    assert scrape(OutboxDepth(outbox))[("recorda_booking_outbox_oldest_pending_seconds",)] == 60


def test_an_empty_outbox_has_waited_nothing(db_url):
    found = scrape(OutboxDepth(BookingOutbox(db_url)))
    assert found[("recorda_booking_outbox_pending", "confirm")] == 0
    assert found[("recorda_booking_outbox_oldest_pending_seconds",)] == 0
