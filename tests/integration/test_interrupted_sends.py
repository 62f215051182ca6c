"""Sends a killed process left half done (bot/reminders/interrupted_sends.py):
each is settled once from the provider's own statuses — recorded as sent when
the provider got it, sent again when it did not, left for staff when the
statuses cannot tell — so a reminder is neither lost nor sent twice."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.foundation.clock import utc_now
from bot.reminders import states
from bot.reminders.interrupted_sends import RELEASED, recover_interrupted_sends
from bot.reminders.store import ReminderStore

AFTER = timedelta(minutes=10)
PHONE = "+34600111222"
OTHER_PHONE = "+34600999888"


@pytest.fixture
def store(tmp_path):
    return ReminderStore(f"sqlite:///{tmp_path / 'recorda.db'}")


def claimed(store: ReminderStore, appointment_id: str, at, phone: str = PHONE) -> None:
    """A reminder claimed for sending at `at` by a process that then died."""
    store.schedule(appointment_id, date(2030, 1, 2), "ajuntament", phone, "ca")
    assert store.claim_for_sending(appointment_id, at=at)


def test_a_send_the_provider_accepted_is_recorded_with_its_statuses_and_not_sent_again(store):
    now = utc_now()
    claimed(store, "A1", now - timedelta(minutes=15))
    store.apply_provider_status("msg-1", "sent", now - timedelta(minutes=15) + timedelta(seconds=1),
                                recipient=PHONE)
    store.apply_provider_status("msg-1", "delivered", now - timedelta(minutes=14), recipient=PHONE)

    recovery = recover_interrupted_sends(store, AFTER, now=now)

    assert recovery.recorded_as_sent == ["A1"] and not recovery.released and not recovery.ambiguous
    reminder = store.get("A1")
    assert reminder.provider_message_id == "msg-1"
    assert reminder.state == states.DELIVERED  # the statuses that came first now apply
    assert recover_interrupted_sends(store, AFTER, now=now).total == 0  # settled once


def test_a_send_the_provider_never_got_goes_back_to_scheduled_for_the_job(store):
    now = utc_now()
    claimed(store, "A1", now - timedelta(minutes=15))
    # A status for someone else's message says nothing about this one.
    store.apply_provider_status("msg-other", "sent", now - timedelta(minutes=14), recipient=OTHER_PHONE)

    recovery = recover_interrupted_sends(store, AFTER, now=now)

    assert recovery.released == ["A1"]
    assert store.get("A1").state == states.SCHEDULED
    assert [e.event for e in store.history("A1")][-1] == RELEASED
    assert store.claim_for_sending("A1")  # the job's next trigger may send it, once
    assert not store.claim_for_sending("A1")


def test_a_claim_younger_than_the_lease_is_left_to_the_send_in_progress(store):
    now = utc_now()
    claimed(store, "A1", now - timedelta(minutes=9))
    assert recover_interrupted_sends(store, AFTER, now=now).total == 0
    assert store.get("A1").state == states.SENDING


def test_a_status_from_before_the_claim_is_another_message(store):
    now = utc_now()
    claimed(store, "A1", now - timedelta(minutes=15))
    store.apply_provider_status("old", "read", now - timedelta(hours=3), recipient=PHONE)
    assert recover_interrupted_sends(store, AFTER, now=now).released == ["A1"]


def test_two_unrecorded_messages_to_the_number_are_left_for_staff_and_never_resent(store):
    now = utc_now()
    claimed(store, "A1", now - timedelta(minutes=15))
    for message_id in ("msg-1", "msg-2"):  # the reminder and an answer: which is which?
        store.apply_provider_status(message_id, "sent", now - timedelta(minutes=14), recipient=PHONE)

    recovery = recover_interrupted_sends(store, AFTER, now=now)

    assert recovery.ambiguous == ["A1"]
    assert store.get("A1").state == states.SENDING
    assert not store.claim_for_sending("A1")


def test_a_message_another_reminder_holds_is_not_taken_twice(store):
    now = utc_now()
    store.schedule("B1", date(2030, 1, 2), "ajuntament", PHONE, "ca")
    assert store.claim_for_sending("B1", at=now - timedelta(minutes=20))
    store.mark_sent("B1", "msg-b", at=now - timedelta(minutes=20))
    claimed(store, "A1", now - timedelta(minutes=15))
    # msg-b's status came before it was recorded, so it also sits among the unmatched.
    store.apply_provider_status("msg-b", "sent", now - timedelta(minutes=14), recipient=PHONE)

    recovery = recover_interrupted_sends(store, AFTER, now=now)

    assert recovery.released == ["A1"]
    assert store.get("B1").provider_message_id == "msg-b"


def test_a_claim_that_moved_meanwhile_is_not_released(store):
    now = utc_now()
    claimed(store, "A1", now - timedelta(minutes=15))
    store.mark_sent("A1", "msg-late", at=now)  # the slow send finished after all
    assert recover_interrupted_sends(store, AFTER, now=now).total == 0
    assert store.get("A1").state == states.SENT
