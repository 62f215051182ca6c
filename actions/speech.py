"""Says a domain response in a given language, filling in its placeholders.

Rasa renders a response with the slots as they were *before* the action ran,
so an action that learns the citizen's language from the booking record in
the same turn picks the variation itself, from the domain.

Rasa sends no domain with each action call (endpoints.yml enables the
selective domain: serialising it cost Rasa CPU on every turn), so the
responses are read once from the same domain.yml the model was trained with.
Restart the action server after editing it, as you retrain the model."""
from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml
from rasa_sdk.executor import CollectingDispatcher

from bot.foundation.languages import fill_placeholders
from bot.foundation.settings import PROJECT_ROOT

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def _responses_from_file() -> Dict[str, Any]:
    path = Path(os.environ.get("RECORDA_DOMAIN_FILE", PROJECT_ROOT / "domain.yml"))
    return yaml.safe_load(path.read_text(encoding="utf-8"))["responses"]


def _variation(domain: Dict[str, Any], response: str, language: str) -> Dict[str, Any]:
    variations = (domain.get("responses") or _responses_from_file()).get(response)
    if not variations:
        raise KeyError(f"response {response} is not in the domain")
    default = None
    for variation in variations:
        conditions = variation.get("condition") or []
        if not conditions:
            default = default or variation
        elif any(c.get("name") == "language" and c.get("value") == language for c in conditions):
            return variation
    return default or variations[0]


def render(domain: Dict[str, Any], response: str, language: str, **values: Any) -> str:
    text = _variation(domain, response, language).get("text", "")
    return fill_placeholders(text, values)


def say(dispatcher: CollectingDispatcher, domain: Dict[str, Any], response: str, language: str,
        buttons: Optional[List[Dict[str, str]]] = None, **values: Any) -> None:
    dispatcher.utter_message(text=render(domain, response, language, **values), buttons=buttons or [])
