"""Run by Alembic for every command, always on a connection that
bot.apps.database opened (and, to migrate, locked) and handed over in
config.attributes["connection"]."""
from __future__ import annotations

from alembic import context

from bot.apps.migrations import target
from bot.apps.migrations.comparison import comparison_options

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the migrations with `python -m bot.apps.database`, which opens the database")

context.configure(connection=connection, target_metadata=target.target_metadata(), **comparison_options())
with context.begin_transaction():
    context.run_migrations()
