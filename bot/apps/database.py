"""Recorda's database schema, for operators and developers.

    python -m bot.apps.database upgrade [--url URL]     bring the database to the latest schema
    python -m bot.apps.database current [--url URL]     the revision the database is at
    python -m bot.apps.database check [--url URL]       exit 1 unless it is at the latest revision
                                                        and that revision matches the models
    python -m bot.apps.database downgrade REVISION [--url URL]   (e.g. base: drops every table)
    python -m bot.apps.database revision -m "what changes"       write a new revision

URL defaults to RECORDA_DB_URL. Run `upgrade` before starting a new version
of Recorda; several hosts may run it at once (one migrates, the others wait
and find it done). `revision` compares the models with a scratch SQLite
database at the latest revision and writes the difference into
bot/apps/migrations/versions/: read it, and run tests/integration/test_migrations.py.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import List, Optional, Sequence, Set

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Constraint, Index, Table, create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from bot.apps.migrations import target
from bot.apps.migrations.comparison import comparison_options
from bot.apps.migrations.lock import migration_lock
from bot.foundation.db import UPGRADE_COMMAND
from bot.foundation.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _config(connection: Optional[Connection] = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _engine(url: str) -> Engine:
    # Its own engine, not the stores' (bot.foundation.db): closed when done.
    args = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {}
    return create_engine(url, future=True, poolclass=NullPool, **args)


def _migrate(url: str, run) -> None:
    engine = _engine(url)
    try:
        with engine.connect() as connection, migration_lock(connection):
            run(_config(connection))
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    """Brings the database at `url` to `revision`; a no-op when it is there."""
    _migrate(url, lambda config: command.upgrade(config, revision))


def downgrade(url: str, revision: str) -> None:
    _migrate(url, lambda config: command.downgrade(config, revision))


def heads() -> Set[str]:
    """The latest revision(s) of the migrations."""
    return set(ScriptDirectory.from_config(_config()).get_heads())


def current(url: str) -> Set[str]:
    """The revision(s) the database is at; empty if none."""
    engine = _engine(url)
    try:
        with engine.connect() as connection:
            return set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()


def problems(url: str) -> List[str]:
    """Why the database at `url` is not what this Recorda expects; empty
    when it is at the latest revision and that matches every store's tables."""
    engine = _engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts=comparison_options())
            at, latest = set(context.get_current_heads()), heads()
            if at != latest:
                return [f"the database is at revision {_names(at)}, the latest is {_names(latest)}: "
                        f"run `{UPGRADE_COMMAND}`"]
            return [f"the database (at the latest revision) differs from the models: {_describe(diff)}"
                    for diff in compare_metadata(context, target.target_metadata())]
    finally:
        engine.dispose()


class NothingToWrite(Exception):
    pass


def write_revision(message: str, autogenerate: bool = True) -> Path:
    """Writes the next revision file: the difference between the models and
    the latest revision (or an empty one to fill by hand); returns its path."""
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'latest.db'}"
        upgrade(url)
        engine = _engine(url)
        try:
            with engine.connect() as connection:
                context = MigrationContext.configure(connection, opts=comparison_options())
                if autogenerate and not compare_metadata(context, target.target_metadata()):
                    raise NothingToWrite("the models match the latest revision: nothing to write "
                                         "(--empty writes a revision to fill by hand)")
                config = _config(connection)
                script = command.revision(config, message=message, autogenerate=autogenerate,
                                          rev_id=_next_revision_id(config))
        finally:
            engine.dispose()
    assert script is not None and not isinstance(script, list)
    return Path(script.path)


def _next_revision_id(config: Config) -> str:
    """Numbered revisions (0001, 0002, ...), so that versions/ reads in order."""
    return f"{len(list(ScriptDirectory.from_config(config).walk_revisions())) + 1:04d}"


def _names(revisions: Set[str]) -> str:
    return ", ".join(sorted(revisions)) or "none (never migrated)"


def _describe(diff) -> str:
    """One of compare_metadata's differences, in words: what to do to the
    database to make it match the models, and what it applies to."""
    if isinstance(diff, list):  # the changes to one column
        return "; ".join(_describe(part) for part in diff)
    kind, *details = diff
    return " ".join([kind] + [_name(d) for d in details if d is not None and not isinstance(d, dict)])


def _name(item) -> str:
    if isinstance(item, (Index, Constraint)):
        return f"{item.name or '(unnamed)'} on {item.table.name}({', '.join(c.name for c in item.columns)})"
    if isinstance(item, (Table, Column)):
        return str(item.name)
    return str(item)  # a table or column name, a type (as SQL), a flag


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.apps.database",
                                     description="Recorda's database schema (Alembic migrations).")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("upgrade", "bring the database to the latest revision"),
                       ("current", "print the revision the database is at"),
                       ("check", "exit 1 unless the database is at the latest revision and it matches the models"),
                       ("downgrade", "go back to REVISION (base: no table)")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--url", help="the database (default: RECORDA_DB_URL)")
        if name == "downgrade":
            sub.add_argument("revision")
    revision = commands.add_parser("revision", help="write the next revision from the models' changes")
    revision.add_argument("-m", "--message", required=True)
    revision.add_argument("--empty", action="store_true", help="an empty revision to write by hand")
    args = parser.parse_args(argv)

    if args.command == "revision":
        try:
            print(f"Wrote {write_revision(args.message, autogenerate=not args.empty)}")
        except NothingToWrite as nothing:
            print(nothing, file=sys.stderr)
            return 1
        return 0
    url = args.url or Settings.from_env().db_url
    if args.command == "upgrade":
        upgrade(url)
        print(f"The database is at revision {_names(current(url))} (latest).")
    elif args.command == "downgrade":
        downgrade(url, args.revision)
        print(f"The database is at revision {_names(current(url))}.")
    elif args.command == "current":
        print(_names(current(url)))
    else:
        found = problems(url)
        for problem in found:
            print(problem, file=sys.stderr)
        if found:
            return 1
        print(f"The database is at the latest revision ({_names(heads())}) and matches the models.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
