"""Starts bot turns in a conversation from outside (the daily job, the retry
queue) through Rasa's HTTP API: `trigger_intent` with an EXTERNAL_ intent,
sent through the named output channel: the deployment's WhatsApp channel
(RECORDA_WHATSAPP_CHANNEL, `Settings.whatsapp_channel`), since `latest`
cannot work for a first message (see docs/architecture.md)."""
from __future__ import annotations

from typing import Any, Dict, Optional
from urllib.parse import quote

import aiohttp


class RasaUnavailable(Exception):
    """Rasa could not be reached or failed; the caller may retry."""


def rasa_session(limit: int = 100, **session_options: Any) -> aiohttp.ClientSession:
    """A client session for Rasa that opens a new connection for each request.
    Rasa's Sanic workers share one listening socket, and a kept-alive
    connection stays with the worker that accepted it, so a handful of kept
    connections can all land on one worker while the others idle (half the
    2-worker tap runs of bench/README.md). A new one is accepted by a worker
    that is free, at the cost of a local TCP handshake."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit, force_close=True),
                                 **session_options)


async def trigger_intent(session: aiohttp.ClientSession, rasa_url: str, token: str,
                         conversation_id: str, intent: str, entities: Dict[str, Any],
                         output_channel: str,
                         timeout: float = 30.0) -> Optional[dict]:
    # "+" stays literal: Sanic does not unquote path parameters, and the
    # conversation id must equal the E.164 sender id the connector uses.
    url = f"{rasa_url}/conversations/{quote(conversation_id, safe='+')}/trigger_intent"
    params = {"output_channel": output_channel}
    if token:
        params["token"] = token
    try:
        async with session.post(url, params=params, json={"name": intent, "entities": entities},
                                timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            if resp.status >= 500:
                raise RasaUnavailable(f"Rasa answered {resp.status}: {(await resp.text())[:200]}")
            if resp.status >= 400:
                raise ValueError(f"Rasa refused trigger_intent ({resp.status}): {(await resp.text())[:300]}")
            return await resp.json()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise RasaUnavailable(f"Rasa unreachable at {rasa_url}: {exc!r}") from exc
