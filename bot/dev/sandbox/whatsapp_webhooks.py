"""The simulator's calls to the bot: webhooks in the shape and with the
signature of the provider it plays (bot/dev/sandbox/provider_edge.py), each
attempt logged for `GET /sim/webhooks` in one shape whatever the provider.
Statuses ("message.updated") go to their own URL when one is given, as a
deployment with Recorda's status receiver subscribes them."""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Callable, Dict, List, Optional, Set

import aiohttp

from bot.dev.sandbox.whatsapp_messages import now_stamp

logger = logging.getLogger(__name__)

WEBHOOK_TIMEOUT = aiohttp.ClientTimeout(total=15)
Signer = Callable[[str, bytes], Dict[str, str]]  # (url, body) -> headers


STATUS = "message.updated"


# Seconds before each redelivery of a webhook the bot did not take (5xx, 429
# or unreachable), as providers redeliver: about two minutes in all.
REDELIVERY_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)


class WebhookSender:
    """POSTs signed bodies to the bot and logs every attempt: statuses to
    `status_url` if given, everything else to `url`. With `redeliver`, a
    delivery the bot did not take is tried again later, in the background."""

    def __init__(self, url: str, headers: Signer, status_url: Optional[str] = None,
                 redeliver: bool = False):
        self.url, self.headers = url, headers
        self.status_url = status_url or url
        self.redeliver = redeliver
        self.log: List[dict] = []
        self.session: Optional[aiohttp.ClientSession] = None  # opened on the server's loop
        self._redeliveries: Set[asyncio.Task] = set()

    async def post(self, kind: str, message: dict, body: dict, times: int = 1) -> List[Optional[int]]:
        """Delivers the same body `times` times; returns each HTTP status (None: unreachable).
        `kind` ("message.created" | "message.updated") and `message` are for the log."""
        raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
        statuses = [await self._post_once(kind, message, raw) for _ in range(times)]
        if self.redeliver and not _taken(statuses[-1]):
            task = asyncio.get_running_loop().create_task(self._redeliver(kind, message, raw))
            self._redeliveries.add(task)
            task.add_done_callback(self._redeliveries.discard)
        return statuses

    async def _redeliver(self, kind: str, message: dict, body: bytes) -> None:
        for delay in REDELIVERY_DELAYS:
            await asyncio.sleep(delay)
            if _taken(await self._post_once(kind, message, body)):
                return
        logger.error("webhook %s for %s given up after %d redeliveries", kind, message["id"],
                     len(REDELIVERY_DELAYS))

    async def _post_once(self, kind: str, message: dict, body: bytes) -> Optional[int]:
        url = self.status_url if kind == STATUS else self.url
        # Signed per delivery and for the URL called, like a provider's retry: the same body.
        headers = self.headers(url, body)
        status, error = None, None
        try:
            async with self.session.post(url, data=body, headers=headers) as reply:
                status = reply.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            error = str(exc) or type(exc).__name__
            logger.warning("webhook %s to %s failed: %s", kind, url, error)
        self.log.append({"type": kind, "message_id": message["id"],
                         "message_status": message["status"], "status_code": status,
                         "error": error, "url": url, "at": now_stamp()})
        return status


def _taken(status: Optional[int]) -> bool:
    """The bot has the webhook: anything but unreachable, 5xx or 429 (4xx is a final no)."""
    return status is not None and status < 500 and status != 429
