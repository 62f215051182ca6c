"""Per-office settings of the reminder service (offices.yml): the reply
window and SMS fallback. Defaults apply where an office says nothing. What the
booking system knows of an office (address, hours, late policy) stays there."""
from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

from bot.foundation.settings import PROJECT_ROOT

DEFAULT_REPLY_WINDOW = timedelta(hours=23, minutes=40)
_DURATION = re.compile(r"^\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*$")


def parse_duration(text: str) -> timedelta:
    """"23h40m", "20h", "90m" -> timedelta."""
    match = _DURATION.match(str(text))
    if not match or not any(match.groups()):
        raise ValueError(f"not a duration like 23h40m: {text!r}")
    hours, minutes = (int(g) if g else 0 for g in match.groups())
    return timedelta(hours=hours, minutes=minutes)


@dataclass(frozen=True)
class OfficeSettings:
    reply_window: timedelta = DEFAULT_REPLY_WINDOW
    sms_fallback: bool = False

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "OfficeSettings":
        return cls(
            reply_window=parse_duration(data.get("reply_window", "23h40m")),
            sms_fallback=bool(data.get("sms_fallback", False)),
        )


def settings_path() -> Path:
    return Path(os.environ.get("RECORDA_OFFICES_FILE", PROJECT_ROOT / "offices.yml"))


@functools.lru_cache(maxsize=8)
def _load(path: str) -> Dict[str, Any]:
    file = Path(path)
    if not file.exists():
        return {}
    return yaml.safe_load(file.read_text(encoding="utf-8")) or {}


def for_office(office_id: Optional[str]) -> OfficeSettings:
    data = _load(str(settings_path()))
    merged = dict(data.get("defaults") or {})
    merged.update((data.get("offices") or {}).get(office_id or "", {}) or {})
    return OfficeSettings.from_dict(merged)


def configured_offices() -> List[str]:
    """The ids of the offices that offices.yml names (each may override the defaults)."""
    return [str(office_id) for office_id in (_load(str(settings_path())).get("offices") or {})]
