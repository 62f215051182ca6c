"""The button-payload grammar: "/<intent>" or "/<intent>{<JSON object>}",
the text Rasa reads as an already-labelled message (its RegexMessageHandler).
Recorda's buttons carry one naming the appointment,
/confirm_appointment{"appointment_id":"A1"}; the WhatsApp channel passes a
tap on one to Rasa as it is, and the console reads the taps back.

    payload, confirm, cancel, keep, media   build one
    parse                                   its intent and entities, or None
    safe_payload                            a tap's button id Recorda accepts
    parse_data                              what Rasa's NLU would make of one
    typed_text                              typed text that is never one

Intent names are domain.yml's: letters, digits and "_" only.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Dict, Optional

_PAYLOAD = re.compile(r"^/(?P<intent>[A-Za-z0-9_]+)(?P<entities>\{.*\})?$", re.DOTALL)
# Recorda's own intents (the reminder, a booking update, a photo): a
# citizen's tap never carries one.
RECORDA_PREFIX = "EXTERNAL_"
MEDIA_INTENT = "EXTERNAL_media_message"
# Intents only a button of Recorda's sends: never typed, so never trained.
BUTTON_ONLY_INTENTS = ("keep_appointment", "take_offer", "decline_offer")
# Prefixed to typed text that starts with "/", so that Rasa reads it as text.
WORD_JOINER = "\u2060"


# --- building ------------------------------------------------------------------
def payload(intent: str, appointment_id: str) -> str:
    return _build(intent, {"appointment_id": appointment_id})


def confirm(appointment_id: str) -> str:
    return payload("confirm_appointment", appointment_id)


def cancel(appointment_id: str) -> str:
    return payload("cancel_appointment", appointment_id)


def keep(appointment_id: str) -> str:
    """"No, keep it": leaves the appointment as it is."""
    return payload("keep_appointment", appointment_id)


def take_offer(offer_id: int) -> str:
    """[Take it] on the offer of a freed slot."""
    return _build("take_offer", {"offer_id": str(offer_id)})


def decline_offer(offer_id: int) -> str:
    """[No, thanks] on the offer of a freed slot."""
    return _build("decline_offer", {"offer_id": str(offer_id)})


def media(media_type: str) -> str:
    """What the channel passes for a photo, a voice note, a location..."""
    return _build(MEDIA_INTENT, {"media_type": media_type})


def _build(intent: str, entities: Dict[str, Any]) -> str:
    return "/" + intent + json.dumps(entities, separators=(",", ":"))


# --- reading -------------------------------------------------------------------
@dataclass(frozen=True)
class Payload:
    intent: str
    entities: Dict[str, Any]


def parse(text: Optional[str]) -> Optional[Payload]:
    """The intent and entities of a payload (surrounding spaces aside); None
    for anything else, entities that are not a JSON object included."""
    match = _PAYLOAD.match((text or "").strip())
    if not match:
        return None
    entities: Any = {}
    if match.group("entities"):
        try:
            entities = json.loads(match.group("entities"))
        except ValueError:
            return None
    return Payload(match.group("intent"), entities) if isinstance(entities, dict) else None


def safe_payload(candidate: Optional[str]) -> Optional[str]:
    """A button id that is a payload Recorda sent, else None: Recorda's own
    intents never come from a citizen's tap."""
    parsed = parse(candidate)
    if candidate is None or parsed is None or parsed.intent.startswith(RECORDA_PREFIX):
        return None
    return candidate.strip()


def parse_data(text: str) -> Dict[str, Any]:
    """What Rasa's NLU would make of a payload (RegexMessageHandler), built
    here so that a tap skips the NLU pipeline: its meaning is exact already.
    ValueError for text that is no payload."""
    parsed = parse(text)
    if parsed is None:
        raise ValueError(f"not a button payload: {text[:80]!r}")
    intent = {"name": parsed.intent, "confidence": 1.0}
    return {"text": text, "intent": intent, "intent_ranking": [intent],
            "entities": [{"entity": k, "value": v} for k, v in parsed.entities.items()]}


def typed_text(text: str) -> str:
    """Text a citizen typed, made safe: Rasa takes text starting with "/" as
    a payload, so such text gets an invisible prefix."""
    stripped = text.strip()
    return WORD_JOINER + stripped if stripped.startswith("/") else stripped
