"""The console_nlu_reviews table in Recorda's own database, created by the
review store itself (bot/foundation/db.py knows none), and a row of it:
one per normalised text, no phone number; relabelling overwrites."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlalchemy import Boolean, Column, DateTime, Float, Integer, MetaData, String, Table, Text

from bot.console.nlu_project import IGNORE
from bot.foundation.clock import stored_utc as _aware

SCHEMA = MetaData()

reviews_table = Table(
    "console_nlu_reviews", SCHEMA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # SHA-256 of the normalised text: unique, and short enough to index
    # whatever the length of the message.
    Column("text_key", String(64), nullable=False, unique=True),
    Column("text", Text, nullable=False),                # as written (spaces tidied); "" if ignored
    Column("intent", String(128), nullable=True),        # None when ignored
    Column("ignored", Boolean, nullable=False, default=False),
    Column("reviewer", String(64), nullable=False),
    Column("reviewed_at", DateTime(timezone=True), nullable=False),
    Column("predicted_intent", String(128), nullable=True),
    Column("confidence", Float, nullable=True),
    Column("language", String(8), nullable=True),
    Column("exported_at", DateTime(timezone=True), nullable=True),
)


@dataclass(frozen=True)
class Review:
    key: str
    text: str
    intent: Optional[str]
    ignored: bool
    reviewer: str
    reviewed_at: datetime
    predicted_intent: Optional[str]
    confidence: Optional[float]
    language: Optional[str]
    exported_at: Optional[datetime]

    @property
    def label(self) -> str:
        """What the editor chose, as the page's select knows it."""
        return IGNORE if self.ignored else (self.intent or "")

    @classmethod
    def from_row(cls, row) -> "Review":
        return cls(row.text_key, row.text, row.intent, bool(row.ignored), row.reviewer,
                   _aware(row.reviewed_at), row.predicted_intent, row.confidence, row.language,
                   _aware(row.exported_at))
