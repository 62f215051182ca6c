"""Where the message an action answers came from, and whether it may act.

Only two kinds of caller may make an action change an appointment or tell
personal data: the citizen, through a signed WhatsApp channel (the message
carries that channel's seal, bot.messaging.seal), and Recorda itself, through
Rasa's token-protected `trigger_intent` (an EXTERNAL_ intent: the daily
reminder, the retry queue's result). Anything else — Rasa's HTTP API, an
unsigned channel someone enabled, a made-up tracker — is refused and logged.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, Optional

from rasa_sdk import Tracker

from bot.foundation.phone import mask
from bot.foundation.settings import WHATSAPP_CHANNELS
from bot.messaging.seal import METADATA_KEY, is_sealed

log = logging.getLogger(__name__)

# Input channels whose webhooks are verified before a message is sealed: the
# WhatsApp channels. The seal names its channel, so a seal is only good on
# the channel that made it.
SIGNED_CHANNELS = frozenset(WHATSAPP_CHANNELS)

TAP = "tap"              # a real button reply of the citizen's WhatsApp
TEXT = "text"            # typed by the citizen on their WhatsApp
MEDIA = "media"          # a photo, voice note... from their WhatsApp
RECORDA = "recorda"      # Recorda's own trigger (daily job, retry worker)
UNVERIFIED = "unverified"

_KINDS = {"button": TAP, "text": TEXT, "media": MEDIA}


def latest_user_event(tracker: Tracker) -> Optional[Dict[str, Any]]:
    for event in reversed(tracker.events or []):
        if event.get("event") == "user":
            return event
    return None


def origin(tracker: Tracker, secret: str) -> str:
    """TAP, TEXT, MEDIA, RECORDA or UNVERIFIED for the latest user message."""
    event = latest_user_event(tracker)
    if event is None:
        return UNVERIFIED
    metadata = event.get("metadata") or {}
    intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name") or ""
    if metadata.get("is_external") is True and intent.startswith("EXTERNAL_"):
        return RECORDA
    channel = event.get("input_channel") or ""
    kind = metadata.get("kind")
    if (channel in SIGNED_CHANNELS and kind in _KINDS
            and is_sealed(secret, metadata.get(METADATA_KEY), channel, tracker.sender_id,
                          str(event.get("message_id") or ""), kind, event.get("text") or "")):
        return _KINDS[kind]
    return UNVERIFIED


def log_refusal(tracker: Tracker, action: str) -> None:
    event = latest_user_event(tracker) or {}
    log.warning("Refused %s for %s: the message did not come through a signed channel "
                "(input channel %r)", action, mask(tracker.sender_id), event.get("input_channel"))
