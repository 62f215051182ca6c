"""Recorda's schema through its migrations (bot/apps/migrations, run by
`python -m bot.apps.database`): a new database, one an older Recorda made
with create_all, several hosts upgrading at once, a database the stores
find behind, and writing the next revision. On an SQLite file and (when CI
provides one through RECORDA_TEST_PG_URL) on a real PostgreSQL, each test
in a schema of its own there."""
from __future__ import annotations

import multiprocessing
import shutil
import traceback
import uuid
from pathlib import Path
from typing import Iterator, List

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, Text, create_engine, insert, inspect, text

import bot.foundation.clock
from bot.apps import database
from bot.apps.migrations import target
from bot.foundation.db import SchemaNotReady, dispose_all
from bot.messaging.webhook_receipts import WebhookReceipts
from bot.reminders import states
from bot.reminders.store import ReminderStore

UPGRADERS = 4


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'recorda.db'}"
        dispose_all()
        return
    pg_url = request.getfixturevalue("pg_url")
    # A schema per test: the tests change what a whole database has (its
    # alembic_version above all), and other tests share that database.
    schema = f"migrations_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_url, future=True)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    yield f"{pg_url}{'&' if '?' in pg_url else '?'}options=-csearch_path%3D{schema}"
    dispose_all()
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def table_names(url: str) -> set:
    engine = create_engine(url, future=True)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def models() -> set:
    return set(target.target_metadata().tables)


# --- a new database -------------------------------------------------------

def test_a_new_database_is_checked_as_behind_then_upgraded_to_exactly_the_models(url):
    assert database.problems(url) == [
        "the database is at revision none (never migrated), the latest is "
        f"{', '.join(sorted(database.heads()))}: run `python -m bot.apps.database upgrade`"]
    assert database.main(["check", "--url", url]) == 1

    assert database.main(["upgrade", "--url", url]) == 0

    assert database.current(url) == database.heads()
    assert table_names(url) == models() | {"alembic_version"}
    assert database.problems(url) == []  # compare_metadata finds no difference
    assert database.main(["check", "--url", url]) == 0
    store = ReminderStore(url)  # a store opens the migrated database as it is
    assert store.schedule("A-1", None, "ajuntament", "+34612345678", "ca").state == states.SCHEDULED


def test_upgrading_twice_changes_nothing(url):
    database.upgrade(url)
    ReminderStore(url).schedule("A-1", None, "ajuntament", "+34612345678", "ca")

    database.upgrade(url)

    assert database.current(url) == database.heads()
    assert ReminderStore(url).get("A-1") is not None
    assert database.problems(url) == []


def test_check_names_what_differs_from_the_models(url):
    database.upgrade(url)
    engine = create_engine(url, future=True)
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_reminders_window_closes_at"))
    engine.dispose()

    found = database.problems(url)

    assert len(found) == 1 and "add_index ix_reminders_window_closes_at" in found[0], found
    assert database.main(["check", "--url", url]) == 1


def test_rasas_tables_in_the_same_database_are_left_alone(url):
    # The README's production set-up keeps Rasa's tracker store in the same
    # PostgreSQL database: its `events` table is not Recorda's to judge or drop.
    engine = create_engine(url, future=True)
    Table("events", MetaData(), Column("id", Integer, primary_key=True), Column("data", Text)).create(engine)
    engine.dispose()

    database.upgrade(url)

    assert database.problems(url) == []
    assert "events" in table_names(url)


def test_downgrade_to_base_removes_every_table_and_upgrade_brings_them_back(url):
    database.upgrade(url)

    database.downgrade(url, "base")

    assert table_names(url) == {"alembic_version"}
    assert database.current(url) == set()
    database.upgrade(url)
    assert database.problems(url) == []


REVISION_FILES = sorted(p.name for p in (Path(database.__file__).parent / "migrations" / "versions").glob("0*.py"))
LATEST_REVISION = REVISION_FILES[-1][:4]
NEXT_REVISION = f"{int(LATEST_REVISION) + 1:04d}"


# --- a database an older Recorda made --------------------------------------

NARROWED = {("reminders", "provider_message_id"), ("unmatched_statuses", "message_id")}
ADDED_SINCE = {("reminders", "window_closes_at"),  # in the baseline, which adds it
               ("reminders", "touch"), ("reminders", "variant")}  # revision 0002
TABLES_ADDED_SINCE = {"console_nlu_reviews", "reminder_earlier_messages", "retired_variants",  # 0002
                      "freed_slots", "slot_offers"}  # 0003


def older_recorda_schema() -> MetaData:
    """Today's tables as a Recorda of autumn 2026 made them: before the
    reply window's column, Meta's longer message ids, the NLU reviews and
    the touches and wording variants."""
    older = MetaData()
    for table in target.target_metadata().sorted_tables:
        if table.name in TABLES_ADDED_SINCE:
            continue
        columns = []
        for column in table.columns:
            if (table.name, column.name) in ADDED_SINCE:
                continue
            copy = column._copy()  # without its foreign key, given back here
            for key in column.foreign_keys:
                copy.append_foreign_key(ForeignKey(key.target_fullname))
            if (table.name, column.name) in NARROWED:
                copy.type = String(64)
            columns.append(copy)
        Table(table.name, older, *columns)
    return older


def test_a_database_an_older_recorda_made_is_upgraded_with_its_rows(url):
    older = older_recorda_schema()
    engine = create_engine(url, future=True)
    older.create_all(engine)
    now = bot.foundation.clock.utc_now()
    with engine.begin() as conn:
        reminder_id = conn.execute(insert(older.tables["reminders"]).values(
            appointment_id="A-OLD", state=states.SCHEDULED, was_read=False, phone="+34612345678",
            created_at=now, updated_at=now)).inserted_primary_key[0]
        conn.execute(insert(older.tables["reminder_events"]).values(
            reminder_id=reminder_id, event=states.SCHEDULED, applied=True, at=now, source="job"))
        conn.execute(insert(older.tables["webhook_receipts"]).values(key="seen-before", received_at=now))
    engine.dispose()
    with pytest.raises(SchemaNotReady, match="column reminders.window_closes_at.*bot.apps.database upgrade"):
        ReminderStore(url)  # as an older Recorda left it, the store refuses it clearly
    dispose_all()  # that process ends; the next one starts after the upgrade

    database.upgrade(url)

    assert database.problems(url) == []
    assert table_names(url) == models() | {"alembic_version"}
    store = ReminderStore(url)
    assert [e.event for e in store.history("A-OLD")] == [states.SCHEDULED]
    assert not WebhookReceipts(url).first_time("seen-before")
    # The new column and Meta's 128-character ids (a PostgreSQL column of 64
    # would refuse it) work on the old rows.
    long_id = "wamid." + "H" * 120
    assert store.claim_for_sending("A-OLD")
    assert store.mark_sent("A-OLD", long_id)
    sent = store.get("A-OLD")
    assert sent is not None and sent.provider_message_id == long_id and sent.window_closes_at is not None
    # Revision 0002's columns and tables work too: a later touch re-arms the old reminder.
    assert store.rearm_for_touch("A-OLD", "day_before", ["early"]) is False  # it has no touch
    assert store.schedule("A-NEW", None, None, "+34612345679", "ca", touch="early", variant="plain").touch == "early"


def test_an_older_table_without_a_required_column_stops_the_upgrade_with_its_name(url):
    engine = create_engine(url, future=True)
    Table("webhook_receipts", MetaData(), Column("key", String(200), primary_key=True)).create(engine)
    engine.dispose()

    with pytest.raises(RuntimeError, match="webhook_receipts lacks NOT NULL columns received_at"):
        database.upgrade(url)


# --- several hosts at once -------------------------------------------------

def _upgrade_when_released(url: str, ready, go, results) -> None:
    try:
        ready.release()  # imported (alembic and every model): the race is about the upgrade
        go.wait(30)
        database.upgrade(url)
        results.put(None)
    except BaseException:
        results.put(traceback.format_exc())


def test_several_processes_upgrading_a_new_database_at_once_all_succeed(url):
    context = multiprocessing.get_context("spawn")
    ready, go, results = context.Semaphore(0), context.Event(), context.Queue()
    upgraders = [context.Process(target=_upgrade_when_released, args=(url, ready, go, results))
                 for _ in range(UPGRADERS)]
    for process in upgraders:
        process.start()
    try:
        for _ in upgraders:
            assert ready.acquire(timeout=60), "an upgrader did not start"
        go.set()
        errors: List[str] = [e for e in (results.get(timeout=120) for _ in upgraders) if e]
        for process in upgraders:
            process.join(10)
    finally:
        for process in upgraders:
            if process.is_alive():
                process.terminate()

    assert not errors, "\n".join(errors)
    assert database.current(url) == database.heads()
    assert database.problems(url) == []


# --- the stores on a migrated database --------------------------------------

def test_a_store_refuses_a_migrated_database_that_lacks_its_table(url):
    database.upgrade(url)
    engine = create_engine(url, future=True)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE webhook_receipts"))
    engine.dispose()

    with pytest.raises(SchemaNotReady) as refused:
        WebhookReceipts(url)

    message = str(refused.value)
    assert "table webhook_receipts" in message and "python -m bot.apps.database upgrade" in message
    assert "webhook_receipts" not in table_names(url)  # created by nobody but the migrations


def test_a_store_still_creates_its_tables_in_a_database_no_migration_touched(url):
    assert WebhookReceipts(url).first_time("k")
    assert "webhook_receipts" in table_names(url) and "alembic_version" not in table_names(url)


# --- writing the next revision ---------------------------------------------

@pytest.fixture
def migrations_copy(tmp_path, monkeypatch) -> Path:
    """The migrations copied aside, so a test writes its revision there."""
    copy = tmp_path / "migrations"
    shutil.copytree(database.MIGRATIONS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(database, "MIGRATIONS_DIR", copy)
    return copy


def test_a_new_column_in_a_model_becomes_a_revision_that_upgrades_a_database(url, migrations_copy, monkeypatch):
    database.upgrade(url)
    original = target.target_metadata

    def with_a_note():
        metadata = original()
        metadata.tables["reminders"].append_column(Column("note", Text, nullable=True))
        return metadata

    monkeypatch.setattr(target, "target_metadata", with_a_note)
    assert any("add_column" in p and "note" in p for p in database.problems(url))

    written = database.write_revision("reminder note")

    assert written.parent == migrations_copy / "versions" and written.name.startswith(
        f"{NEXT_REVISION}_reminder_note")
    assert "add_column(sa.Column('note'" in written.read_text()
    database.upgrade(url)
    assert database.current(url) == {NEXT_REVISION}
    assert database.problems(url) == []
    database.downgrade(url, LATEST_REVISION)
    engine = create_engine(url, future=True)
    assert "note" not in {c["name"] for c in inspect(engine).get_columns("reminders")}
    engine.dispose()


def test_no_revision_is_written_when_the_models_match_the_latest(migrations_copy):
    assert database.main(["revision", "-m", "nothing"]) == 1
    assert sorted(p.name for p in (migrations_copy / "versions").glob("*.py")) == REVISION_FILES
