"""Dates and times written out in the citizen's language (Babel's CLDR data),
the way a clerk would say them: "dimarts, 1 de desembre, a les 10:30"."""
from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time

# The languages Recorda speaks, its one list: the NLU data, the texts, the
# console and the booking sandbox follow it. The first is the default.
LANGUAGES = ("ca", "es", "en")
DEFAULT_LANGUAGE = LANGUAGES[0]

_PLACEHOLDER = re.compile(r"\{(\w+)\}")

_LOCALES = {"ca": "ca_ES", "es": "es_ES", "en": "en_GB"}
# CLDR's Catalan month names carry their "de"/"d’"; Spanish needs it spelled out.
_DAY_PATTERNS = {"ca": "EEEE, d MMMM", "es": "EEEE, d 'de' MMMM", "en": "EEEE, d MMMM"}


def normalise_language(language: str, default: str = DEFAULT_LANGUAGE) -> str:
    lang = (language or "").split("-")[0].split("_")[0].lower()
    return lang if lang in LANGUAGES else default


def _at_time(language: str, when: datetime) -> str:
    clock = format_time(when, "H:mm", locale=_LOCALES[language])
    if language == "ca":
        return f"a la {clock}" if when.hour == 1 else f"a les {clock}"
    if language == "es":
        return f"a la {clock}" if when.hour == 1 else f"a las {clock}"
    return f"at {clock}"


def format_when(when: datetime, language: str, tz: ZoneInfo) -> str:
    """Weekday, day and month, and the local time of an appointment."""
    language = normalise_language(language)
    local = when.astimezone(tz)
    day = format_date(local.date(), _DAY_PATTERNS[language], locale=_LOCALES[language])
    return f"{day}, {_at_time(language, local)}"


def format_time_only(when: datetime, language: str, tz: ZoneInfo) -> str:
    return format_time(when.astimezone(tz), "H:mm", locale=_LOCALES[normalise_language(language)])


def format_short_date(when: datetime, language: str, tz: ZoneInfo) -> str:
    """"dt. 1/12 10:30": short enough for a WhatsApp button."""
    language = normalise_language(language)
    return format_datetime(when.astimezone(tz), "EEE d/M H:mm", locale=_LOCALES[language])


def fill_placeholders(text: str, values: dict) -> str:
    """Texts editors write ("a les {time}"): known {names} filled in, unknown
    ones left as they are, so a typo shows instead of failing the answer."""
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), str(text))
