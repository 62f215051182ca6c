"""Helpers for tests of the WhatsApp Cloud API channel: Meta-shaped webhook
bodies, a stand-in for the Graph API that answers like Meta, and the channel's
real blueprint on a real Sanic server, posted to with valid (or invalid)
signatures.

    meta = await MetaApi().start()
    hook = await CloudWebhook(db_url, meta.api_url).start()     # in the test's loop
    status, answer = await hook.post(envelope(message("text", text={"body": "hola"})))
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import aiohttp
from aiohttp import web

from connectors.whatsapp_cloud import WhatsAppCloudInput
from connectors.whatsapp_cloud_signature import HEADER, sign
from tests.support.channel_harness import ChannelHarness
from tests.support.recording_server import RecordingServer

APP_SECRET = "test-app-secret-0123456789abcdef"
VERIFY_TOKEN = "test-verify-token"
ACCESS_TOKEN = "EAAG-test-access-token-never-logged"
PHONE_NUMBER_ID = "106540352242922"
API_VERSION = "v24.0"
CITIZEN = "+34612345678"
WA_ID = "34612345678"
WEBHOOK_PATH = "/webhooks/whatsapp_cloud/webhook"
MESSAGES_PATH = f"/{API_VERSION}/{PHONE_NUMBER_ID}/messages"
NO_PROVIDER = "http://127.0.0.1:9"


# --- bodies -----------------------------------------------------------------------
def message(kind: str, message_id: str = "wamid.in-1", sender: str = WA_ID, **parts) -> dict:
    """An inbound message; `parts` are its kind's objects (text={"body": ...})."""
    return {"from": sender, "id": message_id, "timestamp": "1764493200", "type": kind, **parts}


def status(message_id: str, status_: str, timestamp: str = "1764493201", **extra) -> dict:
    return {"id": message_id, "status": status_, "timestamp": timestamp, "recipient_id": WA_ID, **extra}


def change(messages: List[dict] = (), statuses: List[dict] = (), field: str = "messages") -> dict:
    value: Dict[str, Any] = {"messaging_product": "whatsapp",
                             "metadata": {"display_phone_number": "34930000000",
                                          "phone_number_id": PHONE_NUMBER_ID}}
    if messages:
        value["contacts"] = [{"profile": {"name": "Montse"}, "wa_id": m["from"]} for m in messages]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return {"field": field, "value": value}


def envelope(*items: dict, entries: Optional[List[List[dict]]] = None) -> dict:
    """A webhook body: one entry with a change holding the messages and
    statuses among `items`, or `entries` given as lists of changes."""
    if entries is None:
        messages = [i for i in items if "from" in i]
        statuses = [i for i in items if "status" in i]
        entries = [[change(messages, statuses)]]
    return {"object": "whatsapp_business_account",
            "entry": [{"id": f"WABA{n}", "changes": changes} for n, changes in enumerate(entries)]}


def tap(payload: str, title: str = "Anul·la", kind: str = "button_reply", **extra) -> dict:
    return message("interactive", interactive={"type": kind, kind: {"id": payload, "title": title}}, **extra)


def meta_error(code: int, details: str, http_message: str = "(#{code}) error") -> dict:
    return {"error": {"message": http_message.format(code=code), "type": "OAuthException", "code": code,
                      "error_data": {"messaging_product": "whatsapp", "details": details},
                      "fbtrace_id": "AbCdEf123"}}


# --- Meta's API ---------------------------------------------------------------------
@dataclass
class MetaApi(RecordingServer):
    """Records what is sent; answers scripted replies, then Meta's success."""

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.Response:
        if not self.script:
            number = len(self.requests) + 1
            self.script.append((200, {"messaging_product": "whatsapp",
                                      "contacts": [{"input": CITIZEN, "wa_id": WA_ID}],
                                      "messages": [{"id": f"wamid.out-{number:04d}"}]}, {}))
        return await super()._handle(request)

    def messages(self) -> List[dict]:
        return [r.body for r in self.requests if r.path == MESSAGES_PATH]


# --- the channel ----------------------------------------------------------------------
class CloudWebhook(ChannelHarness):
    """The channel's blueprint on a real Sanic server; what it hands to Rasa
    is kept in `received`."""

    def __init__(self, db_url: Optional[str], api_url: str = NO_PROVIDER, **channel_options):
        super().__init__(WhatsAppCloudInput(
            api_url=api_url, api_version=API_VERSION, phone_number_id=PHONE_NUMBER_ID,
            access_token=ACCESS_TOKEN, app_secret=APP_SECRET, verify_token=VERIFY_TOKEN,
            db_url=db_url, seal_secret="test-seal-secret", **channel_options))

    async def post(self, body: Any, secret: str = APP_SECRET, raw: Optional[bytes] = None,
                   signature: Optional[str] = None, signed_body: Optional[bytes] = None) -> Tuple[int, Any]:
        """POSTs `body` (or `raw`) signed with `secret` over `signed_body`
        (default: what is sent); signature="none" sends no header."""
        data = raw if raw is not None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        signature = signature or sign(secret, signed_body if signed_body is not None else data)
        if signature != "none":
            headers[HEADER] = signature
        async with aiohttp.ClientSession() as session:
            async with session.post(self.url, data=data, headers=headers) as resp:
                return resp.status, await resp.json(content_type=None)

    async def get(self, params: Dict[str, str]) -> Tuple[int, str]:
        async with aiohttp.ClientSession() as session:
            async with session.get(self.url, params=params) as resp:
                return resp.status, await resp.text()
