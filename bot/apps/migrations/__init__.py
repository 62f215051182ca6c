"""Recorda's database schema as Alembic migrations: `target` names every
store's tables, `env.py` is what Alembic runs, `versions/` holds the
revisions. Run them with `python -m bot.apps.database` (no alembic.ini)."""
