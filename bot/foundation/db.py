"""One SQLAlchemy engine per database URL, shared by Recorda's stores.

The module knows no table: each store defines its tables on a MetaData of
its own and asks for them with `engine_with_tables(url, its_metadata)`, so a
process loads only the stores it uses. The schema of a town's database
belongs to the migrations (bot/apps/migrations, run by `python -m
bot.apps.database upgrade`); this module only creates the tables of a
database no migration has touched, such as a test's throwaway one.

SQLite is the embedded default; several processes (Rasa, the action server,
the daily job, the worker) write to it, so it runs in WAL mode with a busy
timeout. PostgreSQL needs nothing special.
"""
from __future__ import annotations

import os
import random
import threading
import time
from typing import Any, Dict, List, Set, Tuple

from sqlalchemy import MetaData, create_engine, event, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

_engines: Dict[str, Engine] = {}
_schemas_ready: Set[Tuple[str, int]] = set()
_lock = threading.Lock()

def _tune_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_pooling(url: str) -> dict:
    """Keep SQLite connections open between transactions. SQLAlchemy 1.4
    opens a new connection (and runs the PRAGMAs above) for every transaction
    on a file database; claiming and recording one reminder took ~10 ms of
    CPU that way, ~3 ms pooled (bench/reminder_dispatch). A connection is
    used by one thread at a time, hence check_same_thread=False, as
    SQLAlchemy 2.0 does by default. In-memory databases keep the default."""
    connect_args: Dict[str, Any] = {"timeout": 10}
    args: Dict[str, Any] = {"connect_args": connect_args}
    database = make_url(url).database
    if database and database != ":memory:" and "mode=memory" not in url:
        args["poolclass"] = QueuePool
        connect_args["check_same_thread"] = False
    return args


def get_engine(url: str) -> Engine:
    """The engine for `url`, created once per process."""
    with _lock:
        return _engine(url)


def _engine(url: str) -> Engine:
    engine = _engines.get(url)
    if engine is None:
        if url.startswith("sqlite"):
            engine = create_engine(url, future=True, **_sqlite_pooling(url))
            event.listen(engine, "connect", _tune_sqlite)
        else:
            engine = create_engine(url, future=True, pool_pre_ping=True)
        _engines[url] = engine
    return engine


def engine_with_tables(url: str, *schemas: MetaData) -> Engine:
    """The engine for `url`, once each of `schemas` is known to be there
    (checked once per process).

    A database whose schema Alembic manages (it has an `alembic_version`
    table: `python -m bot.apps.database upgrade` ran on it) is never changed
    here: a missing table or column raises SchemaNotReady. Any other
    database (a throwaway one in a test, a first demo) gets its missing
    tables created."""
    with _lock:
        engine = _engine(url)
        for schema in schemas:
            if (url, id(schema)) not in _schemas_ready:
                _ensure_tables(engine, schema)
                _schemas_ready.add((url, id(schema)))
        return engine


class SchemaNotReady(RuntimeError):
    """The database lacks tables or columns this Recorda needs."""


VERSION_TABLE = "alembic_version"
UPGRADE_COMMAND = "python -m bot.apps.database upgrade"


def _ensure_tables(engine: Engine, schema: MetaData) -> None:
    if VERSION_TABLE not in inspect(engine).get_table_names():
        _create_tables(engine, schema)
    missing = _missing(engine, schema)
    if missing:
        raise SchemaNotReady(
            f"The database {engine.url.render_as_string(hide_password=True)} lacks "
            f"{', '.join(missing)}: its schema is older than this Recorda. "
            f"Run `{UPGRADE_COMMAND}` (with the same RECORDA_DB_URL) and start again.")


def _missing(engine: Engine, schema: MetaData) -> List[str]:
    """The tables, and the columns of existing tables, of `schema` that the
    database does not have."""
    inspector = inspect(engine)
    existing = set(inspector.get_table_names())
    missing = []
    for table in schema.sorted_tables:
        if table.name not in existing:
            missing.append(f"table {table.name}")
            continue
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        missing += [f"column {table.name}.{c.name}" for c in table.columns if c.name not in columns]
    return missing


def _create_tables(engine: Engine, schema: MetaData, attempts: int = 10) -> None:
    """create_all, tolerating another process creating the same tables at
    the same moment (every Recorda process starts against a new database at
    once on a first `make run`): the next attempt, a moment later, finds
    them there. Each attempt can lose a race on another table, hence several."""
    for attempt in range(1, attempts + 1):
        try:
            schema.create_all(engine)
            return
        except DBAPIError as exc:
            if "already exists" not in str(exc) or attempt == attempts:
                raise
            time.sleep(random.uniform(0.01, 0.1))


def dispose_all() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _schemas_ready.clear()


def _forget_inherited_connections() -> None:
    """In a forked child (Sanic's workers: SANIC_WORKERS), drop the pooled
    connections inherited from the parent without closing them: the parent
    still uses them, and two processes on one socket corrupt both sessions.
    The child opens its own on first use."""
    global _lock
    _lock = threading.Lock()  # a lock held by another thread at fork time stays held
    for engine in _engines.values():
        engine.dispose(close=False)  # type: ignore[call-arg]  # SQLAlchemy 1.4.33+; the stubs predate it


os.register_at_fork(after_in_child=_forget_inherited_connections)
