"""One migration at a time per database: several Recorda processes (or
hosts) may run `upgrade` at the same moment on a new database, and the
second must find the first one's work done instead of creating the same
tables again."""
from __future__ import annotations

import fcntl
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import text
from sqlalchemy.engine import Connection

# Any constant; the same in every Recorda, so every upgrader waits on it.
ADVISORY_LOCK_KEY = 7_305_201_912


@contextmanager
def migration_lock(connection: Connection) -> Iterator[None]:
    """Held while the migrations run on `connection` (a future-style
    connection outside any transaction)."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        with _advisory_lock(connection):
            yield
    elif dialect == "sqlite":
        with _file_lock(connection.engine.url.database):
            yield
    else:
        raise NotImplementedError(f"no migration lock for {dialect}: Recorda runs on SQLite or PostgreSQL")


@contextmanager
def _advisory_lock(connection: Connection) -> Iterator[None]:
    # A session lock: it outlives the migrations' own transaction, and ends
    # with the connection if this process dies.
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    connection.commit()
    try:
        yield
    finally:
        connection.rollback()
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
        connection.commit()


@contextmanager
def _file_lock(database: str | None) -> Iterator[None]:
    """SQLite has no lock that outlives a transaction, and its DDL commits
    as it goes: a lock file beside the database serialises the upgraders
    (flock, released by the kernel if this process dies)."""
    if not database or database == ":memory:":
        yield  # one connection's own database: nobody to race with
        return
    with open(f"{database}.migration-lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
