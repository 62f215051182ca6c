"""What a "user" event of Rasa's tracker store is to a person reading the
conversation: something the citizen typed, a button tap, a photo, or a turn
Recorda itself started (the reminder, a booking update); and what the
citizen's message asked for."""
from __future__ import annotations

from typing import Optional

from bot.console.tracker import FALLBACK_INTENT, TrackerEvent
from bot.messaging import payloads


def base_intent(name: Optional[str]) -> Optional[str]:
    """A retrieval intent "faq/ask_documents" counts as "ask_documents"."""
    return name.split("/", 1)[1] if name and "/" in name else name


def is_recorda_trigger(event: TrackerEvent) -> bool:
    """A "user" event that Recorda itself sent through Rasa's trigger_intent
    (the reminder, a booking update), not something the citizen wrote."""
    metadata = event.data.get("metadata") or {}
    return event.type_name == "user" and (
        bool(metadata.get("is_external")) or event.text.startswith("EXTERNAL:")
        or ((event.intent or "").startswith(payloads.RECORDA_PREFIX) and not is_media(event)))


def is_media(event: TrackerEvent) -> bool:
    """A photo, voice note, location...: the connector sends it as this payload."""
    return event.type_name == "user" and event.text.startswith("/" + payloads.MEDIA_INTENT)


def is_citizen_message(event: TrackerEvent) -> bool:
    """Something the citizen sent: typed text, a button tap, a photo..."""
    return event.type_name == "user" and bool(event.text) and not is_recorda_trigger(event)


def is_low_confidence(event: TrackerEvent, threshold: float) -> bool:
    """A typed message the NLU was unsure of (or that hit the fallback)."""
    if not event.is_typed_message or is_recorda_trigger(event):
        return False
    return event.intent == FALLBACK_INTENT or (event.confidence is not None and event.confidence < threshold)


def payload_intent(text: str) -> Optional[str]:
    """The intent of a button payload; None for any other text."""
    parsed = payloads.parse(text)
    return base_intent(parsed.intent) if parsed else None


def message_intent(event: TrackerEvent) -> Optional[str]:
    """What the citizen's message asked for; None for a photo and the like."""
    if is_media(event):
        return None
    if event.is_button_payload:
        return payload_intent(event.text) or base_intent(event.intent)
    return base_intent(event.intent)
