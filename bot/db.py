"""One SQLAlchemy engine per database URL, shared by Recorda's stores.

SQLite is the embedded default; several processes (Rasa, the action server,
the daily job, the worker) write to it, so it runs in WAL mode with a busy
timeout. PostgreSQL needs nothing special.
"""
from __future__ import annotations

import threading
from typing import Dict

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine

metadata = MetaData()
_engines: Dict[str, Engine] = {}
_lock = threading.Lock()


def _tune_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def get_engine(url: str) -> Engine:
    """The engine for `url`, created once, with every table of `metadata`."""
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            if url.startswith("sqlite"):
                engine = create_engine(url, future=True, connect_args={"timeout": 10})
                event.listen(engine, "connect", _tune_sqlite)
            else:
                engine = create_engine(url, future=True, pool_pre_ping=True)
            # Import the table definitions so create_all sees them all.
            import bot.reminders.store  # noqa: F401
            import bot.booking.outbox  # noqa: F401
            import bot.webhook_receipts  # noqa: F401
            metadata.create_all(engine)
            _add_missing_columns(engine)
            _engines[url] = engine
        return engine


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
                with engine.begin() as conn:
                    conn.exec_driver_sql(f'ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}')


def dispose_all() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
