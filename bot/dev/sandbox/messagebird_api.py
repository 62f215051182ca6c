"""The simulator's MessageBird edge (bot/dev/sandbox/provider_edge.py): the
Conversations API the MessageBird channel calls (`POST /v1/send`,
`GET /v1/messages/{id}`, `Authorization: AccessKey ...`, MessageBird's error
envelope) and its `message.created` / `message.updated` webhooks, signed
with a `MessageBird-Signature-JWT`."""
from __future__ import annotations

from typing import Dict, List

from sanic import response

from bot.dev.sandbox.provider_api import ApiError, authorize, json_body
from bot.dev.sandbox.provider_edge import Route
from bot.dev.sandbox.whatsapp_checks import check_send
from bot.dev.sandbox.whatsapp_messages import new_id
from connectors.messagebird_signature import HEADER as SIGNATURE_HEADER
from connectors.messagebird_signature import sign_webhook

FAULTS = {429: (429, "Too many requests"), 500: (99, "Internal error"),
          503: (99, "Service temporarily unavailable")}


async def send_message(request):
    authorize(request)
    sim = request.app.ctx.sim
    fault = sim.take_fault()
    if fault:
        raise sim.edge.fault(fault)
    body = json_body(request)
    recipient = check_send(body, sim.channel_id, sim.templates)
    message = sim.send(recipient, body["type"], body["content"])
    return response.json({"id": message["id"], "status": "accepted"}, status=202)


async def read_message(request, message_id: str):
    authorize(request)
    message = request.app.ctx.sim.messages.get(message_id)
    if message is None:
        raise ApiError(404, 20, "message not found", "id")
    return response.json(message)


class MessageBirdEdge:
    """MessageBird's side of the simulator, for one WhatsApp channel."""

    name = "messagebird"

    def __init__(self, signing_key: str, channel_id: str):
        self.signing_key, self.channel_id = signing_key, channel_id

    def routes(self) -> List[Route]:
        return [(send_message, "/v1/send", "POST"),
                (read_message, "/v1/messages/<message_id>", "GET")]

    def new_message_id(self) -> str:
        return new_id()

    def webhook_body(self, kind: str, message: dict, contact) -> dict:
        return {"type": kind,
                "contact": {"id": contact.id, "msisdn": int(contact.msisdn.lstrip("+")),
                            "displayName": contact.name},
                "conversation": dict(contact.conversation),
                "message": message}

    def webhook_headers(self, url: str, body: bytes) -> Dict[str, str]:
        # A fresh token per delivery: it binds the URL and the body, and expires.
        return {SIGNATURE_HEADER: sign_webhook(self.signing_key, url, body),
                "Content-Type": "application/json"}

    def fault(self, status: int) -> ApiError:
        code, description = FAULTS[status]
        return ApiError(status, code, description, headers={"Retry-After": "0"} if status == 429 else None)

    def http_error(self, status: int, description: str) -> ApiError:
        return ApiError(status, 20 if status == 404 else 21, description)
