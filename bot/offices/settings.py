"""Per-office settings of the reminder service (offices.yml): when reminders
go out (the touches), the quiet hours, the reply window, the SMS fallback and
a wording experiment. Defaults apply where an office says nothing. What the
booking system knows of an office (address, hours, late policy) stays there.

A mistake in the file stops whoever reads it with a message naming the
office and the setting: a town must not find out at sending time."""
from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import yaml

from bot.foundation.settings import PROJECT_ROOT

DEFAULT_REPLY_WINDOW = timedelta(hours=23, minutes=40)
DEFAULT_TEMPLATE = "appointment_reminder"
DAY_BEFORE = "day_before"  # the one touch of an office that names none
_DURATION = re.compile(r"^\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")  # stored in 32-character columns
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class OfficeSettingsError(ValueError):
    """offices.yml says something Recorda cannot use."""


def parse_duration(text: str) -> timedelta:
    """"23h40m", "20h", "90m" -> timedelta."""
    match = _DURATION.match(str(text))
    if not match or not any(match.groups()):
        raise ValueError(f"not a duration like 23h40m: {text!r}")
    hours, minutes = (int(g) if g else 0 for g in match.groups())
    return timedelta(hours=hours, minutes=minutes)


def _clock(text: Any, where: str) -> time:
    match = _CLOCK.match(str(text))
    if not match:
        raise OfficeSettingsError(f"{where}: {text!r} is not a time like 21:00")
    return time(int(match.group(1)), int(match.group(2)))


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise OfficeSettingsError(f"{where}: {value!r} is not a name of lower-case letters, digits, - and _ "
                                  "(at most 32)")
    return value


@dataclass(frozen=True)
class Touch:
    """One reminder sent before an appointment. `days_before` counts service
    days: 1 is the service day before (a Friday for a Monday), as the
    reference deployment does; the job sends it when it runs on that day."""
    name: str = DAY_BEFORE
    days_before: int = 1
    template: str = DEFAULT_TEMPLATE  # a whatsapp_templates/<template>.yml
    reply_window: timedelta = DEFAULT_REPLY_WINDOW


@dataclass(frozen=True)
class QuietHours:
    """Local hours in which no reminder is sent, e.g. 21:00 to 09:00."""
    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end  # across midnight

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class Experiment:
    """A wording experiment: each appointment gets one variant, which may
    replace the template of some touches. Variants retired in the console
    stop being assigned; those in `retired` here are retired for good."""
    name: str
    variants: Mapping[str, Mapping[str, str]]  # variant -> {touch name: template}
    retired: Tuple[str, ...] = ()

    def template(self, variant: Optional[str], touch: Touch) -> str:
        return dict(self.variants.get(variant or "", {})).get(touch.name, touch.template)


DEFAULT_SEND_AT = time(17, 0)


@dataclass(frozen=True)
class WaitingListSettings:
    """Offering a cancelled slot to the people waiting for that office and
    procedure (the booking system's waiting list)."""
    enabled: bool = False
    # Only a slot that starts at least this much later is offered.
    min_notice: timedelta = timedelta(hours=3)
    offers_at_once: int = 3             # the first "Take it" wins
    offer_valid_for: timedelta = timedelta(minutes=45)
    max_offers_per_day: int = 2         # per person, across slots


def _waiting_list(raw: Any, where: str) -> WaitingListSettings:
    if raw is None:
        return WaitingListSettings()
    if not isinstance(raw, dict):
        raise OfficeSettingsError(f"{where}: a mapping (enabled, min_notice, offers_at_once, ...)")
    unknown = set(raw) - {"enabled", "min_notice", "offers_at_once", "offer_valid_for", "max_offers_per_day"}
    if unknown:
        raise OfficeSettingsError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}")
    counts = {}
    for key, default in (("offers_at_once", 3), ("max_offers_per_day", 2)):
        value = raw.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 50:
            raise OfficeSettingsError(f"{where}.{key}: a whole number from 1 to 50")
        counts[key] = value
    return WaitingListSettings(
        enabled=bool(raw.get("enabled", True)),
        min_notice=_duration(raw.get("min_notice", "3h"), f"{where}.min_notice"),
        offer_valid_for=_duration(raw.get("offer_valid_for", "45m"), f"{where}.offer_valid_for"),
        **counts)


@dataclass(frozen=True)
class OfficeSettings:
    touches: Tuple[Touch, ...] = (Touch(),)
    quiet_hours: Optional[QuietHours] = None
    # The local hour from which the hourly timer (`send --due`) sends the office's touches.
    send_at: time = DEFAULT_SEND_AT
    waiting_list: WaitingListSettings = WaitingListSettings()
    sms_fallback: bool = False
    experiment: Optional[Experiment] = None

    @property
    def reply_window(self) -> timedelta:
        """The reply window of the last touch (the one that decides whether
        staff call): what an office with one touch calls its reply window."""
        return self.touches[-1].reply_window

    def touch(self, name: Optional[str]) -> Touch:
        """The touch of that name; the last one for a reminder stored without
        a touch (older rows, or sent outside the job)."""
        for touch in self.touches:
            if touch.name == name:
                return touch
        return self.touches[-1]

    def touch_rank(self, name: Optional[str]) -> int:
        """Position of a touch in sending order; -1 for none."""
        names = [t.name for t in self.touches]
        return names.index(name) if name in names else -1

    def template(self, touch_name: Optional[str], variant: Optional[str]) -> str:
        touch = self.touch(touch_name)
        return self.experiment.template(variant, touch) if self.experiment else touch.template

    @classmethod
    def from_dict(cls, data: Dict[str, Any], where: str = "defaults") -> "OfficeSettings":
        unknown = set(data) - KNOWN_SETTINGS
        if unknown:
            raise OfficeSettingsError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}")
        window = _duration(data.get("reply_window", "23h40m"), f"{where}.reply_window")
        touches = _touches(data.get("touches"), window, where)
        quiet = data.get("quiet_hours")
        return cls(
            touches=touches,
            quiet_hours=_quiet_hours(quiet, f"{where}.quiet_hours") if quiet else None,
            send_at=_clock(data["send_at"], f"{where}.send_at") if "send_at" in data else DEFAULT_SEND_AT,
            sms_fallback=bool(data.get("sms_fallback", False)),
            experiment=_experiment(data.get("experiment"), touches, f"{where}.experiment"),
            waiting_list=_waiting_list(data.get("waiting_list"), f"{where}.waiting_list"),
        )


KNOWN_SETTINGS = {"touches", "reply_window", "quiet_hours", "send_at", "sms_fallback", "experiment",
                  "waiting_list"}


def _duration(value: Any, where: str) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise OfficeSettingsError(f"{where}: {exc}") from None


def _touches(raw: Any, default_window: timedelta, where: str) -> Tuple[Touch, ...]:
    if raw is None:
        return (Touch(reply_window=default_window),)
    if not isinstance(raw, list) or not raw:
        raise OfficeSettingsError(f"{where}.touches: a list of at least one touch")
    touches = []
    for i, item in enumerate(raw):
        at = f"{where}.touches[{i}]"
        if not isinstance(item, dict):
            raise OfficeSettingsError(f"{at}: a mapping with name and days_before")
        unknown = set(item) - {"name", "days_before", "template", "reply_window"}
        if unknown:
            raise OfficeSettingsError(f"{at}: unknown setting(s) {', '.join(sorted(unknown))}")
        days = item.get("days_before")
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 14:
            raise OfficeSettingsError(f"{at}.days_before: a whole number of service days from 1 to 14")
        window = _duration(item["reply_window"], f"{at}.reply_window") if "reply_window" in item \
            else default_window
        touches.append(Touch(_name(item.get("name"), f"{at}.name"), days,
                             _name(item.get("template", DEFAULT_TEMPLATE), f"{at}.template"), window))
    names = [t.name for t in touches]
    if len(set(names)) != len(names):
        raise OfficeSettingsError(f"{where}.touches: two touches share a name")
    days = [t.days_before for t in touches]
    if days != sorted(days, reverse=True) or len(set(days)) != len(days):
        raise OfficeSettingsError(f"{where}.touches: list them earliest first, each on a different day")
    return tuple(touches)


def _quiet_hours(raw: Any, where: str) -> QuietHours:
    parts = str(raw).split("-")
    if len(parts) != 2:
        raise OfficeSettingsError(f"{where}: {raw!r} is not a range like 21:00-09:00")
    start, end = (_clock(part.strip(), where) for part in parts)
    if start == end:
        raise OfficeSettingsError(f"{where}: the range is empty")
    return QuietHours(start, end)


def _experiment(raw: Any, touches: Tuple[Touch, ...], where: str) -> Optional[Experiment]:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("variants"), dict) or len(raw["variants"]) < 2:
        raise OfficeSettingsError(f"{where}: a name and at least two variants")
    touch_names = {t.name for t in touches}
    variants: Dict[str, Dict[str, str]] = {}
    for variant, templates in raw["variants"].items():
        _name(variant, f"{where}.variants")
        templates = templates or {}
        if not isinstance(templates, dict) or not set(templates) <= touch_names:
            raise OfficeSettingsError(f"{where}.variants.{variant}: a template per touch, of the touches "
                                      f"{', '.join(sorted(touch_names))}")
        variants[variant] = {touch: _name(template, f"{where}.variants.{variant}.{touch}")
                             for touch, template in templates.items()}
    retired = tuple(raw.get("retired") or ())
    if not set(retired) <= set(variants) or len(set(variants) - set(retired)) < 1:
        raise OfficeSettingsError(f"{where}.retired: names of its variants, leaving at least one")
    return Experiment(_name(raw.get("name"), f"{where}.name"), variants, retired)


def settings_path() -> Path:
    return Path(os.environ.get("RECORDA_OFFICES_FILE", PROJECT_ROOT / "offices.yml"))


@functools.lru_cache(maxsize=8)
def _load(path: str) -> Dict[str, Any]:
    file = Path(path)
    if not file.exists():
        return {}
    data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise OfficeSettingsError(f"{path}: a mapping with `defaults` and `offices`")
    return data


@functools.lru_cache(maxsize=256)
def _for_office(path: str, office_id: str) -> OfficeSettings:
    data = _load(path)
    merged = dict(data.get("defaults") or {})
    own = (data.get("offices") or {}).get(office_id, {}) or {}
    merged.update(own)
    return OfficeSettings.from_dict(merged, f"offices.{office_id}" if own else "defaults")


def for_office(office_id: Optional[str]) -> OfficeSettings:
    return _for_office(str(settings_path()), office_id or "")


def configured_offices() -> List[str]:
    """The ids of the offices that offices.yml names (each may override the defaults)."""
    return [str(office_id) for office_id in (_load(str(settings_path())).get("offices") or {})]


def all_touches(office_ids: List[str]) -> List[Tuple[Touch, List[str]]]:
    """The distinct touches of these offices, earliest first, each with the
    offices that send it (what one run of the job sends)."""
    found: Dict[Tuple[str, int], Tuple[Touch, List[str]]] = {}
    for office_id in office_ids:
        for touch in for_office(office_id).touches:
            key = (touch.name, touch.days_before)
            found.setdefault(key, (touch, []))[1].append(office_id)
    return sorted(found.values(), key=lambda item: -item[0].days_before)

