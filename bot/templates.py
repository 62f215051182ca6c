"""The WhatsApp templates Recorda uses (whatsapp_templates/*.yml), rendered
as the citizen will read them: for transcripts and for non-WhatsApp channels."""
from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Dict, List

import yaml

from bot.config import PROJECT_ROOT

TEMPLATES_DIR = PROJECT_ROOT / "whatsapp_templates"


@functools.lru_cache(maxsize=None)
def load(name: str = "appointment_reminder") -> Dict:
    return yaml.safe_load(Path(TEMPLATES_DIR / f"{name}.yml").read_text(encoding="utf-8"))


def render_body(language: str, parameters: List[str], name: str = "appointment_reminder") -> str:
    body = load(name)["languages"][language]["body"]
    return re.sub(r"\{\{(\d+)\}\}", lambda m: str(parameters[int(m.group(1)) - 1]), body)


def button_titles(language: str, name: str = "appointment_reminder") -> List[str]:
    return list(load(name)["languages"][language]["buttons"])
