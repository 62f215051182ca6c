"""POSTing JSON to a messaging provider, the way every provider client here
does it: one aiohttp session per client, created lazily in the event loop
that uses it, with the provider's authorization header; busy or failing
answers (HTTP 429, 5xx, network failures, and whatever the provider's error
says is retryable) retried with exponential backoff, honouring Retry-After;
other errors final, raised with the provider's code so the caller can keep
the reason. Numbers are masked in logs, and the authorization never appears.
"""
from __future__ import annotations

import abc
import asyncio
import logging
from typing import Any, Callable, Dict, Optional, TypeVar

import aiohttp

from bot.foundation.phone import mask
from bot.messaging.sms import ProviderError

log = logging.getLogger(__name__)

T = TypeVar("T")
# (HTTP status, raw body) -> the caller's result; raises ProviderError for an error answer.
AnswerReader = Callable[[int, bytes], T]


class ProviderHttp(abc.ABC):
    user_agent = "Recorda"

    def __init__(self, authorization: str, timeout: float = 15.0, max_attempts: int = 5,
                 backoff_base: float = 0.5, backoff_cap: float = 8.0):
        self._authorization = authorization
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._session: Optional[aiohttp.ClientSession] = None

    @abc.abstractmethod
    def unreachable(self, exc: BaseException) -> ProviderError:
        """The provider's error for a call that got no usable answer."""

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self.timeout,
                headers={"Authorization": self._authorization, "Accept": "application/json",
                         "User-Agent": self.user_agent})
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _delay(self, attempt: int, retry_after: Optional[str]) -> float:
        if retry_after:
            try:
                return max(0.0, min(float(retry_after), self.backoff_cap))
            except ValueError:
                pass
        return min(self.backoff_base * (2 ** (attempt - 1)), self.backoff_cap)

    async def post_with_retries(self, url: str, body: Dict[str, Any], read: AnswerReader[T],
                                what: str, to: Optional[str]) -> T:
        """read(status, raw) of the answer to POST `url`, after retries.
        `what` and `to` only name the call in logs (the number masked)."""
        last_error: Optional[ProviderError] = None
        for attempt in range(1, self.max_attempts + 1):
            retry_after = None
            try:
                async with self._get_session().post(url, json=body) as resp:
                    raw = await resp.read()
                    try:
                        return read(resp.status, raw)
                    except ProviderError as exc:
                        last_error = exc
                        if not exc.retryable:
                            raise
                        retry_after = resp.headers.get("Retry-After")
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
                # ValueError: an answer that is not the JSON it claims. The
                # exception's text names the host, never the headers.
                last_error = self.unreachable(exc)
            if attempt < self.max_attempts:
                delay = self._delay(attempt, retry_after)
                log.warning("Send of %s to %s failed (%s); retry %d in %.1fs", what, mask(to),
                            last_error, attempt, delay)
                await asyncio.sleep(delay)
        assert last_error is not None
        raise last_error
