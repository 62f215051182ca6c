"""Recorda's status receiver: the delivery statuses of the WhatsApp channel,
off Rasa's event loop.

    python -m bot.apps.status_receiver [--host 127.0.0.1] [--port 5006] [--credentials credentials.yml]

Every message Recorda sends comes back as three statuses (sent, delivered,
read). Handled by Rasa's channel webhook they would queue in Rasa's one event
loop with the citizens' messages; here they get a process of their own
(SANIC_WORKERS for more processes), built from the same channel as Rasa's
(RECORDA_WHATSAPP_CHANNEL, its credentials.yml section and environment
overrides), which it uses for what it does the same way:

    POST /webhooks/<channel>/statuses   the same size cap, signature check,
                                        receipts and reminder state machine,
                                        and the same answers, as the channel's
                                        webhook
    GET  /webhooks/whatsapp_cloud/statuses   Meta's subscription handshake
    GET  /health

A body that carries a citizen's message goes to Rasa's channel webhook
(RECORDA_RASA_URL) unchanged, with its signature, and Rasa's answer comes back
(bot/apps/rasa_handover.py): Meta's Cloud API calls one URL with both. That
cannot work where the signature covers the URL called (MessageBird): such a
message is refused with 421 and a log line that says to subscribe
message.created to Rasa's webhook, and message.updated only to this one.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from typing import Dict, List, Optional, Type

import aiohttp
from rasa.shared.constants import DEFAULT_CREDENTIALS_PATH
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import patches
from bot.apps.operations import forget_worker_on_stop, start_process
from bot.apps.rasa_handover import HANDOVER_TIMEOUT, hand_over
from bot.foundation.health import database_check
from bot.foundation.operations_routes import add_operations_routes
from bot.foundation.settings import Settings, check_whatsapp_channel
from bot.messaging.inbound import InboundMessage, StatusUpdate
from bot.messaging.rasa_client import rasa_session
from connectors.messagebird import MessageBirdInput
from connectors.webhook_operations import note_message_handed_over, timed_webhook
from connectors.whatsapp_channel import VerifiedWebhook, WhatsAppInput, webhook_answer
from connectors.whatsapp_cloud import WhatsAppCloudInput

log = logging.getLogger("recorda.status_receiver")

CHANNELS: Dict[str, Type[WhatsAppInput]] = {"messagebird": MessageBirdInput,
                                            "whatsapp_cloud": WhatsAppCloudInput}
DEFAULT_PORT = 5006
MISDIRECTED = 421  # the request reached a server that cannot answer it for that URL


def sanic_workers() -> int:
    """SANIC_WORKERS, the variable Rasa reads too: its processes share
    nothing but the database, so any number works; 1 when unset or invalid."""
    value = os.environ.get("SANIC_WORKERS", "1")
    if value.isascii() and value.isdigit() and int(value) >= 1:
        return int(value)
    log.warning("SANIC_WORKERS is %r, not a number of processes: one worker", value)
    return 1


def status_path(channel_name: str) -> str:
    return f"/webhooks/{channel_name}/statuses"


def channel_from_credentials(channel_name: str, credentials_path: str) -> WhatsAppInput:
    """The channel Rasa builds from the same file: its section of the
    credentials (read, ${VARIABLES} and all, by Rasa's own reader) and the
    environment overrides of the channel's from_credentials."""
    channel_class = CHANNELS[check_whatsapp_channel(channel_name)]
    from rasa.shared.utils.io import read_config_file
    credentials = read_config_file(credentials_path) or {}
    return channel_class.from_credentials(credentials.get(f"{channel_class.__module__}.{channel_class.__name__}"))


def create_app(channel: WhatsAppInput, rasa_url: str, name: str = "recorda_status_receiver",
               handover_timeout: aiohttp.ClientTimeout = HANDOVER_TIMEOUT) -> Sanic:
    rasa_webhook = f"{rasa_url.rstrip('/')}/webhooks/{channel.name()}/webhook"
    app = Sanic(name, configure_logging=False)
    webhooks = Blueprint(f"{name}_webhooks", url_prefix=f"/webhooks/{channel.name()}")

    @app.get("/health")
    async def health(_: Request) -> HTTPResponse:
        return response.json({"status": "ok", "channel": channel.name()})

    # Streamed: the channel reads the body within its cap, as on Rasa's webhook.
    @webhooks.post("/statuses", stream=True)
    @timed_webhook(channel.name())
    async def receive(request: Request) -> HTTPResponse:
        read = await channel.read_webhook(request, channel.status_webhook_url)
        if isinstance(read, HTTPResponse):
            return read  # refused (400, 401, 413) and logged by the channel
        if any(isinstance(event, InboundMessage) for event in read.events):
            note_message_handed_over(request)
            return await message_to_rasa(request, read)
        # Shielded: a provider that stops waiting must not cut a status's recording short.
        return await asyncio.shield(record_statuses([e for e in read.events if isinstance(e, StatusUpdate)]))

    async def message_to_rasa(request: Request, read: VerifiedWebhook) -> HTTPResponse:
        if channel.signature_covers_url:
            log.warning("A %s webhook with a citizen's message reached the status receiver and was refused: "
                        "its signature names this URL, so Rasa cannot take it from here. Subscribe "
                        "message.created to Rasa's webhook (its public webhook_url; here %s), and only "
                        "message.updated to this one (%s)",
                        channel.provider, rasa_webhook, request.url)
            return response.json({"error": "citizens' messages go to Rasa's webhook "
                                           f"/webhooks/{channel.name()}/webhook"}, status=MISDIRECTED)
        headers = {"Content-Type": request.headers.get("content-type", "application/json")}
        signature = request.headers.get(channel.signature_header)
        if signature is not None:
            headers[channel.signature_header] = signature
        return await hand_over(app.ctx.session, rasa_webhook, read.raw, headers)

    async def record_statuses(statuses: List[StatusUpdate]) -> HTTPResponse:
        outcomes = []
        for status in statuses:
            try:
                outcomes.append(await channel.record_status(status))
            except Exception:
                # Its receipt is forgotten: the provider's redelivery records it.
                log.exception("Could not record the %s status of message %s", status.status, status.message_id)
                return response.json({"error": "could not record the status"}, status=500)
        return webhook_answer(outcomes)

    channel.add_routes(webhooks, "/statuses")  # Meta's handshake, where the provider has one
    app.blueprint(webhooks)
    # GET /ready (its database answers) and /metrics; /health is above.
    store = channel.receipts or channel.reminders
    add_operations_routes(app, [database_check(store.engine)] if store is not None else [], health=False)

    @app.before_server_start
    async def open_session(app: Sanic, _loop) -> None:
        app.ctx.session = rasa_session(timeout=handover_timeout)

    @app.after_server_stop
    async def close_session(app: Sanic, _loop) -> None:
        await app.ctx.session.close()

    async def error(request: Request, exception: Exception) -> HTTPResponse:
        if isinstance(exception, SanicException):  # 404, 405...: said as it is
            return response.json({"error": str(exception)}, status=exception.status_code)
        log.error("Status receiver error on %s", request.path, exc_info=exception)
        return response.json({"error": "internal error"}, status=500)

    app.error_handler.add(Exception, error)
    return app


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--credentials", default=DEFAULT_CREDENTIALS_PATH,
                        help="Rasa's credentials file, with the channel's section (default: credentials.yml)")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        channel = channel_from_credentials(settings.whatsapp_channel, args.credentials)
    except (ValueError, RasaException, RuntimeError) as exc:
        print(f"Recorda's status receiver cannot start: {exc}", file=sys.stderr)
        return 2
    patches.apply_to_sanic()
    app = create_app(channel, settings.rasa_url)
    start_process("status_receiver")  # logs (RECORDA_LOG_FORMAT) and metrics
    forget_worker_on_stop(app)
    log.info("Status receiver of the %s channel on http://%s:%s%s; citizens' messages go on to %s",
             channel.name(), args.host, args.port, status_path(channel.name()), settings.rasa_url)
    app.run(host=args.host, port=args.port, workers=sanic_workers(), access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
