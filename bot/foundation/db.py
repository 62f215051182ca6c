"""One SQLAlchemy engine per database URL, shared by Recorda's stores.

The module knows no table: each store defines its tables on a MetaData of
its own and asks for them with `engine_with_tables(url, its_metadata)`, so a
process loads only the stores it uses.

SQLite is the embedded default; several processes (Rasa, the action server,
the daily job, the worker) write to it, so it runs in WAL mode with a busy
timeout. PostgreSQL needs nothing special.
"""
from __future__ import annotations

import random
import threading
import time
from typing import Any, Dict, Set, Tuple

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

_engines: Dict[str, Engine] = {}
_schemas_created: Set[Tuple[str, int]] = set()
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
    """The engine for `url`, with every table of each of `schemas` created
    (once per process) and nullable columns a newer Recorda added."""
    with _lock:
        engine = _engine(url)
        for schema in schemas:
            if (url, id(schema)) not in _schemas_created:
                _create_tables(engine, schema)
                _add_missing_columns(engine, schema)
                _schemas_created.add((url, id(schema)))
        return engine


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


def _add_missing_columns(engine: Engine, schema: MetaData) -> None:
    """Adds nullable columns that a newer Recorda defines to tables an older
    one created (create_all only creates missing tables). Anything more than
    that needs a real migration."""
    from sqlalchemy import inspect
    inspector = inspect(engine)
    for table in schema.sorted_tables:
        existing = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in existing and column.nullable:
                kind = column.type.compile(dialect=engine.dialect)
                try:
                    with engine.begin() as conn:
                        conn.exec_driver_sql(f'ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}')
                except DBAPIError as exc:  # another process added it first
                    if "duplicate column" not in str(exc) and "already exists" not in str(exc):
                        raise


def dispose_all() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _schemas_created.clear()
