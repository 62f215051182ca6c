"""What Recorda's MessageBird clients share: one aiohttp session with the
`AccessKey` header, the error envelope, and the retry policy.

Rate limits (429) and server errors (5xx, network failures) are retried with
exponential backoff, honouring Retry-After; other 4xx answers are final and
raised with the provider's error code, so the caller can keep the reason.
Used by the Conversations API client (WhatsApp, `messagebird_client`) and the
SMS API client (`messagebird_sms`).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, Optional

import aiohttp

from bot.foundation.phone import mask
from bot.messaging.sms import RETRYABLE_STATUSES, ProviderError

log = logging.getLogger(__name__)

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


class MessageBirdHttp:
    """POSTs JSON to a MessageBird API with retries; subclasses add the calls."""

    user_agent = "Recorda"

    def __init__(self, api_url: str, access_key: str, timeout: float = 15.0,
                 max_attempts: int = 5, backoff_base: float = 0.5, backoff_cap: float = 8.0):
        self.api_url = api_url.rstrip("/")
        self.access_key = access_key
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._session: Optional[aiohttp.ClientSession] = None

    def _get_session(self) -> aiohttp.ClientSession:
        # Created lazily: it must belong to the event loop that uses it.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self.timeout,
                headers={"Authorization": f"AccessKey {self.access_key}",
                         "Accept": "application/json",
                         "User-Agent": self.user_agent})
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _delay(self, attempt: int, retry_after: Optional[str]) -> float:
        if retry_after:
            try:
                return min(float(retry_after), self.backoff_cap)
            except ValueError:
                pass
        return min(self.backoff_base * (2 ** (attempt - 1)), self.backoff_cap)

    async def post_json(self, path: str, body: Dict[str, Any], what: str, to: str) -> Dict[str, Any]:
        """The decoded 2xx answer to `POST {api_url}{path}`, after retries;
        raises MessageBirdError. `what` and `to` only name the call in logs
        (the number masked)."""
        last_error: Optional[MessageBirdError] = None
        for attempt in range(1, self.max_attempts + 1):
            retry_after = None
            try:
                async with self._get_session().post(f"{self.api_url}{path}", json=body) as resp:
                    payload = await resp.json(content_type=None) if resp.content_length != 0 else {}
                    if resp.status in (200, 201, 202):
                        return payload if isinstance(payload, dict) else {}
                    err = first_error(payload)
                    last_error = MessageBirdError(resp.status, err["code"], err["description"])
                    if resp.status not in RETRYABLE_STATUSES:
                        raise last_error
                    retry_after = resp.headers.get("Retry-After")
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
                last_error = MessageBirdError(None, None, f"unreachable: {exc!r}")
            if attempt < self.max_attempts:
                delay = self._delay(attempt, retry_after)
                log.warning("Send of %s to %s failed (%s); retry %d in %.1fs", what, mask(to),
                            last_error, attempt, delay)
                await asyncio.sleep(delay)
        assert last_error is not None
        raise last_error
