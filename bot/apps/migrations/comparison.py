"""How the database is compared with the models, the same for `check` and
for writing a new revision."""
from __future__ import annotations

from typing import Any, Dict, Optional

from bot.apps.migrations import target


def comparison_options() -> Dict[str, Any]:
    managed = frozenset(target.target_metadata().tables)

    def only_recordas_tables(name: Optional[str], type_: str, _parents: Dict[str, Optional[str]]) -> bool:
        # The database may be shared with Rasa's tracker store (its `events`
        # table) and anything else a town keeps there: those are not ours to
        # drop. A table removed from Recorda needs a hand-written drop_table.
        return type_ != "table" or name in managed

    return {
        "include_name": only_recordas_tables,
        "compare_type": True,
        # Revisions are written as batch operations, which SQLite needs to
        # alter a column (a copy of the table) and PostgreSQL runs as ALTERs.
        "render_as_batch": True,
    }
