"""The simulator's calls to the bot: webhooks in the shape and with the
signature of the provider it plays (bot/dev/sandbox/provider_edge.py), each
attempt logged for `GET /sim/webhooks` in one shape whatever the provider."""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Callable, Dict, List, Optional

import aiohttp

from bot.dev.sandbox.whatsapp_messages import now_stamp

logger = logging.getLogger(__name__)

WEBHOOK_TIMEOUT = aiohttp.ClientTimeout(total=15)
Signer = Callable[[str, bytes], Dict[str, str]]  # (url, body) -> headers


class WebhookSender:
    """POSTs signed bodies to the bot and logs every attempt."""

    def __init__(self, url: str, headers: Signer):
        self.url, self.headers = url, headers
        self.log: List[dict] = []
        self.session: Optional[aiohttp.ClientSession] = None  # opened on the server's loop

    async def post(self, kind: str, message: dict, body: dict, times: int = 1) -> List[Optional[int]]:
        """Delivers the same body `times` times; returns each HTTP status (None: unreachable).
        `kind` ("message.created" | "message.updated") and `message` are for the log."""
        raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
        return [await self._post_once(kind, message, raw) for _ in range(times)]

    async def _post_once(self, kind: str, message: dict, body: bytes) -> Optional[int]:
        # Signed per delivery, like a provider's retry: the same body.
        headers = self.headers(self.url, body)
        status, error = None, None
        try:
            async with self.session.post(self.url, data=body, headers=headers) as reply:
                status = reply.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            error = str(exc) or type(exc).__name__
            logger.warning("webhook %s to %s failed: %s", kind, self.url, error)
        self.log.append({"type": kind, "message_id": message["id"],
                         "message_status": message["status"], "status_code": status,
                         "error": error, "at": now_stamp()})
        return status
