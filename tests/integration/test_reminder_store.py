"""The reminder store and its state machine, on SQLite and (when CI provides
one through RECORDA_TEST_PG_URL) on a real PostgreSQL."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone

import pytest

from bot.reminders import states
from bot.reminders.states import next_state
from bot.reminders.store import ReminderStore


@pytest.fixture
def store(any_db_url):
    return ReminderStore(any_db_url)


def appointment_id() -> str:
    return f"T-{uuid.uuid4().hex[:10]}"


def test_happy_path_keeps_every_step(store):
    aid = appointment_id()
    store.schedule(aid, date(2026, 12, 1), "oac-centre", "+34612345678", "ca")
    assert store.claim_for_sending(aid)
    store.mark_sent(aid, f"m-{aid}")
    store.apply_provider_status(f"m-{aid}", "delivered")
    store.apply_provider_status(f"m-{aid}", "read")
    store.record_answer(aid, states.CANCELLED, "button")
    reminder = store.get(aid)
    assert reminder.state == states.CANCELLED and reminder.was_read
    assert [e.event for e in store.history(aid)] == ["scheduled", "sending", "sent", "delivered", "read",
                                                     "cancelled"]
    assert all(e.applied for e in store.history(aid))


def test_out_of_order_and_duplicate_statuses_never_move_back(store):
    aid = appointment_id()
    store.schedule(aid, None, None, "+34612345678", "es")
    store.claim_for_sending(aid)
    store.mark_sent(aid, f"m-{aid}")
    for status in ("read", "delivered", "sent", "read", "delivered"):
        store.apply_provider_status(f"m-{aid}", status)
    history = store.history(aid)
    assert store.get(aid).state == states.READ
    assert [e.applied for e in history[-5:]] == [True, False, False, False, False]


def test_only_one_claim_wins(store):
    aid = appointment_id()
    store.schedule(aid, None, None, "+34612345678", "ca")
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: store.claim_for_sending(aid), range(8)))
    assert results.count(True) == 1


def test_status_before_the_send_was_recorded_is_replayed(store):
    aid = appointment_id()
    store.schedule(aid, None, None, "+34612345678", "ca")
    store.claim_for_sending(aid)
    assert store.apply_provider_status(f"m-{aid}", "delivered") is None  # provider was faster
    store.mark_sent(aid, f"m-{aid}")
    assert store.get(aid).state == states.DELIVERED


def test_failure_keeps_reason_and_code(store):
    aid = appointment_id()
    store.schedule(aid, None, None, "+34612345678", "ca")
    store.claim_for_sending(aid)
    store.mark_sent(aid, f"m-{aid}")
    store.apply_provider_status(f"m-{aid}", "failed", error_code=302, reason="no_whatsapp_account")
    reminder = store.get(aid)
    assert (reminder.state, reminder.reason, reminder.error_code) == (states.FAILED, "no_whatsapp_account", 302)


def test_rerun_does_not_touch_an_existing_reminder(store):
    aid = appointment_id()
    store.schedule(aid, None, None, "+34612345678", "ca")
    store.claim_for_sending(aid)
    again = store.schedule(aid, None, None, "+34612345678", "ca")
    assert again.state == states.SENDING


def test_unknown_status_is_recorded_not_applied(store):
    aid = appointment_id()
    store.schedule(aid, None, None, "+34612345678", "ca")
    store.claim_for_sending(aid)
    store.mark_sent(aid, f"m-{aid}")
    store.apply_provider_status(f"m-{aid}", "pending_media")
    assert store.get(aid).state == states.SENT
    assert store.history(aid)[-1].event == "status:pending_media"


def test_provider_timestamps_are_kept(store):
    aid = appointment_id()
    store.schedule(aid, None, None, "+34612345678", "ca")
    store.claim_for_sending(aid)
    sent_at = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)
    store.mark_sent(aid, f"m-{aid}", at=sent_at)
    store.apply_provider_status(f"m-{aid}", "delivered", at=sent_at + timedelta(seconds=3))
    events = store.history(aid)
    assert events[-1].at == sent_at + timedelta(seconds=3)
    assert store.get(aid).sent_at == sent_at


@pytest.mark.parametrize("current,target,expected", [
    (states.SENT, states.DELIVERED, states.DELIVERED),
    (states.READ, states.DELIVERED, None),
    (states.DELIVERED, states.FAILED, None),          # failed only before delivery
    (states.SENT, states.FAILED, states.FAILED),
    (states.FAILED, states.DELIVERED, states.DELIVERED),  # the provider retried and delivered
    (states.CONFIRMED, states.CANCELLED, states.CANCELLED),  # a change of mind
    (states.CANCELLED, states.CONFIRMED, None),
    (states.DELIVERED, states.CONFIRMED, states.CONFIRMED),  # read receipts hidden
    (states.CONFIRMED, states.READ, None),
    (states.SCHEDULED, states.EXPIRED, None),
])
def test_state_machine(current, target, expected):
    assert next_state(current, target) == expected


def _sent_reminder(store, office_id="oac-centre", at=None):
    aid = appointment_id()
    store.schedule(aid, date(2026, 12, 1), office_id, "+34612345678", "ca")
    store.claim_for_sending(aid)
    store.mark_sent(aid, f"m-{aid}", at=at)
    return aid


SENT_AT = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)


def test_reply_window_closes_after_23h40_and_keeps_read(store, db_url):
    unread = _sent_reminder(store, at=SENT_AT)
    read = _sent_reminder(store, at=SENT_AT)
    store.apply_provider_status(f"m-{read}", "read", at=SENT_AT + timedelta(hours=2))
    ours = {unread, read}
    # (The PostgreSQL database is shared by the tests: look at ours only.)
    assert ours.isdisjoint(r.appointment_id for r in store.expire_due(SENT_AT + timedelta(hours=23, minutes=39)))
    # A restart: a new store on the same database, nothing held in memory.
    from bot.foundation.db import dispose_all
    dispose_all()
    restarted = ReminderStore(store.engine.url.render_as_string(hide_password=False))
    expired = restarted.expire_due(SENT_AT + timedelta(hours=23, minutes=40))
    assert ours <= {r.appointment_id for r in expired}
    assert restarted.get(unread).state == states.EXPIRED and not restarted.get(unread).was_read
    assert restarted.get(read).state == states.EXPIRED and restarted.get(read).was_read
    assert restarted.history(read)[-1].detail == {"was_read": True}
    again = restarted.expire_due(SENT_AT + timedelta(days=2))
    assert ours.isdisjoint(r.appointment_id for r in again)  # expired once only


def test_reply_window_is_set_per_office(store):
    # offices.yml: oac-la-platja waits 20 h, the others 23 h 40 min.
    platja = _sent_reminder(store, office_id="oac-la-platja", at=SENT_AT)
    centre = _sent_reminder(store, office_id="oac-centre", at=SENT_AT)
    assert store.get(platja).window_closes_at == SENT_AT + timedelta(hours=20)
    assert store.get(centre).window_closes_at == SENT_AT + timedelta(hours=23, minutes=40)


def test_answered_or_failed_reminders_never_expire(store):
    answered = _sent_reminder(store, at=SENT_AT)
    store.record_answer(answered, states.CONFIRMED, "text")
    failed = _sent_reminder(store, at=SENT_AT)
    store.apply_provider_status(f"m-{failed}", "failed", error_code=302, reason="no_whatsapp_account")
    later = [r.appointment_id for r in store.expire_due(SENT_AT + timedelta(days=1))]
    assert answered not in later and failed not in later
    assert store.get(answered).state == states.CONFIRMED


def test_a_late_cancel_after_expiry_is_still_recorded(store):
    aid = _sent_reminder(store, at=SENT_AT)
    store.expire_due(SENT_AT + timedelta(days=1))
    store.record_answer(aid, states.CANCELLED, "text")
    assert store.get(aid).state == states.CANCELLED
    assert [e.event for e in store.history(aid)][-2:] == ["expired", "cancelled"]
