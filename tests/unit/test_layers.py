"""Imports point one way (docs/architecture.md, "What may import what"):
every module of bot/, actions/, connectors/ and components/ is read, and an
import of a layer it may not use fails here with the line that does it."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest

from tests.support import ROOT

PACKAGES = ("bot", "actions", "connectors", "components")

FOUNDATION = ("bot.foundation",)
BASE_DOMAIN = FOUNDATION + ("bot.booking", "bot.messaging", "bot.nlu", "bot.offices")
DOMAIN = BASE_DOMAIN + ("bot.citizens", "bot.reminders", "bot.offers")
ALL_DOMAIN = DOMAIN + ("bot.reports", "bot.console")

# module prefix -> the prefixes it may import (besides its own package)
ALLOWED: Dict[str, Tuple[str, ...]] = {
    "bot.patches": (),
    "bot.rasa_plugins": FOUNDATION,
    "bot.foundation": FOUNDATION,
    "bot.booking": FOUNDATION,
    "bot.messaging": FOUNDATION,
    "bot.nlu": FOUNDATION,
    "bot.offices": FOUNDATION + ("bot.booking",),
    "bot.citizens": BASE_DOMAIN,
    "bot.reminders": BASE_DOMAIN + ("bot.citizens",),
    "bot.offers": BASE_DOMAIN + ("bot.citizens", "bot.reminders"),
    "bot.reports": DOMAIN,
    "bot.console": ALL_DOMAIN,
    "actions": ALL_DOMAIN,
    "connectors": ALL_DOMAIN + ("bot.patches",),
    "components": FOUNDATION + ("bot.nlu",),
    "bot.apps": ALL_DOMAIN + ("bot.patches", "actions", "connectors", "components"),
    "bot.dev": ALL_DOMAIN + ("bot.patches", "bot.apps", "actions", "connectors", "components"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str:
    for prefix in sorted(ALLOWED, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return prefix
    return module  # bot itself (bot/__init__.py)


def recorda_imports(path: Path) -> Iterator[Tuple[int, str]]:
    """(line, imported module) of every import of Recorda's own code, also
    those inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from bot import patches` imports the module bot.patches
            names = ([f"{node.module}.{alias.name}" for alias in node.names]
                     if node.module in PACKAGES else [node.module])
        else:
            continue
        for name in names:
            if name.split(".")[0] in PACKAGES:
                yield node.lineno, name


def modules() -> List[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def violations(module: str, imports: List[Tuple[int, str]], where: str) -> List[str]:
    own = layer_of(module)
    allowed = (own,) + ALLOWED.get(own, ())
    return [f"{where}:{line} imports {name} ({own} may not use {layer_of(name)})"
            for line, name in imports
            if name != "bot" and not any(name == a or name.startswith(a + ".") for a in allowed)]


def module_violations(path: Path) -> List[str]:
    return violations(module_name(path), list(recorda_imports(path)), str(path.relative_to(ROOT)))


def test_every_module_belongs_to_a_layer():
    unknown = [str(p.relative_to(ROOT)) for p in modules()
               if layer_of(module_name(p)) not in ALLOWED and module_name(p) != "bot"]
    assert unknown == []


def test_imports_point_one_way():
    problems = [v for path in modules() for v in module_violations(path)]
    assert problems == [], "\n".join(problems)


def test_nothing_deployed_imports_the_developer_tooling():
    deployed = [p for p in modules() if not module_name(p).startswith("bot.dev")]
    problems = [f"{p.relative_to(ROOT)}:{line} imports {name}" for p in deployed
                for line, name in recorda_imports(p) if name.startswith("bot.dev")]
    assert problems == []


@pytest.mark.parametrize("module, target", [
    ("bot.foundation.db", "bot.reminders.store"),
    ("bot.reminders.sms_fallback", "connectors.messagebird_sms"),
    ("bot.console.nlu_review", "bot.dev.nlu_eval"),
    ("bot.booking.outbox", "bot.console.accounts"),
    ("connectors.messagebird", "actions.context"),
    ("actions.context", "bot.apps.worker"),
    ("bot.apps.worker", "bot.dev.stack"),
])
def test_an_import_that_points_up_is_caught(module, target):
    assert violations(module, [(1, target)], "x.py") != []


@pytest.mark.parametrize("module, target", [
    ("bot.reminders.store", "bot.foundation.db"),
    ("connectors.messagebird", "bot.reminders.store"),
    ("bot.apps.worker", "connectors.messagebird_sms"),
    ("bot.dev.stack", "bot.apps.web.app"),
])
def test_an_import_that_points_down_is_allowed(module, target):
    assert violations(module, [(1, target)], "x.py") == []
