"""What the migrations manage: every store's tables, each defined on its
store's own MetaData. A new store adds its SCHEMA here (tests/unit/
test_migration_target.py fails until it does)."""
from __future__ import annotations

from typing import Tuple

from sqlalchemy import MetaData

from bot.booking import outbox
from bot.citizens import links
from bot.console import accounts, nlu_review_table
from bot.messaging import webhook_receipts
from bot.offers import store as offer_store
from bot.reminders import records as reminder_records
from bot.reminders import sms_fallback, variant_choice

STORE_SCHEMAS: Tuple[MetaData, ...] = (
    reminder_records.SCHEMA,
    variant_choice.SCHEMA,
    offer_store.SCHEMA,
    sms_fallback.SCHEMA,
    outbox.SCHEMA,
    links.SCHEMA,
    webhook_receipts.SCHEMA,
    accounts.SCHEMA,
    nlu_review_table.SCHEMA,
)


def target_metadata() -> MetaData:
    """Every store's tables on one MetaData, as Alembic compares them."""
    combined = MetaData()
    for schema in STORE_SCHEMAS:
        for table in schema.sorted_tables:
            if table.name in combined.tables:
                raise ValueError(f"two stores define the table {table.name}")
            table.to_metadata(combined)
    return combined

