"""Freed slots and the offers made of them to the waiting list (bot/offers).

A database the stores created themselves already has them; they are then
left alone.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    tables = set(sa.inspect(op.get_bind()).get_table_names())
    if "freed_slots" not in tables:
        op.create_table(
            "freed_slots",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("appointment_id", sa.String(64), nullable=False, unique=True),
            sa.Column("office_id", sa.String(64), nullable=False),
            sa.Column("procedure_id", sa.String(64), nullable=False),
            _when("starts_at"),
            _when("freed_at"),
            sa.Column("state", sa.String(16), nullable=False),
            sa.Column("reason", sa.String(32), nullable=True),
            _when("closed_at", nullable=True),
            sa.Column("rebooked_appointment_id", sa.String(64), nullable=True),
        )
        op.create_index("ix_freed_slots_freed_at", "freed_slots", ["freed_at"])
        op.create_index("ix_freed_slots_state", "freed_slots", ["state"])
    if "slot_offers" not in tables:
        op.create_table(
            "slot_offers",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("freed_slot_id", sa.Integer, sa.ForeignKey("freed_slots.id"), nullable=False),
            sa.Column("entry_id", sa.String(64), nullable=False),
            sa.Column("phone", sa.String(32), nullable=False),
            sa.Column("citizen_name", sa.String(200), nullable=False),
            sa.Column("language", sa.String(8), nullable=False),
            sa.Column("state", sa.String(16), nullable=False),
            _when("created_at"),
            _when("sent_at", nullable=True),
            _when("expires_at"),
            _when("answered_at", nullable=True),
        )
        for column in ("freed_slot_id", "phone", "state"):
            op.create_index(f"ix_slot_offers_{column}", "slot_offers", [column])


def downgrade() -> None:
    op.drop_table("slot_offers")
    op.drop_table("freed_slots")
