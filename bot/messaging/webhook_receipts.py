"""Remembers which provider webhooks were handled, so that a webhook
delivered twice (providers deliver at least once) has the effect of one."""
from __future__ import annotations

from sqlalchemy import Column, DateTime, MetaData, String, Table, delete, insert
from sqlalchemy.exc import IntegrityError

import bot.foundation.clock
from bot.foundation.db import engine_with_tables

# This store's tables, created by the store itself (bot/foundation/db.py knows none).
SCHEMA = MetaData()

webhook_receipts = Table(
    "webhook_receipts", SCHEMA,
    Column("key", String(200), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
)
# Built once: one receipt for every webhook, and a statement built for each
# cost more CPU than its INSERT (bot/reminders/statements.py says more).
_RECORD = insert(webhook_receipts)


class WebhookReceipts:
    def __init__(self, db_url: str):
        self.engine = engine_with_tables(db_url, SCHEMA)

    def first_time(self, key: str) -> bool:
        """Records `key`; False when it was already recorded (a duplicate)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(_RECORD, {"key": key[:200], "received_at": bot.foundation.clock.now()})
            return True
        except IntegrityError:
            return False

    def forget(self, key: str) -> None:
        """Undoes `first_time` when handling failed, so a redelivery is handled."""
        with self.engine.begin() as conn:
            conn.execute(delete(webhook_receipts).where(webhook_receipts.c.key == key[:200]))
