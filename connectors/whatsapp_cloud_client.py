"""Asynchronous client for the WhatsApp Cloud API's
`POST {api_url}/{version}/{phone_number_id}/messages`.

Busy or failing answers (HTTP 429, 5xx, network failures) and Meta's rate-limit
codes (which mostly come with HTTP 400) are retried with exponential backoff,
honouring Retry-After; other errors are final and raised with Meta's code, so
the caller can keep the reason (bot/reminders/provider_status.py). The access
token goes in a header only and is never logged; numbers are masked in logs.
"""
from __future__ import annotations

import json
from typing import Any, Dict, Optional

from bot.messaging.sms import ProviderError
from connectors.provider_http import ProviderHttp

# 4: app's Graph API call limit; 613: a Graph API rate limit; 80007: the
# WhatsApp Business Account's limit; 130429: throughput; 131056: the pair
# rate limit (one business number to one citizen).
RATE_LIMIT_CODES = frozenset({4, 613, 80007, 130429, 131056})


class WhatsAppCloudError(ProviderError):
    """The Cloud API refused a message or kept failing."""

    provider = "WhatsApp Cloud API"

    def __init__(self, status: Optional[int], code: Optional[int], description: str,
                 trace_id: Optional[str] = None):
        super().__init__(status, code, description)
        self.trace_id = trace_id  # fbtrace_id, for Meta's support

    @property
    def retryable(self) -> bool:
        return super().retryable or self.code in RATE_LIMIT_CODES


def error_from(status: int, body: Any) -> WhatsAppCloudError:
    """Meta's error envelope {"error": {message, type, code, error_data:
    {details}, fbtrace_id}} as an exception; anything else described as it is."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return WhatsAppCloudError(status, None, str(body)[:200])
    code = error.get("code")
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    data = error.get("error_data")
    data = data if isinstance(data, dict) else {}
    description = data.get("details") or error.get("message") or str(error)[:200]
    trace = error.get("fbtrace_id")
    return WhatsAppCloudError(status, code, str(description)[:500], trace if isinstance(trace, str) else None)


def _decoded(raw: bytes) -> Any:
    """An answer's JSON; its text when it is none (a proxy's error page)."""
    try:
        return json.loads(raw.decode("utf-8")) if raw else {}
    except ValueError:
        return raw[:200].decode("utf-8", "replace")


def message_id_from(body: Any) -> Optional[str]:
    """The wamid in a success answer {messages: [{id}]}; None when missing."""
    try:
        message_id = body["messages"][0]["id"]
    except (KeyError, IndexError, TypeError):
        return None
    return message_id if isinstance(message_id, str) and message_id else None


def _answer(status: int, raw: bytes) -> str:
    """The wamid of a 2xx answer; WhatsAppCloudError for any other answer."""
    answer = _decoded(raw)
    if 200 <= status < 300:
        message_id = message_id_from(answer)
        if message_id is None:
            # Accepted, perhaps sent: not worth a second copy.
            raise WhatsAppCloudError(status, None, "answer without a message id")
        return message_id
    raise error_from(status, answer)


class WhatsAppCloudClient(ProviderHttp):
    user_agent = "Recorda (Rasa WhatsApp Cloud API connector)"

    def __init__(self, api_url: str, api_version: str, phone_number_id: str, access_token: str,
                 timeout: float = 15.0, max_attempts: int = 5, backoff_base: float = 0.5,
                 backoff_cap: float = 8.0):
        super().__init__(f"Bearer {access_token}", timeout, max_attempts, backoff_base, backoff_cap)
        self.url = f"{api_url.rstrip('/')}/{api_version.strip('/')}/{phone_number_id}/messages"

    def __repr__(self) -> str:
        return f"WhatsAppCloudClient({self.url!r})"  # never the token

    def unreachable(self, exc: BaseException) -> WhatsAppCloudError:
        return WhatsAppCloudError(None, None, f"unreachable: {exc!r}")

    async def send(self, body: Dict[str, Any]) -> str:
        """Sends one message (a body from connectors/whatsapp_cloud_content.py,
        `addressed`); returns its wamid. Raises WhatsAppCloudError."""
        return await self.post_with_retries(self.url, body, _answer, str(body.get("type", "message")),
                                            body.get("to"))
