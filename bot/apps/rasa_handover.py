"""Hands a provider's webhook on to Rasa's channel webhook unchanged: the
raw body and the provider's signature header, which the channel checks again
as if the provider had called it, and gives back Rasa's answer. The status
receiver (bot/apps/status_receiver.py) does this with a body that carries a
citizen's message. A Rasa that is down or too slow gets the provider a 5xx,
so the provider delivers the webhook again and nothing is lost; the
channel's receipts make a redelivery that Rasa already handled a duplicate."""
from __future__ import annotations

import asyncio
import logging
from typing import Dict

import aiohttp
from sanic import response
from sanic.response import HTTPResponse

log = logging.getLogger(__name__)

# Rasa answers a message once the assistant has answered it: a few seconds.
HANDOVER_TIMEOUT = aiohttp.ClientTimeout(total=15)
MAX_ANSWER_BYTES = 64 * 1024  # Rasa's channel answers a small JSON


async def hand_over(session: aiohttp.ClientSession, url: str, raw: bytes,
                    headers: Dict[str, str]) -> HTTPResponse:
    """POSTs `raw` with `headers` to `url`: Rasa's answer (status, body,
    content type) as it is; 502 when Rasa cannot be reached, 504 when it
    does not answer in time."""
    try:
        async with session.post(url, data=raw, headers=headers) as reply:
            body = await reply.content.read(MAX_ANSWER_BYTES)
            return response.raw(body, status=reply.status,
                                content_type=reply.headers.get("Content-Type", "application/json"))
    except asyncio.TimeoutError:
        log.warning("Rasa did not answer a handed-over webhook in time (%s); the provider will redeliver", url)
        return response.json({"error": "Rasa did not answer in time"}, status=504)
    except aiohttp.ClientError as exc:
        log.warning("Rasa is unreachable at %s (%s); the provider will redeliver", url, exc)
        return response.json({"error": "Rasa is unreachable"}, status=502)
