"""Which wording variant an appointment's reminders use, and the variants an
admin retired in the console.

An appointment keeps the variant it was first given (stored on its
reminder), so every touch and every re-run says the same thing; a retired
variant is no longer given, and an appointment that had it and has not been
sent yet gets one of the others (bot.reminders.variants keeps everyone
else's)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import List, Optional

from sqlalchemy import Column, DateTime, MetaData, String, Table, select
from sqlalchemy.exc import IntegrityError

from bot.foundation.clock import stored_utc, utc_now
from bot.foundation.db import engine_with_tables
from bot.offices.settings import Experiment
from bot.reminders.variants import assign_variant

SCHEMA = MetaData()

retired_variants = Table(
    "retired_variants", SCHEMA,
    Column("office_id", String(64), primary_key=True),
    Column("experiment", String(32), primary_key=True),
    Column("variant", String(32), primary_key=True),
    Column("retired_at", DateTime(timezone=True), nullable=False),
    Column("retired_by", String(64), nullable=False),
)


@dataclass(frozen=True)
class RetiredVariant:
    office_id: str
    experiment: str
    variant: str
    retired_at: datetime
    retired_by: str


class VariantRetirements:
    """The variants retired from the console, by office and experiment."""

    def __init__(self, db_url: str):
        self.engine = engine_with_tables(db_url, SCHEMA)

    def retire(self, office_id: str, experiment: Experiment, variant: str, by: str,
               at: Optional[datetime] = None) -> None:
        """Idempotent. Refused (ValueError) for an unknown variant or the last one in use."""
        if variant not in experiment.variants:
            raise ValueError(f"experiment {experiment.name} has no variant {variant!r}")
        if not [v for v in self.active(office_id, experiment) if v != variant]:
            raise ValueError("an experiment keeps at least one variant")
        try:
            with self.engine.begin() as conn:
                conn.execute(retired_variants.insert().values(
                    office_id=office_id, experiment=experiment.name, variant=variant,
                    retired_at=at or utc_now(), retired_by=by))
        except IntegrityError:
            pass  # retired already

    def retired(self, office_id: str, experiment: str) -> List[RetiredVariant]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(retired_variants).where(
                (retired_variants.c.office_id == office_id)
                & (retired_variants.c.experiment == experiment))
                .order_by(retired_variants.c.retired_at)).all()
        return [RetiredVariant(r.office_id, r.experiment, r.variant, stored_utc(r.retired_at), r.retired_by)
                for r in rows]

    def active(self, office_id: str, experiment: Experiment) -> List[str]:
        """The variants still given, in the order offices.yml lists them."""
        gone = set(experiment.retired) | {r.variant for r in self.retired(office_id, experiment.name)}
        return [v for v in experiment.variants if v not in gone]


def choose_variant(appointment_id: str, office_id: str, experiment: Optional[Experiment],
                   active: List[str], current: Optional[str] = None) -> Optional[str]:
    """The variant for an appointment's next send: the one it has while it is
    still active, else a stable draw among the active ones; None without an
    experiment."""
    if experiment is None or not active:
        return None
    if current in active:
        return current
    return assign_variant(appointment_id, office_id, active, experiment.name)
