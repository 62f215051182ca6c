"""Baseline: every store's tables as they were when Recorda moved to
migrations (December 2026).

On an empty database it creates them. On a database an older Recorda made
with create_all (tables present, no alembic_version) it completes what is
there: missing tables, missing nullable columns, missing indexes, and
string columns widened to today's length (provider message ids grew from
64 to 128 characters for Meta's). A missing NOT NULL column cannot be
invented and stops the upgrade with its name. Only this revision looks at
what is there; later ones are ordinary operations.

The tables are copied here, not imported: the models will change, this
revision must not.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""
from typing import Dict, List, Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Boolean, Column, Date, DateTime, Float, ForeignKey, Integer, MetaData, String, Table, Text
from sqlalchemy.engine import Connection

revision: str = "0001"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

BASELINE = MetaData()


def _when(name: str, nullable: bool = False) -> Column:
    return Column(name, DateTime(timezone=True), nullable=nullable)


Table(
    "reminders", BASELINE,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("appointment_id", String(64), nullable=False, unique=True),
    Column("service_date", Date, nullable=True, index=True),
    Column("office_id", String(64), nullable=True),
    Column("phone", String(32), nullable=True),
    Column("language", String(8), nullable=True),
    Column("state", String(16), nullable=False),
    Column("reason", String(48), nullable=True),
    Column("error_code", Integer, nullable=True),
    Column("provider_message_id", String(128), nullable=True, unique=True),
    Column("was_read", Boolean, nullable=False, default=False),
    _when("created_at"),
    _when("updated_at"),
    _when("sent_at", nullable=True),
    Column("window_closes_at", DateTime(timezone=True), nullable=True, index=True),
)
Table(
    "unmatched_statuses", BASELINE,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(128), nullable=False, index=True),
    Column("status", String(32), nullable=False),
    Column("error_code", Integer, nullable=True),
    Column("reason", String(48), nullable=True),
    _when("at"),
    Column("recipient", String(32), nullable=True, index=True),
)
Table(
    "reminder_events", BASELINE,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reminder_id", Integer, ForeignKey("reminders.id"), nullable=False, index=True),
    Column("event", String(24), nullable=False),
    Column("applied", Boolean, nullable=False),
    _when("at"),
    Column("source", String(16), nullable=False),
    Column("detail", Text, nullable=True),
)
Table(
    "sms_fallbacks", BASELINE,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("appointment_id", String(64), nullable=False, unique=True),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    _when("next_attempt_at", nullable=True),
    Column("provider_message_id", String(64), nullable=True),
    Column("parts", Integer, nullable=True),
    Column("detail", String(200), nullable=True),
    _when("created_at"),
    _when("updated_at"),
)
Table(
    "booking_operations", BASELINE,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("appointment_id", String(64), nullable=False, index=True),
    Column("operation", String(16), nullable=False),
    Column("sender_id", String(32), nullable=False),
    Column("language", String(8), nullable=True),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    _when("next_attempt_at"),
    Column("last_error", Text, nullable=True),
    Column("notified", Integer, nullable=False, default=0),
    _when("created_at"),
    _when("finished_at", nullable=True),
)
Table(
    "used_links", BASELINE,
    Column("appointment_id", String(64), primary_key=True),
    Column("jti", String(32), primary_key=True),
    Column("action", String(16), nullable=False),
    _when("used_at"),
)
Table(
    "webhook_receipts", BASELINE,
    Column("key", String(200), primary_key=True),
    _when("received_at"),
)
Table(
    "console_users", BASELINE,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(128), nullable=False),
    Column("password_hash", String(256), nullable=False),
    Column("role", String(16), nullable=False),
    Column("language", String(8), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("failed_sign_ins", Integer, nullable=False, default=0),
    _when("locked_until", nullable=True),
    _when("created_at"),
    _when("last_sign_in_at", nullable=True),
)
Table(
    "console_sessions", BASELINE,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("console_users.id"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    _when("created_at"),
    _when("last_seen_at"),
    _when("expires_at"),
    Column("revealed", Text, nullable=True),
)
Table(
    "console_reveals", BASELINE,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, nullable=False),
    Column("username", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("reference", String(128), nullable=False),
    Column("masked_number", String(32), nullable=False),
    Column("purpose", String(32), nullable=False),
)
Table(
    "console_nlu_reviews", BASELINE,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("text_key", String(64), nullable=False, unique=True),
    Column("text", Text, nullable=False),
    Column("intent", String(128), nullable=True),
    Column("ignored", Boolean, nullable=False, default=False),
    Column("reviewer", String(64), nullable=False),
    _when("reviewed_at"),
    Column("predicted_intent", String(128), nullable=True),
    Column("confidence", Float, nullable=True),
    Column("language", String(8), nullable=True),
    _when("exported_at", nullable=True),
)


def upgrade() -> None:
    bind = op.get_bind()
    existing = set(sa.inspect(bind).get_table_names())
    for table in BASELINE.sorted_tables:
        if table.name in existing:
            _complete(bind, table)
        else:
            table.create(bind)


def downgrade() -> None:
    for table in reversed(BASELINE.sorted_tables):
        op.drop_table(table.name)


def _complete(bind: Connection, table: Table) -> None:
    """Brings a table an older Recorda created up to the baseline."""
    inspector = sa.inspect(bind)
    reflected: Dict[str, Dict] = {c["name"]: c for c in inspector.get_columns(table.name)}
    absent = [c for c in table.columns if c.name not in reflected]
    required = [c.name for c in absent if not c.nullable]
    if required:
        raise RuntimeError(f"table {table.name} lacks NOT NULL columns {', '.join(required)}, which no older "
                           "Recorda left out: this database is not one Recorda made")
    narrow = [c for c in table.columns if c.name in reflected and _narrower(reflected[c.name]["type"], c.type)]
    if absent or narrow:
        # Batch: SQLite alters a column type only by copying the table;
        # PostgreSQL runs plain ALTERs.
        with op.batch_alter_table(table.name) as batch:
            for column in absent:
                batch.add_column(Column(column.name, column.type, nullable=True))
            for column in narrow:
                batch.alter_column(column.name, type_=column.type, existing_type=reflected[column.name]["type"],
                                   existing_nullable=column.nullable)
    indexed = {tuple(i["column_names"]) for i in sa.inspect(bind).get_indexes(table.name)}
    for index in table.indexes:
        columns: List[str] = [c.name for c in index.columns]
        if tuple(columns) not in indexed:
            op.create_index(index.name, table.name, columns, unique=bool(index.unique))


def _narrower(reflected: sa.types.TypeEngine, wanted: sa.types.TypeEngine) -> bool:
    return (isinstance(reflected, String) and isinstance(wanted, String) and not isinstance(reflected, Text)
            and reflected.length is not None and wanted.length is not None and reflected.length < wanted.length)
