"""The yes/no question the assistant's last turn asked, so that a short
answer ("sí", "ok", "👍", "no") is read against it.

An asking action sets the `open_question` slot to "<kind>:<appointment id>".
The question is open only while it is the last thing the assistant said:
once the citizen has written anything else, it is stale, whatever the slot
still holds. Across a session's end, actions/session.py carries it over only
if it was still open then.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet

SLOT = "open_question"
ATTEND = "attend"                  # the reminder: "will you come?"
CANCEL = "cancel"                  # "do you want to cancel your appointment of ...?"
KEEP_OR_CANCEL = "keep_or_cancel"  # after a bare "no": "keep it or cancel it?"
KINDS = (ATTEND, CANCEL, KEEP_OR_CANCEL)


@dataclass(frozen=True)
class Question:
    kind: str
    appointment_id: str


def ask(kind: str, appointment_id: str) -> SlotSet:
    return SlotSet(SLOT, f"{kind}:{appointment_id}")


def close() -> SlotSet:
    return SlotSet(SLOT, None)


def parse(value: Any) -> Optional[Question]:
    if not isinstance(value, str) or ":" not in value:
        return None
    kind, appointment_id = value.split(":", 1)
    return Question(kind, appointment_id) if kind in KINDS and appointment_id else None


def asked_since_last_user_message(events: List[Dict[str, Any]], value: str) -> bool:
    """Whether `value` was set (as the question) after the citizen's last
    message in `events`, or carried over at the start of this session."""
    for event in reversed(events):
        kind = event.get("event")
        if kind == "user":
            return False
        if kind == "session_started":
            return True  # carried over only when still open (actions/session.py)
        if kind == "slot" and event.get("name") == SLOT:
            return event.get("value") == value
    return False


def open_question(tracker: Tracker) -> Optional[Question]:
    """The question the citizen's latest message answers, if any."""
    value = tracker.get_slot(SLOT)
    question = parse(value)
    if question is None:
        return None
    events = list(tracker.events or [])
    # The latest message is the answer; look at what came before it.
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") == "user":
            return question if asked_since_last_user_message(events[:index], value) else None
    return None
