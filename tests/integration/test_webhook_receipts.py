"""Webhook receipts inside a larger transaction, on SQLite and on the real
PostgreSQL: a delivery status's receipt and its effect on the reminder are
kept or undone together, and a duplicate does not break the transaction.
The PostgreSQL database is shared by the tests: each key and id is new."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from bot.messaging.inbound import StatusUpdate
from bot.messaging.webhook_receipts import WebhookReceipts
from bot.reminders import states
from bot.reminders.store import ReminderStore
from connectors.messagebird import MessageBirdInput

CITIZEN = "+34600111222"


def new_id() -> str:
    return uuid.uuid4().hex


def test_a_duplicate_within_a_transaction_lets_the_transaction_go_on(any_db_url):
    receipts = WebhookReceipts(any_db_url)
    message = new_id()
    assert receipts.first_time(f"status:{message}:sent")
    with receipts.engine.begin() as conn:
        assert not receipts.record(conn, f"status:{message}:sent")
        # PostgreSQL ends a transaction at an error: a duplicate is not one here.
        assert receipts.record(conn, f"status:{message}:delivered")
        kept = conn.execute(text("SELECT count(*) FROM webhook_receipts WHERE key LIKE :k"),
                            {"k": f"status:{message}:%"}).scalar()
    assert kept == 2


def test_a_receipt_recorded_in_a_transaction_that_fails_is_not_kept(any_db_url):
    receipts = WebhookReceipts(any_db_url)
    key = f"message:{new_id()}"
    with pytest.raises(RuntimeError), receipts.engine.begin() as conn:
        assert receipts.record(conn, key)
        raise RuntimeError("what the webhook was for failed")
    assert receipts.first_time(key)
    assert not receipts.first_time(key)


async def test_a_status_is_recorded_once_and_a_failed_one_leaves_no_receipt(any_db_url, monkeypatch):
    channel = MessageBirdInput(api_url="http://127.0.0.1:9/v1", access_key="ak", channel_id="channel",
                               signing_key="k" * 32, webhook_url=None, template_namespace="ns",
                               template_name="recorda_appointment_reminder",
                               template_languages={"ca": "ca"}, db_url=any_db_url, seal_secret="s" * 32)
    store = ReminderStore(any_db_url)
    appointment, message = f"RCPT-{new_id()}", f"out-{new_id()}"
    store.schedule(appointment, None, "oac", CITIZEN, "ca")
    assert store.claim_for_sending(appointment)
    store.mark_sent(appointment, message)
    delivered = StatusUpdate(message, "delivered", None, None, None, template=True)

    record = store.record_provider_status

    def fails_once(*args, **kwargs):
        monkeypatch.setattr(channel.reminders, "record_provider_status", record)
        raise ConnectionError("database gone")

    monkeypatch.setattr(channel.reminders, "record_provider_status", fails_once)
    with pytest.raises(ConnectionError):
        await channel.record_status(delivered)
    assert store.get(appointment).state == states.SENT

    assert await channel.record_status(delivered) == "recorded"
    assert await channel.record_status(delivered) == "duplicate"
    assert store.get(appointment).state == states.DELIVERED
    assert [e.event for e in store.history(appointment)].count(states.DELIVERED) == 1
