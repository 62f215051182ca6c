"""One conversation as a person reads it: the events of Rasa's tracker store
as transcript entries (what the citizen sent, what the assistant answered
with its buttons' titles, the slots that matter), and each of the citizen's
reminders as a delivery timeline."""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import yaml

from bot.console.citizen_messages import base_intent, is_low_confidence, is_media, is_recorda_trigger, payload_intent
from bot.console.tracker import TrackerEvent
from bot.messaging import payloads
from bot.messaging.templates import REMINDER_TEMPLATE, find_template, load_templates, provider_name
from bot.reminders import states
from bot.reminders.records import Reminder, ReminderEvent

log = logging.getLogger(__name__)

WATCHED_SLOTS = ("language", "flagged_for_staff", "appointment_id")
SKIPPED_ACTIONS = ("action_listen",)   # after every bot turn: noise to a reader
# Reminder history events a reader does not need: "sending" is the moment
# between claiming and the provider's answer.
HIDDEN_REMINDER_EVENTS = (states.SENDING,)


@dataclass(frozen=True)
class Button:
    title: str
    payload: str
    intent: Optional[str]


@dataclass(frozen=True)
class Entry:
    """One line of a transcript. `kind` is one of:
    citizen (typed text), tap (a button), media (photo, audio...), trigger
    (Recorda started a turn), bot (an answer), template (the reminder
    template), action, slot."""
    kind: str
    at: datetime
    text: str = ""
    intent: Optional[str] = None
    confidence: Optional[float] = None
    low_confidence: bool = False
    language: Optional[str] = None
    buttons: Tuple[Button, ...] = ()
    template: Optional[str] = None
    parameters: Tuple[str, ...] = ()
    name: Optional[str] = None
    value: Any = None
    details: Tuple[Tuple[str, str], ...] = ()


@dataclass(frozen=True)
class TimelineStep:
    event: str               # a reminder state, or e.g. "sms_sent"
    at: datetime
    applied: bool            # False: recorded, but it did not change the state
    channel: Optional[str] = None
    reason: Optional[str] = None
    error_code: Optional[int] = None
    was_read: Optional[bool] = None    # of an expiry: read but not answered, or never read


@dataclass(frozen=True)
class ReminderTimeline:
    reminder: Reminder
    steps: Tuple[TimelineStep, ...]


@dataclass(frozen=True)
class Transcript:
    sender: str
    key: str
    entries: Tuple[Entry, ...]
    reminders: Tuple[ReminderTimeline, ...]
    language: Optional[str]
    flagged: bool


def last_slot_values(events: Iterable[TrackerEvent]) -> Dict[str, Any]:
    """The last value of each WATCHED_SLOTS slot set in these events."""
    values: Dict[str, Any] = {}
    for event in events:
        if event.type_name == "slot" and event.slot_name in WATCHED_SLOTS:
            values[event.slot_name] = event.slot_value
    return values


# ------------------------------------------------------ reminder timelines

def timeline(history: Sequence[ReminderEvent], reminder: Optional[Reminder] = None) -> Tuple[TimelineStep, ...]:
    """A reminder's history as a reader wants it: in time order, without the
    internal "sending" step, and without reports that repeat a stage already
    shown (a provider's "sent" after ours). A late report that tells
    something new (read after the answer) stays, marked as not applied."""
    # Which reports to keep is decided in the order they were recorded (a
    # provider's report replayed after our own "sent" is the repeat), then
    # the kept ones are shown in time order.
    seen, kept = set(), []
    for item in history:
        if item.event in HIDDEN_REMINDER_EVENTS or (not item.applied and item.event in seen):
            continue
        seen.add(item.event)
        kept.append(item)
    steps = []
    for item in sorted(kept, key=lambda e: e.at):   # stable: equal times keep recording order
        detail = item.detail or {}
        reason = detail.get("reason")
        if item.event == states.FAILED and not reason and reminder is not None and item.applied:
            reason = reminder.reason
        code = detail.get("code")
        was_read = detail.get("was_read")
        steps.append(TimelineStep(item.event, item.at, item.applied, detail.get("channel"),
                                  reason, code if isinstance(code, int) else None,
                                  was_read if isinstance(was_read, bool) else None))
    return tuple(steps)


# ------------------------------------------------------ transcript entries

@functools.lru_cache(maxsize=1)
def _templates() -> dict:
    try:
        return load_templates()
    except (OSError, ValueError, KeyError, yaml.YAMLError) as exc:
        log.warning("Cannot read the WhatsApp templates for button titles: %s", exc)
        return {}


def _template_button_titles(name: str, language: str) -> Tuple[str, ...]:
    """The titles of a template's quick-reply buttons, from whatsapp_templates/.
    The assistant names a template by its file ("appointment_reminder"); the
    file names it as approved ("recorda_appointment_reminder")."""
    for candidate in (name, _approved_name(name)):
        found = find_template(_templates(), candidate, language or "") if candidate else None
        if found is not None:
            return found.buttons
    return ()


def _approved_name(file_name: str) -> Optional[str]:
    if file_name == "appointment_reminder":
        return REMINDER_TEMPLATE
    try:
        return provider_name(file_name)
    except (KeyError, OSError, ValueError, yaml.YAMLError):
        return None


def _buttons(items: Any) -> Tuple[Button, ...]:
    buttons = []
    for item in items or []:
        if isinstance(item, dict) and (item.get("title") or item.get("payload")):
            payload = str(item.get("payload") or "")
            buttons.append(Button(str(item.get("title") or payload), payload, payload_intent(payload)))
    return tuple(buttons)


def transcript_entries(events: Iterable[TrackerEvent], low_confidence: float) -> List[Entry]:
    """The events of one conversation as a person reads them."""
    entries: List[Entry] = []
    titles: Dict[str, str] = {}          # payload -> title of the button the assistant sent
    # A conversation starts unflagged (the slot's initial value has no event).
    shown_slots: Dict[str, Any] = {"flagged_for_staff": False}
    for event in events:
        if event.type_name == "user":
            entry = _user_entry(event, titles, low_confidence)
        elif event.type_name == "bot":
            entry = _bot_entry(event)
            for button in entry.buttons:
                titles[button.payload] = button.title
        elif event.type_name == "action":
            name = event.action_name or event.data.get("name")
            entry = Entry("action", event.at, name=name) if name and name not in SKIPPED_ACTIONS else None
        elif event.type_name == "slot" and event.slot_name in WATCHED_SLOTS:
            # Only changes: the reminder sets the same language twice.
            if event.slot_name in shown_slots and shown_slots[event.slot_name] == event.slot_value:
                continue
            shown_slots[event.slot_name] = event.slot_value
            entry = Entry("slot", event.at, name=event.slot_name, value=event.slot_value)
        else:
            entry = None
        if entry is not None:
            entries.append(entry)
    return entries


def _user_entry(event: TrackerEvent, titles: Dict[str, str], low_confidence: float) -> Optional[Entry]:
    if not event.text:
        return None
    language = next((str(e.get("value")) for e in event.entities
                     if e.get("entity") == "language" and e.get("value")), None)
    if is_recorda_trigger(event):
        details = tuple((str(e.get("entity")), str(e.get("value"))) for e in event.entities
                        if e.get("entity") and e.get("value") is not None)
        return Entry("trigger", event.at, intent=event.intent, details=details)
    if event.is_button_payload:
        parsed = payloads.parse(event.text)
        entities = parsed.entities if parsed else {}
        if is_media(event):
            return Entry("media", event.at, value=str(entities.get("media_type") or "other"))
        title = (event.data.get("metadata") or {}).get("title") or titles.get(event.text.strip())
        details = tuple((str(k), str(v)) for k, v in entities.items())
        return Entry("tap", event.at, text=str(title or ""),
                     intent=base_intent(parsed.intent if parsed else event.intent), details=details)
    return Entry("citizen", event.at, text=event.text.lstrip(payloads.WORD_JOINER),
                 intent=base_intent(event.intent), confidence=event.confidence,
                 low_confidence=is_low_confidence(event, low_confidence), language=language)


def _bot_entry(event: TrackerEvent) -> Entry:
    data = event.bot_data
    found = data.get("custom")
    custom: Dict[str, Any] = found if isinstance(found, dict) else {}
    template = custom.get("whatsapp_template") if isinstance(custom.get("whatsapp_template"), dict) else None
    if template is not None:
        name, language = str(template.get("template") or ""), str(template.get("language") or "")
        titles = _template_button_titles(name, language)
        quick_replies = [str(p) for p in template.get("quick_replies") or []]
        buttons = tuple(Button(titles[i] if i < len(titles) else p, p, payload_intent(p))
                        for i, p in enumerate(quick_replies))
        return Entry("template", event.at, text=event.bot_text or str(custom.get("text") or ""),
                     template=name, parameters=tuple(str(p) for p in template.get("parameters") or []),
                     buttons=buttons, language=language or None,
                     details=(("appointment_id", str(template["appointment_id"])),)
                     if template.get("appointment_id") else ())
    buttons = _buttons(data.get("buttons")) + _buttons(data.get("quick_replies"))
    text = event.bot_text or str(custom.get("text") or "")
    return Entry("bot", event.at, text=text, buttons=buttons)
