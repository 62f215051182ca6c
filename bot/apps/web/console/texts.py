"""The console's words in Catalan, Spanish and English.

Every file in texts/ maps a key to its three translations:

    day_title:
      ca: Dia de servei
      es: Día de servicio
      en: Service day

One file per page keeps the files short for translators; a key may be
defined once only (the loader refuses a key defined twice). `{name}`
placeholders are filled from keyword arguments.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, Optional

import yaml
from babel import Locale, negotiate_locale

from bot.foundation.languages import LANGUAGES

DEFAULT_LANGUAGE = "ca"
TEXTS_DIR = Path(__file__).resolve().parent / "texts"
# The Babel locale that formats dates and numbers for each console language.
LOCALES = {"ca": Locale.parse("ca_ES"), "es": Locale.parse("es_ES"), "en": Locale.parse("en_GB")}


class TextsError(ValueError):
    pass


@lru_cache(maxsize=1)
def all_texts() -> Dict[str, Dict[str, str]]:
    texts: Dict[str, Dict[str, str]] = {}
    for path in sorted(TEXTS_DIR.glob("*.yml")):
        for key, translations in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items():
            if key in texts:
                raise TextsError(f"{path.name}: key {key!r} is defined in another texts file too")
            if not isinstance(translations, dict):
                raise TextsError(f"{path.name}: {key!r} needs ca, es and en")
            texts[key] = {lang: str(value) for lang, value in translations.items()}
    return texts


def missing_translations() -> Dict[str, list]:
    """{key: [languages without a text]}: what a translator still has to do."""
    return {key: [lang for lang in LANGUAGES if not translations.get(lang)]
            for key, translations in all_texts().items()
            if any(not translations.get(lang) for lang in LANGUAGES)}


class Translator:
    def __init__(self, language: str):
        self.language = language if language in LANGUAGES else DEFAULT_LANGUAGE
        self.locale = LOCALES[self.language]

    def __call__(self, key: str, **values) -> str:
        translations = all_texts().get(key)
        if translations is None:
            return key  # visible in the page, and caught by the texts test
        text = translations.get(self.language) or translations.get("en") or key
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in all_texts()


def choose_language(asked: Optional[str], accept_language: Optional[str]) -> str:
    """An explicit choice (cookie, ?lang=) if it is one of ours, else the
    browser's preference, else Catalan."""
    if asked in LANGUAGES:
        return asked
    preferred: Iterable[str] = [part.split(";")[0].strip().replace("-", "_")
                                for part in (accept_language or "").split(",") if part.strip()]
    return negotiate_locale(list(preferred), list(LANGUAGES)) or DEFAULT_LANGUAGE
