"""Rasa's SQL tracker store with its statements built once
(bot/patches/tracker_store_speedups.py) stores and reads exactly what Rasa's
own methods do: the same conversations, saved turn by turn over two
sessions, give the same rows and the same trackers, on SQLite and on
PostgreSQL."""
from __future__ import annotations

import contextlib
import uuid
from typing import Iterator, List

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import make_url

from bot.patches import tracker_store_speedups
from tests.support import ROOT

DOMAIN = Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture(scope="module", autouse=True)
def patched_class():
    tracker_store_speedups.apply()
    yield


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> SQLTrackerStore:
    if request.param == "sqlite":
        return SQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "tracker.db"))
    url = make_url(request.getfixturevalue("pg_url"))
    return SQLTrackerStore(DOMAIN, dialect="postgresql", host=url.host, port=url.port, db=url.database,
                           username=url.username, password=url.password)


@contextlib.contextmanager
def rasas_own() -> Iterator[None]:
    """Rasa's methods in place of the speed-ups, for the block."""
    fast = {name: getattr(SQLTrackerStore, name) for name in tracker_store_speedups.ORIGINAL}
    for name, method in tracker_store_speedups.ORIGINAL.items():
        setattr(SQLTrackerStore, name, method)
    try:
        yield
    finally:
        for name, method in fast.items():
            setattr(SQLTrackerStore, name, method)


def turns(t0: float) -> List[List[Event]]:
    """A conversation in four saves, with a second session in the third."""
    return [
        [ActionExecuted("action_session_start", timestamp=t0), SessionStarted(timestamp=t0 + 1),
         ActionExecuted("action_listen", timestamp=t0 + 2)],
        [UserUttered("hola", {"name": "greet", "confidence": 0.98}, timestamp=t0 + 3),
         ActionExecuted("utter_greet", timestamp=t0 + 4), BotUttered("Hola!", timestamp=t0 + 4),
         SlotSet("language", "ca", timestamp=t0 + 4), ActionExecuted("action_listen", timestamp=t0 + 5)],
        [ActionExecuted("action_session_start", timestamp=t0 + 100), SessionStarted(timestamp=t0 + 101),
         SlotSet("language", "ca", timestamp=t0 + 101), ActionExecuted("action_listen", timestamp=t0 + 102)],
        [UserUttered("gràcies", {"name": "thank", "confidence": 0.9}, timestamp=t0 + 103),
         ActionExecuted("utter_thank", timestamp=t0 + 104), ActionExecuted("action_listen", timestamp=t0 + 105)],
    ]


async def converse(store: SQLTrackerStore, sender: str, conversation: List[List[Event]]):
    """Saves turn by turn, each on the tracker read back, as Rasa does; then
    what the store gives back: the latest session and all of them."""
    for events in conversation:
        tracker = await store.retrieve(sender) or DialogueStateTracker(sender, DOMAIN.slots)
        for event in events:
            tracker.update(event)
        await store.save(tracker)
    latest = await store.retrieve(sender)
    full = await store.retrieve_full_tracker(sender)
    with store.session_scope() as session:
        rows = [(r.type_name, r.timestamp, r.intent_name, r.action_name, r.data) for r in
                session.query(store.SQLEvent).filter(store.SQLEvent.sender_id == sender).order_by(store.SQLEvent.id)]
    return [e.as_dict() for e in latest.events], [e.as_dict() for e in full.events], rows


@pytest.mark.parametrize("conversation", [turns(1_700_000_000.0), turns(1_700_000_000.0)[1:2]],
                         ids=["two sessions", "no session start"])
async def test_the_same_rows_and_trackers_as_rasas_own_store(store, conversation):
    ours = await converse(store, f"fast-{uuid.uuid4().hex}", conversation)
    with rasas_own():
        theirs = await converse(store, f"rasa-{uuid.uuid4().hex}", conversation)
    assert ours == theirs
    latest, full, rows = ours
    assert len(rows) == sum(len(events) for events in conversation)  # nothing stored twice
    if len(conversation) > 2:
        assert len(latest) < len(full)  # the latest session only


async def test_an_unknown_sender_has_no_tracker(store):
    assert await store.retrieve(f"nobody-{uuid.uuid4().hex}") is None


def counted_saves(store: SQLTrackerStore) -> List[str]:
    """The COUNT statements the store runs from now on."""
    from sqlalchemy import event
    seen: List[str] = []
    event.listen(store.engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *args: seen.append(statement) if "count(" in statement else None)
    return seen


async def test_a_tracker_just_loaded_is_saved_without_counting_and_a_second_save_stores_nothing_twice(store):
    sender = f"twice-{uuid.uuid4().hex}"
    first, second = turns(1_700_000_000.0)[:2]
    tracker = DialogueStateTracker(sender, DOMAIN.slots)
    for event in first:
        tracker.update(event)
    counts = counted_saves(store)
    await store.save(tracker)  # a new tracker: counted, as Rasa does
    assert len(counts) == 1
    tracker = await store.retrieve(sender)
    for event in second[:2]:
        tracker.update(event)
    await store.save(tracker)  # just loaded: the events it was loaded with are the stored ones
    assert len(counts) == 1
    for event in second[2:]:
        tracker.update(event)
    await store.save(tracker)  # saved again: counted
    assert len(counts) == 2
    with store.session_scope() as session:
        stored = session.query(store.SQLEvent).filter(store.SQLEvent.sender_id == sender).count()
    assert stored == len(first) + len(second)
    assert [e.as_dict() for e in (await store.retrieve(sender)).events] == [e.as_dict() for e in tracker.events]
