"""A seal that a signed WhatsApp channel puts on each citizen message it
hands to Rasa, so the custom actions can tell it from anything else that
reaches a conversation.

A channel verifies the provider's webhook signature, then seals the message
(HMAC-SHA256 of channel, sender, message id, kind and text) with the secret
that Rasa and the action server share (`RECORDA_ACTION_TOKEN`). A message
added through Rasa's HTTP API or any other channel carries no valid seal, so
no action changes an appointment or tells personal data because of it.
"""
from __future__ import annotations

import hashlib
import hmac
from typing import Optional

METADATA_KEY = "recorda_seal"
_CONTEXT = b"recorda-channel-seal-v1"


def _message(channel: str, sender: str, message_id: str, kind: str, text: str) -> bytes:
    # Length-prefixed fields: no two different messages share one byte string.
    parts = [channel, sender, message_id, kind, text]
    return b"".join(len(p.encode()).to_bytes(4, "big") + p.encode() for p in parts)


def seal(secret: str, channel: str, sender: str, message_id: str, kind: str, text: str) -> str:
    key = hmac.new(secret.encode(), _CONTEXT, hashlib.sha256).digest()
    return hmac.new(key, _message(channel, sender, message_id, kind, text), hashlib.sha256).hexdigest()


def is_sealed(secret: str, candidate: Optional[str], channel: str, sender: str, message_id: str,
              kind: str, text: str) -> bool:
    if not secret or not isinstance(candidate, str):
        return False
    return hmac.compare_digest(candidate, seal(secret, channel, sender, message_id, kind, text))
