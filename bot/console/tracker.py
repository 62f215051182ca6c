"""Reads Rasa's SQL tracker store (its `events` table) for the console: the
conversations as Rasa recorded them, never a copy.

Rasa 3.6's SQLTrackerStore writes one row per event: id, sender_id (the
citizen's number in E.164 for the WhatsApp channels), type_name ("user",
"bot", "action", "slot", ...), timestamp (Unix seconds), intent_name,
action_name and data (the event as JSON). This module only reads it, except
for the retention purge. Before Rasa has run there is no table: every query
then answers "nothing".
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Optional, Sequence

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, create_engine, delete, inspect, select
from sqlalchemy.engine import Engine

_metadata = MetaData()
events_table = Table(
    "events", _metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)

# The events a person reading a conversation cares about.
CONVERSATION_TYPES = ("user", "bot", "action", "slot")
FALLBACK_INTENT = "nlu_fallback"

_engines: Dict[str, Engine] = {}


def _engine(url: str) -> Engine:
    if url not in _engines:
        args = {"connect_args": {"timeout": 10}} if url.startswith("sqlite") else {"pool_pre_ping": True}
        _engines[url] = create_engine(url, future=True, **args)
    return _engines[url]


def _utc(timestamp: float) -> datetime:
    # The column is nullable, but Rasa stamps every event it creates and its
    # SQLTrackerStore writes that stamp: a row always has one.
    return datetime.fromtimestamp(timestamp, timezone.utc)


@dataclass(frozen=True)
class TrackerEvent:
    id: int
    sender_id: str
    type_name: str
    at: datetime
    intent_name: Optional[str]
    action_name: Optional[str]
    data: Dict[str, Any]

    # ---- a citizen's message ("user")
    @property
    def text(self) -> str:
        return self.data.get("text") or ""

    @property
    def intent(self) -> Optional[str]:
        return ((self.data.get("parse_data") or {}).get("intent") or {}).get("name") or self.intent_name

    @property
    def confidence(self) -> Optional[float]:
        value = ((self.data.get("parse_data") or {}).get("intent") or {}).get("confidence")
        return float(value) if value is not None else None

    @property
    def entities(self) -> List[dict]:
        return list((self.data.get("parse_data") or {}).get("entities") or [])

    @property
    def is_button_payload(self) -> bool:
        """A tap on a button (or a photo) that the WhatsApp channel passed as
        "/intent{...}", already labelled: no NLU. Only the channel's own
        `kind` says so; "/..." text from anywhere else is not a tap."""
        kind = (self.data.get("metadata") or {}).get("kind")
        return kind in ("button", "media") and self.text.startswith("/")

    @property
    def is_typed_message(self) -> bool:
        return self.type_name == "user" and bool(self.text) and not self.is_button_payload

    # ---- a bot answer ("bot"), a slot ("slot")
    @property
    def bot_text(self) -> str:
        return self.data.get("text") or ""

    @property
    def bot_data(self) -> Dict[str, Any]:
        return self.data.get("data") or {}

    @property
    def slot_name(self) -> Optional[str]:
        return self.data.get("name") if self.type_name == "slot" else None

    @property
    def slot_value(self) -> Any:
        return self.data.get("value") if self.type_name == "slot" else None

    @classmethod
    def from_row(cls, row) -> "TrackerEvent":
        try:
            data = json.loads(row.data) if row.data else {}
        except ValueError:
            data = {}
        return cls(row.id, row.sender_id, row.type_name, _utc(row.timestamp), row.intent_name,
                   row.action_name, data)


class TrackerEvents:
    def __init__(self, db_url: str):
        self.db_url = db_url
        self.engine = _engine(db_url) if db_url else None

    def available(self) -> bool:
        """Whether there is a tracker store table to read (Rasa has run)."""
        return self.engine_if_available() is not None

    def engine_if_available(self) -> Optional[Engine]:
        """The engine when there is a tracker store table to read, else None."""
        if self.engine is not None and inspect(self.engine).has_table("events"):
            return self.engine
        return None

    def _select(self, query) -> List[TrackerEvent]:
        engine = self.engine_if_available()
        if engine is None:
            return []
        with engine.connect() as conn:
            return [TrackerEvent.from_row(row) for row in conn.execute(query)]

    def for_sender(self, sender_id: str, types: Sequence[str] = CONVERSATION_TYPES) -> List[TrackerEvent]:
        """One citizen's conversation, oldest first."""
        query = (select(events_table).where(events_table.c.sender_id == sender_id)
                 .where(events_table.c.type_name.in_(types))
                 .order_by(events_table.c.timestamp, events_table.c.id))
        return self._select(query)

    def between(self, start: datetime, end: datetime, types: Sequence[str] = CONVERSATION_TYPES,
                senders: Optional[Iterable[str]] = None) -> List[TrackerEvent]:
        """Every conversation's events with start <= time < end, oldest first."""
        query = (select(events_table).where(events_table.c.timestamp >= start.timestamp())
                 .where(events_table.c.timestamp < end.timestamp())
                 .where(events_table.c.type_name.in_(types))
                 .order_by(events_table.c.timestamp, events_table.c.id))
        if senders is not None:
            query = query.where(events_table.c.sender_id.in_(list(senders)))
        return self._select(query)

    def by_ids(self, ids: Iterable[int]) -> List[TrackerEvent]:
        ids = list(ids)
        if not ids:
            return []
        return self._select(select(events_table).where(events_table.c.id.in_(ids)))

    def senders(self) -> List[str]:
        engine = self.engine_if_available()
        if engine is None:
            return []
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(select(events_table.c.sender_id).distinct())]

    def delete_before(self, cutoff: datetime, dry_run: bool = False) -> int:
        """Deletes every event older than `cutoff` (the retention purge)."""
        engine = self.engine_if_available()
        if engine is None:
            return 0
        condition = events_table.c.timestamp < cutoff.timestamp()
        with engine.begin() as conn:
            if dry_run:
                from sqlalchemy import func
                # A count always answers exactly one row.
                return conn.execute(select(func.count()).select_from(events_table).where(condition)).scalar_one()
            return conn.execute(delete(events_table).where(condition)).rowcount
