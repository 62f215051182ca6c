"""One SQLAlchemy engine per database URL, shared by Recorda's stores.

SQLite is the embedded default; several processes (Rasa, the action server,
the daily job, the worker) write to it, so it runs in WAL mode with a busy
timeout. PostgreSQL needs nothing special.
"""
from __future__ import annotations

import asyncio
import functools
import random
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Optional

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import QueuePool

import bot.clock

metadata = MetaData()
_engines: Dict[str, Engine] = {}
_lock = threading.Lock()


async def in_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Runs a store call in a thread: SQLAlchemy 1.4 here is synchronous, and
    a web or worker event loop must not wait on the database."""
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args, **kwargs))


def utc_now() -> datetime:
    """Every store keeps its times in UTC."""
    return bot.clock.now(timezone.utc)


_NAIVE_EPOCH = datetime(1970, 1, 1)
_UTC_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def stored_utc(value: Optional[datetime]) -> Optional[datetime]:
    """A time read back from a store: SQLite keeps no offset and gives naive
    datetimes, stored in UTC; PostgreSQL gives them aware. The same datetime
    as value.replace(tzinfo=timezone.utc), by arithmetic, in a tenth of the
    time: the figures page reads ~130,000 times for a month of a large town
    (bench/console_pages)."""
    if value is None or value.tzinfo is not None:
        return value
    return _UTC_EPOCH + (value - _NAIVE_EPOCH)


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
    args = {"connect_args": {"timeout": 10}}
    database = make_url(url).database
    if database and database != ":memory:" and "mode=memory" not in url:
        args["poolclass"] = QueuePool
        args["connect_args"]["check_same_thread"] = False
    return args


def get_engine(url: str) -> Engine:
    """The engine for `url`, created once, with every table of `metadata`."""
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            if url.startswith("sqlite"):
                engine = create_engine(url, future=True, **_sqlite_pooling(url))
                event.listen(engine, "connect", _tune_sqlite)
            else:
                engine = create_engine(url, future=True, pool_pre_ping=True)
            # Import the table definitions so create_all sees them all.
            import bot.reminders.store  # noqa: F401
            import bot.booking.outbox  # noqa: F401
            import bot.webhook_receipts  # noqa: F401
            import bot.citizen_links  # noqa: F401
            import bot.reminders.sms_fallback  # noqa: F401
            import bot.console.accounts  # noqa: F401
            import bot.console.nlu_review  # noqa: F401
            _create_tables(engine)
            _add_missing_columns(engine)
            _engines[url] = engine
        return engine


def _create_tables(engine: Engine, attempts: int = 10) -> None:
    """create_all, tolerating another process creating the same tables at
    the same moment (every Recorda process starts against a new database at
    once on a first `make run`): the next attempt, a moment later, finds
    them there. Each attempt can lose a race on another table, hence several."""
    for attempt in range(1, attempts + 1):
        try:
            metadata.create_all(engine)
            return
        except DBAPIError as exc:
            if "already exists" not in str(exc) or attempt == attempts:
                raise
            time.sleep(random.uniform(0.01, 0.1))


def _add_missing_columns(engine: Engine) -> None:
    """Adds nullable columns that a newer Recorda defines to tables an older
    one created (create_all only creates missing tables). Anything more than
    that needs a real migration."""
    from sqlalchemy import inspect
    inspector = inspect(engine)
    for table in metadata.sorted_tables:
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
