"""The simulator's calls to the bot: signed `message.created` /
`message.updated` webhooks, as MessageBird sends them, each attempt logged
for `GET /sim/webhooks`."""
from __future__ import annotations

import asyncio
import json
import logging
from typing import List, Optional

import aiohttp

from bot.dev.sandbox.whatsapp_messages import now_stamp
from connectors.messagebird_signature import HEADER as SIGNATURE_HEADER
from connectors.messagebird_signature import sign_webhook

logger = logging.getLogger(__name__)

WEBHOOK_TIMEOUT = aiohttp.ClientTimeout(total=15)


class WebhookSender:
    """POSTs signed events to the bot and logs every attempt."""

    def __init__(self, url: str, signing_key: str):
        self.url, self.signing_key = url, signing_key
        self.log: List[dict] = []
        self.session: Optional[aiohttp.ClientSession] = None  # opened on the server's loop

    async def post(self, event: dict, times: int = 1) -> List[Optional[int]]:
        """Delivers the same body `times` times; returns each HTTP status (None: unreachable)."""
        body = json.dumps(event, ensure_ascii=False).encode("utf-8")
        return [await self._post_once(event, body) for _ in range(times)]

    async def _post_once(self, event: dict, body: bytes) -> Optional[int]:
        # Signed per delivery, like a provider's retry: a fresh token, the same body.
        headers = {SIGNATURE_HEADER: sign_webhook(self.signing_key, self.url, body),
                   "Content-Type": "application/json"}
        status, error = None, None
        try:
            async with self.session.post(self.url, data=body, headers=headers) as reply:
                status = reply.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            error = str(exc) or type(exc).__name__
            logger.warning("webhook %s to %s failed: %s", event["type"], self.url, error)
        message = event["message"]
        self.log.append({"type": event["type"], "message_id": message["id"],
                         "message_status": message["status"], "status_code": status,
                         "error": error, "at": now_stamp()})
        return status
