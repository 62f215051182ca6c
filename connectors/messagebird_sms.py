"""Asynchronous client for the MessageBird SMS API, `POST /messages`
(https://rest.messagebird.com by default; the sandbox points it at the
simulator). Same retries and errors as the WhatsApp client
(`connectors.messagebird_http`).

Settings (see bot.foundation.settings.Settings): MESSAGEBIRD_SMS_API_URL,
MESSAGEBIRD_ACCESS_KEY, RECORDA_SMS_ORIGINATOR (default "Ajuntament").
"""
from __future__ import annotations

import re
from typing import Any, Dict, Optional

from bot.foundation.phone import to_e164
from bot.messaging.sms import SentSms
from connectors.messagebird_http import MessageBirdError, MessageBirdHttp

__all__ = ["MessageBirdSmsClient", "MessageBirdError", "SentSms", "check_originator"]

DEFAULT_SMS_API_URL = "https://rest.messagebird.com"
_ALPHANUMERIC = re.compile(r"^[A-Za-z0-9 ]{1,11}$")
_NUMBER = re.compile(r"^\+?\d{1,16}$")


def check_originator(originator: str) -> str:
    """The sender shown on the phone: a number, or at most 11 letters and
    digits (the SMS standard's limit for an alphanumeric sender)."""
    if _NUMBER.match(originator) or (_ALPHANUMERIC.match(originator) and originator.strip()):
        return originator
    raise ValueError(f"SMS originator {originator!r} must be a phone number or at most 11 "
                     "letters and digits (RECORDA_SMS_ORIGINATOR)")


class MessageBirdSmsClient(MessageBirdHttp):
    user_agent = "Recorda (SMS fallback)"

    def __init__(self, api_url: str, access_key: str, originator: str = "Ajuntament",
                 timeout: float = 15.0, max_attempts: int = 3, backoff_base: float = 0.5,
                 backoff_cap: float = 8.0):
        super().__init__(api_url, access_key, timeout, max_attempts, backoff_base, backoff_cap)
        self.originator = check_originator(originator)

    @classmethod
    def from_settings(cls, settings, **kwargs) -> "MessageBirdSmsClient":
        return cls(settings.sms_api_url, settings.messagebird_access_key, settings.sms_originator,
                   **kwargs)

    async def send(self, to: str, body: str, reference: Optional[str] = None,
                   validity: Optional[int] = None) -> SentSms:
        """Sends one SMS to an E.164 number; raises MessageBirdError."""
        e164 = to_e164(to)
        if e164 is None:
            raise MessageBirdError(422, 10, f"not a valid phone number: {to!r}")
        request: Dict[str, Any] = {"originator": self.originator, "body": body,
                                   "recipients": [int(e164.lstrip("+"))]}
        if reference:
            request["reference"] = reference
        if validity:
            request["validity"] = int(validity)
        answer = await self.post_json("/messages", request, "SMS", e164)
        if not answer.get("id"):
            raise MessageBirdError(None, None, f"the SMS API answered without an id: {str(answer)[:200]}")
        try:
            status = str(answer["recipients"]["items"][0]["status"])
        except (KeyError, IndexError, TypeError):
            status = "sent"
        return SentSms(str(answer["id"]), status)
