"""The texts of the SMS fallback and of the citizen's page, in the citizen's
language, from texts/sms_fallback.yml (content editors change them there).

Not in domain.yml: neither the worker nor the web page is the assistant, and
a change to the domain makes the model stale (`make` retrains it); nor under
whatsapp_templates/, whose every file the simulator and bot.messaging.templates read as
a WhatsApp template awaiting approval. The file is read again when it
changes, so an edit needs no restart.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Dict, List, Tuple

import yaml

from bot.foundation.languages import LANGUAGES, fill_placeholders, normalise_language
from bot.foundation.settings import PROJECT_ROOT

TEXTS_FILE = PROJECT_ROOT / "texts" / "sms_fallback.yml"
FALLBACK_LANGUAGE = "ca"
_cache: Dict[str, Tuple[float, Dict[str, Dict[str, str]]]] = {}
_lock = threading.Lock()


def texts_path() -> Path:
    return Path(os.environ.get("RECORDA_TEXTS_FILE", TEXTS_FILE))


def _load(path: Path) -> Dict[str, Dict[str, str]]:
    mtime = path.stat().st_mtime
    with _lock:
        cached = _cache.get(str(path))
        if cached and cached[0] == mtime:
            return cached[1]
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        _cache[str(path)] = (mtime, data)
        return data


def _template(key: str, language: str) -> Any:
    data = _load(texts_path())
    lang = normalise_language(language, FALLBACK_LANGUAGE)
    template = (data.get(lang) or {}).get(key) or (data.get(FALLBACK_LANGUAGE) or {}).get(key)
    if template is None:
        raise KeyError(f"text {key!r} is not in {texts_path()}")
    return template


def text(key: str, language: str, **values: Any) -> str:
    """The text `key` in `language` (Catalan when that language lacks it),
    with its {placeholders} filled in; unknown placeholders stay as they are.
    For a list of versions, the first."""
    return variants(key, language, **values)[0]


def variants(key: str, language: str, **values: Any) -> List[str]:
    """Every version of a text that has several (a YAML list), filled in."""
    template = _template(key, language)
    versions = template if isinstance(template, list) else [template]
    return [fill_placeholders(v, values) for v in versions]


class Texts:
    """text() bound to one language: `t = Texts("es"); t("heading")`."""

    def __init__(self, language: str):
        self.language = normalise_language(language, FALLBACK_LANGUAGE)

    def __call__(self, key: str, **values: Any) -> str:
        return text(key, self.language, **values)


def check_complete() -> Dict[str, list]:
    """{language: keys missing there that Catalan has}; for tests and editors."""
    data = _load(texts_path())
    reference = set((data.get(FALLBACK_LANGUAGE) or {}).keys())
    return {lang: sorted(reference - set((data.get(lang) or {}).keys()))
            for lang in LANGUAGES if reference - set((data.get(lang) or {}).keys())}
