"""Rasa 3.6.21's SQL tracker store, with the same SQL built once.

Every turn loads the conversation's events (`_retrieve`), and every save
first counts the events already stored since the conversation's last session
start (`_additional_events`), then adds the new ones one ORM object at a
time. Rasa builds each of those ORM queries anew for every call; building
them, and SQLAlchemy working out their cache keys, was 38 % of the Rasa
server's CPU in a dispatch (python -m bench.rasa_profile: saving 23 %, of it
14 % the count, loading 15 %).

Here the three statements are Core statements built once per store, with
the sender as a bound parameter, and the same SQL meaning: the events of a
sender (all of them, or those at or after the latest `session_started`, or
all when there is none), in id order; their count; the rows inserted with
the same columns. The events are read, counted and written in the same
session and transaction as before.

The count is skipped when the tracker being saved is the one just loaded
from the latest session: the events stored since that session's start are
then the events it was loaded with (Rasa's lock store keeps a conversation
to one turn at a time, across processes). The count was 4 % of the Rasa
server's CPU in a dispatch and a database round trip on every turn. Any
other tracker (a new one, a full history, one saved a second time) is
counted as Rasa does. tests/integration/test_tracker_store_speedups.py
runs Rasa's own methods and these side by side on SQLite and PostgreSQL.

The stored events are decoded with ujson (Sanic's JSON library), which
gives the same values in about 80 % of the time: decoding the latest
session's events was 14 % of the Rasa server's CPU in a burst of taps.
"""
from __future__ import annotations

import itertools
import json
import logging
from typing import Any, Dict, Iterator, List, Optional, Text

import ujson

log = logging.getLogger(__name__)

ORIGINAL: Dict[str, Any] = {}  # Rasa's own methods, for the tests' side-by-side runs
# On a tracker loaded from its latest session: how many events it was loaded with.
LOADED = "_recorda_events_loaded"


class _Statements:
    def __init__(self, table) -> None:
        import sqlalchemy as sa
        from rasa.shared.core.events import SessionStarted

        sender = sa.bindparam("sender_id")
        session_start = (sa.select(sa.func.max(table.c.timestamp))
                         .where(table.c.sender_id == sender, table.c.type_name == SessionStarted.type_name)
                         .scalar_subquery())
        latest_session = sa.or_(table.c.timestamp >= session_start, session_start.is_(None))
        self.latest_session = (sa.select(table.c.data)
                               .where(table.c.sender_id == sender, latest_session).order_by(table.c.id))
        self.all_sessions = sa.select(table.c.data).where(table.c.sender_id == sender).order_by(table.c.id)
        self.count_latest_session = (sa.select(sa.func.count()).select_from(table)
                                     .where(table.c.sender_id == sender, latest_session))
        self.insert = table.insert()


def _statements(store) -> _Statements:
    statements = store.__dict__.get("_recorda_statements")
    if statements is None:
        statements = store._recorda_statements = _Statements(store.SQLEvent.__table__)
    return statements


async def _retrieve(self, sender_id: Text, fetch_events_from_all_sessions: bool):
    from rasa.shared.core.trackers import DialogueStateTracker

    statements = _statements(self)
    query = statements.all_sessions if fetch_events_from_all_sessions else statements.latest_session
    with self.session_scope() as session:
        events = [_decoded(data) for data in session.execute(query, {"sender_id": sender_id}).scalars()]
    if self.domain and len(events) > 0:
        tracker = DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        if not fetch_events_from_all_sessions and len(tracker.events) == len(events):
            setattr(tracker, LOADED, len(events))
        return tracker
    return None


def _decoded(data: str) -> Any:
    try:
        return ujson.loads(data)
    except ValueError:  # anything ujson refuses is read as Rasa reads it
        return json.loads(data)


def _additional_events(self, session, tracker) -> Iterator:
    # Taken, not read: a second save of the same tracker is counted.
    stored = tracker.__dict__.pop(LOADED, None)
    if stored is None:
        stored = session.execute(_statements(self).count_latest_session,
                                 {"sender_id": tracker.sender_id}).scalar()
    return itertools.islice(tracker.events, stored, len(tracker.events))


async def _save(self, tracker) -> None:
    from rasa.shared.nlu.constants import INTENT_NAME_KEY

    await self.stream_events(tracker)
    with self.session_scope() as session:
        rows: List[Dict[str, Optional[Any]]] = []
        for event in self._additional_events(session, tracker):
            data = event.as_dict()
            rows.append({"sender_id": tracker.sender_id, "type_name": event.type_name,
                         "timestamp": data.get("timestamp"),
                         "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                         "action_name": data.get("name"), "data": json.dumps(data)})
        if rows:
            session.execute(_statements(self).insert, rows)
        session.commit()


def apply() -> bool:
    """Installs them once; False when Rasa's store lacks what they replace."""
    from rasa.core.tracker_store import SQLTrackerStore

    if ORIGINAL:
        return True
    names = ("_retrieve", "_additional_events", "save")
    if not all(callable(getattr(SQLTrackerStore, name, None)) for name in names) \
            or not hasattr(SQLTrackerStore, "SQLEvent"):
        log.warning("Rasa's SQLTrackerStore is not the one these speed-ups replace; not applied")
        return False
    ORIGINAL.update({name: getattr(SQLTrackerStore, name) for name in names})
    SQLTrackerStore._retrieve = _retrieve
    SQLTrackerStore._additional_events = _additional_events
    SQLTrackerStore.save = _save
    return True
