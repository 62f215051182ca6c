"""Remembers which provider webhooks were handled, so that a webhook
delivered twice (providers deliver at least once) has the effect of one."""
from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Column, DateTime, MetaData, String, Table, delete
from sqlalchemy.engine import Connection
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


# Built once per database kind: one receipt for every webhook, and a
# statement built for each cost more CPU than its INSERT
# (bot/reminders/statements.py says more).
@functools.lru_cache(maxsize=None)
def _insert_if_new(dialect: str) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING in the two databases Recorda runs
    on: a duplicate is then a row count of 0, not an error that would end a
    larger transaction (PostgreSQL) or be logged by the server as one. None
    for another database: there a savepoint catches the duplicate."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        return None
    return insert(webhook_receipts).on_conflict_do_nothing(index_elements=["key"])


class WebhookReceipts:
    def __init__(self, db_url: str):
        self.engine = engine_with_tables(db_url, SCHEMA)
        self._record = _insert_if_new(self.engine.dialect.name)

    def first_time(self, key: str) -> bool:
        """Records `key`; False when it was already recorded (a duplicate)."""
        with self.engine.begin() as conn:
            return self.record(conn, key)

    def record(self, conn: Connection, key: str) -> bool:
        """Records `key` within the caller's transaction on this store's
        database, so that what the webhook does and its receipt are kept or
        undone together; False for a duplicate."""
        values = {"key": key[:200], "received_at": bot.foundation.clock.now()}
        if self._record is not None:
            return conn.execute(self._record, values).rowcount == 1
        try:
            with conn.begin_nested():
                conn.execute(webhook_receipts.insert(), values)
            return True
        except IntegrityError:
            return False

    def forget(self, key: str) -> None:
        """Undoes `first_time` when handling failed, so a redelivery is handled."""
        with self.engine.begin() as conn:
            conn.execute(delete(webhook_receipts).where(webhook_receipts.c.key == key[:200]))
