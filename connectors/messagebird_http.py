"""What Recorda's MessageBird clients share: the `AccessKey` header and the
error envelope, on the retry policy of every provider client
(connectors/provider_http.py). Used by the Conversations API client (WhatsApp, `messagebird_client`) and the
SMS API client (`messagebird_sms`).
"""
from __future__ import annotations

import json
from typing import Any, Dict

from bot.messaging.sms import ProviderError
from connectors.provider_http import ProviderHttp


class MessageBirdError(ProviderError):
    """The MessageBird API refused a message or kept failing."""

    provider = "MessageBird"


def first_error(body: Any) -> Dict[str, Any]:
    # The docs' table says `description`, their example `message`: accept both.
    try:
        err = body["errors"][0]
        return {"code": err.get("code"), "description": err.get("description") or err.get("message") or ""}
    except (KeyError, IndexError, TypeError):
        return {"code": None, "description": str(body)[:200]}


def _answer(status: int, raw: bytes) -> Dict[str, Any]:
    """A 2xx answer's JSON object; MessageBirdError for any other answer.
    ValueError (retried as a failure to reach it) for one that is no JSON."""
    payload = json.loads(raw.decode("utf-8")) if raw else {}
    if status in (200, 201, 202):
        return payload if isinstance(payload, dict) else {}
    err = first_error(payload)
    raise MessageBirdError(status, err["code"], err["description"])


class MessageBirdHttp(ProviderHttp):
    """POSTs JSON to a MessageBird API with retries; subclasses add the calls."""

    def __init__(self, api_url: str, access_key: str, timeout: float = 15.0,
                 max_attempts: int = 5, backoff_base: float = 0.5, backoff_cap: float = 8.0):
        super().__init__(f"AccessKey {access_key}", timeout, max_attempts, backoff_base, backoff_cap)
        self.api_url = api_url.rstrip("/")

    def unreachable(self, exc: BaseException) -> MessageBirdError:
        return MessageBirdError(None, None, f"unreachable: {exc!r}")

    async def post_json(self, path: str, body: Dict[str, Any], what: str, to: str) -> Dict[str, Any]:
        """The decoded 2xx answer to `POST {api_url}{path}`, after retries;
        raises MessageBirdError. `what` and `to` only name the call in logs."""
        return await self.post_with_retries(f"{self.api_url}{path}", body, _answer, what, to)
