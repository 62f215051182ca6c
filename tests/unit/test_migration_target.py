"""Every store's tables are managed by the migrations: each module-level
MetaData of the project is found by reading the code, so a new store that
is not added to bot/apps/migrations/target.py fails here, not in a town's
database."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import List, Tuple

from bot.apps.migrations.target import STORE_SCHEMAS, target_metadata
from tests.support import ROOT

PACKAGES = ("bot", "actions", "connectors", "components")
# Revisions keep frozen copies of the tables: they are the migrations.
REVISIONS = ROOT / "bot" / "apps" / "migrations" / "versions"
# MetaData that describe someone else's database, with why.
NOT_RECORDAS = {
    ("bot.console.tracker", "_metadata"),             # Rasa's tracker store, which Rasa creates
    ("bot.dev.sandbox.booking_seed", "metadata"),     # the booking sandbox's own database
}


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def module_level_metadata() -> List[Tuple[str, str]]:
    """(module, variable) of every `NAME = MetaData(...)` at a module's top level."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if REVISIONS in path.parents:
                continue
            for node in ast.parse(path.read_text(encoding="utf-8")).body:
                value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
                if isinstance(value, ast.Call) and getattr(value.func, "id", None) == "MetaData":
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    found += [(module_name(path), t.id) for t in targets if isinstance(t, ast.Name)]
    return found


def test_every_stores_schema_is_a_target_of_the_migrations():
    stores = [(module, name) for module, name in module_level_metadata() if (module, name) not in NOT_RECORDAS]
    assert len(stores) >= 7  # reminders, SMS fallback, outbox, links, receipts, accounts, reviews

    forgotten = [f"{module}.{name}" for module, name in stores
                 if not any(getattr(importlib.import_module(module), name) is s for s in STORE_SCHEMAS)]

    assert forgotten == [], "add these to STORE_SCHEMAS in bot/apps/migrations/target.py"


def test_the_target_holds_every_table_of_every_schema_once():
    tables = [table for schema in STORE_SCHEMAS for table in schema.tables]
    assert len(tables) == len(set(tables))
    assert set(target_metadata().tables) == set(tables)


def test_the_metadata_of_other_databases_are_still_there():
    # The exceptions above name real variables, or they would hide nothing.
    assert NOT_RECORDAS <= set(module_level_metadata())
