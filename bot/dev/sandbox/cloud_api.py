"""The simulator's Meta WhatsApp Cloud API edge (bot/dev/sandbox/provider_edge.py):
`POST /{version}/{phone_number_id}/messages` behind `Authorization: Bearer`
(its body checked by bot/dev/sandbox/cloud_api_checks.py), answered with the
message's `wamid.` id, and the `whatsapp_business_account` webhooks: the
citizen's messages (text, `interactive` button and list replies, `button`
taps on a template's quick replies, media) and the statuses sent,
delivered, read and failed (with pricing; error 131026 for a number without
WhatsApp), signed `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body
keyed with the app secret>`."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Dict, List

from sanic import response

from bot.dev.sandbox.cloud_api_checks import CloudError, check_send, whatsapp_error
from bot.dev.sandbox.provider_api import ApiError, json_body
from bot.dev.sandbox.provider_edge import Route

SIGNATURE_HEADER = "X-Hub-Signature-256"
VERSION = re.compile(r"v\d+\.\d+")
# The platform's failures (bot/dev/sandbox/citizen_behaviour.py) as Meta reports them.
FAILURES = {302: (131026, "Message undeliverable", "Message Undeliverable.")}
UNKNOWN_FAILURE = (131000, "Something went wrong", "Something went wrong.")
FAULTS = {429: (130429, "Rate limit hit", "Cloud API message throughput has been reached.", 2494055),
          500: (131000, "Something went wrong", "Something went wrong.", None),
          503: (131016, "Service unavailable", "A service is temporarily unavailable.", None)}
# Per-message pricing (PMP): templates are paid utility messages; free-form
# answers inside the citizen's 24 h window are free service messages.
TEMPLATE_PRICING = {"billable": True, "pricing_model": "PMP", "category": "utility", "type": "regular"}
SERVICE_PRICING = {"billable": False, "pricing_model": "PMP", "category": "service",
                   "type": "free_customer_service"}
MEDIA = {"image": ("image", "image/jpeg", {}), "audio": ("audio", "audio/ogg; codecs=opus", {"voice": True}),
         "whatsappSticker": ("sticker", "image/webp", {"animated": False})}


@dataclass(frozen=True)
class CloudAccount:
    """The business's Cloud API account; the defaults are the local stack's."""
    access_token: str = "sandbox-cloud-access-token"
    app_secret: str = "sandbox-cloud-app-secret-for-the-local-demo"
    phone_number_id: str = "109876543210987"
    display_phone_number: str = "15550001234"
    business_account_id: str = "102030405060708"


def sign(app_secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value of a raw webhook body."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def wa_id(msisdn: str) -> str:
    """A WhatsApp id: the E.164 number's digits, without the plus."""
    return msisdn.lstrip("+")


def unix_stamp(stamp: str) -> str:
    """The platform's ISO time as the Cloud API writes times: Unix seconds, as a string."""
    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return str(int(moment.timestamp()))


def _authorize(request, account: CloudAccount) -> None:
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {account.access_token}".encode()):
        raise CloudError(401, 190, "Invalid OAuth access token - Cannot parse access token")


async def send_message(request, version: str, phone_number_id: str):
    sim = request.app.ctx.sim
    account = sim.edge.account
    _authorize(request, account)
    if not VERSION.fullmatch(version):
        raise CloudError(400, 2500, f"Unknown path components: /{version}/{phone_number_id}/messages")
    if phone_number_id != account.phone_number_id:
        raise CloudError(400, 100, f"Unsupported post request. Object with ID '{phone_number_id}' does not "
                                   "exist, cannot be loaded due to missing permissions, or does not support "
                                   "this operation", subcode=33, kind="GraphMethodException")
    fault = sim.take_fault()
    if fault:
        raise sim.edge.fault(fault)
    body = _json_body(request)
    send = check_send(body, sim.templates)
    message = sim.send(send.recipient, send.kind, send.content)
    sent = {"id": message["id"]}
    if send.kind == "hsm":
        sent["message_status"] = "accepted"
    return response.json({"messaging_product": "whatsapp",
                          "contacts": [{"input": body["to"], "wa_id": wa_id(send.recipient)}],
                          "messages": [sent]})


def _json_body(request) -> dict:
    try:
        return json_body(request)
    except ApiError:  # MessageBird's refusal of a body that is no JSON object
        raise whatsapp_error(400, 100, "Invalid parameter", "The request body must be a JSON object.") from None


class CloudEdge:
    """Meta's side of the simulator, for one business phone number."""

    name = "whatsapp_cloud"

    def __init__(self, account: CloudAccount):
        self.account = account
        self.channel_id = account.phone_number_id

    def routes(self) -> List[Route]:
        return [(send_message, "/<version>/<phone_number_id>/messages", "POST")]

    def new_message_id(self) -> str:
        return "wamid." + base64.b64encode(b"\x15\x02\x00\x11\x18\x12" + secrets.token_bytes(24)).decode()

    def webhook_headers(self, url: str, body: bytes) -> Dict[str, str]:
        return {SIGNATURE_HEADER: sign(self.account.app_secret, body),
                "Content-Type": "application/json", "User-Agent": "facebookexternalua"}

    def fault(self, status: int) -> CloudError:
        code, title, details, subcode = FAULTS[status]
        return whatsapp_error(status, code, title, details, subcode=subcode)

    def http_error(self, status: int, description: str) -> CloudError:
        if status == 404:
            return CloudError(status, 2500, f"Unknown path components: {description}")
        return CloudError(status, 100, f"Unsupported request: {description}", kind="GraphMethodException")

    def webhook_body(self, kind: str, message: dict, contact) -> dict:
        if kind == "message.created":
            value = {"contacts": [{"profile": {"name": contact.name}, "wa_id": wa_id(contact.msisdn)}],
                     "messages": [self._inbound(message, contact.msisdn)]}
        else:
            value = {"statuses": [self._status(message, contact.msisdn)]}
        metadata = {"display_phone_number": self.account.display_phone_number,
                    "phone_number_id": self.account.phone_number_id}
        return {"object": "whatsapp_business_account",
                "entry": [{"id": self.account.business_account_id, "changes": [{
                    "value": {"messaging_product": "whatsapp", "metadata": metadata, **value},
                    "field": "messages"}]}]}

    def _status(self, message: dict, msisdn: str) -> dict:
        status = {"id": message["id"], "status": message["status"],
                  "timestamp": unix_stamp(message["updatedDatetime"]), "recipient_id": wa_id(msisdn)}
        if message["status"] == "failed":
            code, title, details = FAILURES.get((message.get("error") or {}).get("code"), UNKNOWN_FAILURE)
            status["errors"] = [{"code": code, "title": title, "message": title,
                                 "error_data": {"details": details}}]
        elif message["status"] in ("sent", "delivered"):  # a read receipt carries no pricing
            status["pricing"] = dict(TEMPLATE_PRICING if message["type"] == "hsm" else SERVICE_PRICING)
        return status

    def _inbound(self, message: dict, msisdn: str) -> dict:
        inbound = {"from": wa_id(msisdn), "id": message["id"],
                   "timestamp": unix_stamp(message["createdDatetime"])}
        if message.get("replyTo"):
            inbound["context"] = {"from": self.account.display_phone_number, "id": message["replyTo"]["id"]}
        inbound.update(_inbound_content(message["type"], message["content"]))
        return inbound


def _inbound_content(kind: str, content: dict) -> dict:
    """The platform's content of a citizen's message as the Cloud API writes it."""
    if kind == "text":
        return {"type": "text", "text": {"body": content["text"]}}
    if kind == "interactive":
        reply_type, reply = content["interactive"]["type"], content["interactive"]["reply"]
        listed = {"id": reply["id"], "title": reply["text"]}
        if reply.get("description"):
            listed["description"] = reply["description"]
        return {"type": "interactive", "interactive": {"type": reply_type, reply_type: listed}}
    if kind == "button":
        return {"type": "button", "button": {"payload": content["button"]["payload"],
                                             "text": content["button"]["text"]}}
    if kind == "location":
        return {"type": "location", "location": dict(content["location"])}
    if kind in MEDIA:
        name, mime_type, extra = MEDIA[kind]
        url = content[kind].get("url") or content[kind].get("link")
        digest = hashlib.sha256(url.encode()).digest()
        # Meta hands out media ids (fetched through the Graph API), never URLs.
        return {"type": name, name: {"id": str(int.from_bytes(digest[:6], "big")), "mime_type": mime_type,
                                     "sha256": base64.b64encode(digest).decode(), **extra}}
    return {"type": "unsupported", "errors": [{"code": 131051, "title": "Message type unknown",
                                               "message": "Message type unknown",
                                               "error_data": {"details": "Message type is not currently supported"}}]}
