"""Touches and wording experiments: a reminder knows which touch of its
office it is on and which wording variant its appointment got; the message
ids of earlier touches are kept; admins' retired variants are stored.

A database the stores created themselves (no migrations run yet: a demo, a
test) already has what today's models have; what is there is left alone.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    tables = set(inspector.get_table_names())
    columns = {c["name"] for c in inspector.get_columns("reminders")}
    absent = [name for name in ("touch", "variant") if name not in columns]
    if absent:
        with op.batch_alter_table("reminders") as batch:
            for name in absent:
                batch.add_column(sa.Column(name, sa.String(32), nullable=True))
    if "reminder_earlier_messages" not in tables:
        op.create_table(
            "reminder_earlier_messages",
            sa.Column("message_id", sa.String(128), primary_key=True),
            sa.Column("reminder_id", sa.Integer, sa.ForeignKey("reminders.id"), nullable=False),
            sa.Column("touch", sa.String(32), nullable=True),
        )
        op.create_index("ix_reminder_earlier_messages_reminder_id", "reminder_earlier_messages",
                        ["reminder_id"])
    if "retired_variants" not in tables:
        op.create_table(
            "retired_variants",
            sa.Column("office_id", sa.String(64), primary_key=True),
            sa.Column("experiment", sa.String(32), primary_key=True),
            sa.Column("variant", sa.String(32), primary_key=True),
            sa.Column("retired_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("retired_by", sa.String(64), nullable=False),
        )


def downgrade() -> None:
    op.drop_table("retired_variants")
    op.drop_index("ix_reminder_earlier_messages_reminder_id", "reminder_earlier_messages")
    op.drop_table("reminder_earlier_messages")
    with op.batch_alter_table("reminders") as batch:
        batch.drop_column("variant")
        batch.drop_column("touch")
