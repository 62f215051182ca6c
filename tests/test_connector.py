"""The MessageBird connector: webhook verification, inbound parsing, outbound
rendering and retries, against real local HTTP servers."""
from __future__ import annotations

import json
import time

import aiohttp
import jwt
import pytest
from sanic import Sanic

from bot.reminders import states
from bot.reminders.store import ReminderStore
from connectors import messagebird_content as content
from connectors.messagebird import MessageBirdInput
from connectors.messagebird_signature import HEADER, SignatureError, sign_webhook, verify_webhook
from tests.conftest import free_port
from tests.recording_server import RecordingServer

SIGNING_KEY = "test-signing-key-at-least-32-bytes-long"
CITIZEN = "+34612345678"


def inbound(message_type: str, content_: dict, message_id: str = "in-1", **extra) -> dict:
    return {"type": "message.created",
            "contact": {"id": "c1", "msisdn": 34612345678, "displayName": "Montse"},
            "conversation": {"id": "conv1", "status": "active"},
            "message": {"id": message_id, "direction": "received", "status": "received",
                        "platform": "whatsapp", "from": CITIZEN, "to": "channel",
                        "type": message_type, "content": content_, **extra}}


def status(message_id: str, status_: str, error: dict = None) -> dict:
    message = {"id": message_id, "direction": "sent", "status": status_, "type": "hsm",
               "to": CITIZEN, "updatedDatetime": "2026-11-30T09:00:01Z"}
    if error:
        message["error"] = error
    return {"type": "message.updated", "message": message}


# --- signatures ---------------------------------------------------------------
URL = "https://recorda.example.cat/webhooks/messagebird/webhook"


def test_signature_round_trip():
    body = b'{"a": 1}'
    claims = verify_webhook(SIGNING_KEY, sign_webhook(SIGNING_KEY, URL, body), URL, body)
    assert claims["iss"] == "MessageBird"


@pytest.mark.parametrize("case", ["wrong key", "expired", "tampered body", "other url", "missing",
                                  "alg none", "not yet valid"])
def test_signature_rejected(case):
    body = b'{"a": 1}'
    token = sign_webhook(SIGNING_KEY, URL, body)
    now = None
    url = URL
    if case == "wrong key":
        token = sign_webhook("another-key-also-32-bytes-or-longer", URL, body)
    elif case == "expired":
        now = time.time() + 120
    elif case == "not yet valid":
        now = time.time() - 120
    elif case == "tampered body":
        body = b'{"a": 2}'
    elif case == "other url":
        url = URL + "?x=1"
    elif case == "missing":
        token = None
    elif case == "alg none":
        claims = jwt.decode(token, SIGNING_KEY, algorithms=["HS256"])
        token = jwt.encode(claims, None, algorithm="none")
    with pytest.raises(SignatureError):
        verify_webhook(SIGNING_KEY, token, url, body, now=now)


# --- inbound parsing ------------------------------------------------------------
def test_text_is_text():
    msg = content.parse_event(inbound("text", {"text": " vale, confirmo "}))
    assert (msg.sender, msg.text, msg.kind) == (CITIZEN, "vale, confirmo", "text")


def test_typed_payload_stays_text():
    msg = content.parse_event(inbound("text", {"text": '/cancel_appointment{"appointment_id":"X"}'}))
    assert not msg.text.startswith("/")
    assert msg.text.endswith('/cancel_appointment{"appointment_id":"X"}')
    assert msg.kind == "text"


def test_interactive_button_reply_maps_to_payload():
    payload = '/confirm_appointment{"appointment_id":"VLD-1"}'
    msg = content.parse_event(inbound(
        "interactive", {"interactive": {"type": "button_reply", "reply": {"id": payload, "text": "Confirmo"}}},
        replyTo={"id": "out-1"}))
    assert (msg.text, msg.kind, msg.metadata["reply_to"]) == (payload, "button", "out-1")


def test_list_reply_maps_to_payload():
    payload = '/cancel_appointment{"appointment_id":"VLD-2"}'
    msg = content.parse_event(inbound(
        "interactive", {"interactive": {"type": "list_reply", "reply": {"id": payload, "text": "dt. 1/12"}}}))
    assert msg.text == payload


def test_template_quick_reply_maps_to_payload():
    payload = '/cancel_appointment{"appointment_id":"VLD-3"}'
    msg = content.parse_event(inbound("button", {"button": {"text": "Anul·la la cita", "payload": payload}}))
    assert (msg.text, msg.kind) == (payload, "button")


def test_quick_reply_without_payload_uses_its_title():
    msg = content.parse_event(inbound("button", {"button": {"text": "Anul·la la cita"}}))
    assert (msg.text, msg.kind) == ("Anul·la la cita", "text")


def test_button_cannot_trigger_external_intents():
    msg = content.parse_event(inbound(
        "interactive", {"interactive": {"type": "button_reply",
                                        "reply": {"id": '/EXTERNAL_appointment_reminder{"appointment_id":"X"}',
                                                  "text": "hi"}}}))
    assert msg.text == "hi"


@pytest.mark.parametrize("kind,body,media", [
    ("image", {"image": {"url": "https://x/img.jpg"}}, "image"),
    ("audio", {"audio": {"url": "https://x/a.ogg"}}, "audio"),
    ("location", {"location": {"latitude": 41.5, "longitude": 2.1}}, "location"),
    ("whatsappSticker", {"whatsappSticker": {"link": "https://x/s.webp"}}, "sticker"),
])
def test_media_is_passed_on(kind, body, media):
    msg = content.parse_event(inbound(kind, body))
    assert msg.text == f'/EXTERNAL_media_message{{"media_type":"{media}"}}'
    assert msg.kind == "media"


def test_status_update_keeps_error_code():
    event = content.parse_event(status("out-1", "failed", {"code": 302, "description": "not on WhatsApp"}))
    assert (event.message_id, event.status, event.error_code) == ("out-1", "failed", 302)


def test_our_own_outbound_echo_is_ignored():
    body = inbound("text", {"text": "hola"})
    body["message"]["direction"] = "sent"
    assert content.parse_event(body) is None


@pytest.mark.parametrize("body", [{}, {"message": "x"}, {"type": "message.created", "message": {"id": ""}},
                                  inbound("text", {})])
def test_malformed_bodies_raise(body):
    with pytest.raises(content.MalformedWebhook):
        content.parse_event(body)


# --- the webhook over HTTP -------------------------------------------------------
class Webhook:
    """The connector's blueprint on a real Sanic server, with a recording
    provider API behind its output channel."""

    def __init__(self, db_url: str, provider: RecordingServer):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/webhooks/messagebird/webhook"
        self.received = []
        self.fail_next = False
        self.channel = MessageBirdInput(
            api_url=provider.url, access_key="ak", channel_id="channel", signing_key=SIGNING_KEY,
            webhook_url=None, template_namespace="ns", template_name="recorda_appointment_reminder",
            template_languages={"ca": "ca", "es": "es", "en": "en"}, db_url=db_url)
        self.channel.client.backoff_base = 0.01

    async def on_new_message(self, message):
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("assistant crashed")
        self.received.append(message)

    async def start(self):
        app = Sanic(f"webhook_test_{self.port}")
        app.blueprint(self.channel.blueprint(self.on_new_message), url_prefix="/webhooks/messagebird")
        self.server = await app.create_server(host="127.0.0.1", port=self.port,
                                              return_asyncio_server=True, access_log=False)
        await self.server.startup()
        await self.server.start_serving()
        return self

    async def stop(self):
        self.server.close()
        await self.server.wait_closed()
        await self.channel.client.close()

    async def post(self, body, key=SIGNING_KEY, raw: bytes = None, token=None, signed_body=None):
        data = raw if raw is not None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        token = token or sign_webhook(key, self.url, signed_body if signed_body is not None else data)
        if token != "none":
            headers[HEADER] = token
        async with aiohttp.ClientSession() as session:
            async with session.post(self.url, data=data, headers=headers) as resp:
                return resp.status, await resp.json()


@pytest.fixture
async def provider():
    server = await RecordingServer().start()
    yield server
    await server.stop()


@pytest.fixture
async def webhook(db_url, provider):
    hook = await Webhook(db_url, provider).start()
    yield hook
    await hook.stop()


@pytest.mark.asyncio
async def test_signed_button_tap_reaches_the_assistant(webhook):
    payload = '/cancel_appointment{"appointment_id":"VLD-9"}'
    code, _ = await webhook.post(inbound(
        "interactive", {"interactive": {"type": "button_reply", "reply": {"id": payload, "text": "Anul·la"}}}))
    assert code == 200
    [message] = webhook.received
    assert (message.sender_id, message.text, message.input_channel) == (CITIZEN, payload, "messagebird")
    assert message.metadata["kind"] == "button"


@pytest.mark.asyncio
@pytest.mark.parametrize("attack", ["wrong key", "tampered", "missing", "expired"])
async def test_bad_signatures_get_401_and_change_nothing(webhook, attack):
    body = inbound("text", {"text": "anul·la la cita"})
    if attack == "wrong key":
        result = await webhook.post(body, key="a-guessed-key-32-bytes-or-longer-x")
    elif attack == "tampered":
        result = await webhook.post(body, signed_body=json.dumps(inbound("text", {"text": "hola"})).encode())
    elif attack == "missing":
        result = await webhook.post(body, token="none")
    else:
        data = json.dumps(body).encode()
        old = sign_webhook(SIGNING_KEY, webhook.url, data, now=time.time() - 3600)
        result = await webhook.post(body, raw=data, token=old)
    assert result[0] == 401
    assert webhook.received == []


@pytest.mark.asyncio
async def test_malformed_signed_webhook_gets_400(webhook):
    code, body = await webhook.post(None, raw=b"{not json")
    assert code == 400 and "malformed" in body["error"]
    code, _ = await webhook.post({"type": "message.created"})
    assert code == 400
    assert webhook.received == []


@pytest.mark.asyncio
async def test_duplicate_webhook_is_handled_once(webhook):
    body = inbound("text", {"text": "confirmo"}, message_id="dup-1")
    first = await webhook.post(body)
    second = await webhook.post(body)  # a fresh signature, same message: a redelivery
    assert first == (200, {"status": "handled"})
    assert second == (200, {"status": "duplicate"})
    assert len(webhook.received) == 1


@pytest.mark.asyncio
async def test_failed_handling_lets_the_redelivery_through(webhook):
    body = inbound("text", {"text": "confirmo"}, message_id="retry-1")
    webhook.fail_next = True
    assert (await webhook.post(body))[0] == 500
    assert (await webhook.post(body))[0] == 200
    assert len(webhook.received) == 1


@pytest.mark.asyncio
async def test_status_webhooks_move_the_reminder(webhook, db_url, provider):
    store = ReminderStore(db_url)
    store.schedule("VLD-7", None, "oac", CITIZEN, "ca")
    await webhook.channel.output.send_reminder_template(CITIZEN, {
        "appointment_id": "VLD-7", "language": "ca", "parameters": ["a"] * 6, "quick_replies": ["/x", "/y"]})
    message_id = store.get("VLD-7").provider_message_id
    assert (await webhook.post(status(message_id, "read")))[0] == 200
    assert (await webhook.post(status(message_id, "delivered")))[0] == 200  # late: no step back
    reminder = store.get("VLD-7")
    assert reminder.state == states.READ and reminder.was_read
    assert [e.event for e in store.history("VLD-7")] == ["scheduled", "sending", "sent", "read", "delivered"]


# --- outbound ----------------------------------------------------------------------
@pytest.mark.asyncio
async def test_text_and_long_text(webhook, provider):
    out = webhook.channel.output
    await out.send_text_message(CITIZEN, "Bon dia!")
    await out.send_text_message(CITIZEN, ("línia\n" * 1000).strip())
    sent = provider.sent()
    assert sent[0] == {"to": CITIZEN, "from": "channel", "type": "text", "content": {"text": "Bon dia!"}}
    assert len(sent) >= 3 and all(len(m["content"]["text"]) <= 4096 for m in sent[1:])
    assert provider.requests[0].headers["Authorization"] == "AccessKey ak"


@pytest.mark.asyncio
async def test_up_to_three_buttons_are_reply_buttons(webhook, provider):
    buttons = [{"title": "Confirmo la cita de dimarts", "payload": '/confirm_appointment{"appointment_id":"A"}'},
               {"title": "Anul·la", "payload": '/cancel_appointment{"appointment_id":"A"}'}]
    await webhook.channel.output.send_text_with_buttons(CITIZEN, "Què voleu fer?", buttons)
    [message] = provider.sent()
    interactive = message["content"]["interactive"]
    assert message["type"] == "interactive" and interactive["type"] == "button"
    assert interactive["body"]["text"] == "Què voleu fer?"
    assert [b["id"] for b in interactive["action"]["buttons"]] == [b["payload"] for b in buttons]
    assert all(len(b["title"]) <= 20 for b in interactive["action"]["buttons"])
    assert interactive["action"]["buttons"][0]["title"].endswith("…")


@pytest.mark.asyncio
async def test_four_to_ten_buttons_become_a_list(webhook, provider):
    buttons = [{"title": f"dt. {d}/12 10:30", "payload": f"/cancel_appointment{{\"appointment_id\":\"{d}\"}}"}
               for d in range(1, 6)]
    await webhook.channel.output.send_text_with_buttons(CITIZEN, "Quina?", buttons)
    interactive = provider.sent()[0]["content"]["interactive"]
    assert interactive["type"] == "list"
    rows = interactive["action"]["sections"][0]["rows"]
    assert [r["id"] for r in rows] == [b["payload"] for b in buttons]


@pytest.mark.asyncio
async def test_more_than_ten_buttons_become_numbered_text(webhook, provider):
    buttons = [{"title": f"Opció {i}", "payload": f"/greet{i}"} for i in range(12)]
    await webhook.channel.output.send_text_with_buttons(CITIZEN, "Tria", buttons)
    [message] = provider.sent()
    assert message["type"] == "text" and "12. Opció 11" in message["content"]["text"]


@pytest.mark.asyncio
async def test_image_url(webhook, provider):
    await webhook.channel.output.send_image_url(CITIZEN, "https://example.cat/mapa.png")
    assert provider.sent()[0]["content"] == {"image": {"url": "https://example.cat/mapa.png"}}


@pytest.mark.asyncio
async def test_reminder_template_is_sent_once_per_appointment(webhook, provider, db_url):
    template = {"appointment_id": "VLD-1", "language": "es",
                "parameters": ["Maria", "martes, 1 de diciembre, a las 10:30", "Padró", "OAC", "map", "docs"],
                "quick_replies": ['/confirm_appointment{"appointment_id":"VLD-1"}',
                                  '/cancel_appointment{"appointment_id":"VLD-1"}']}
    out = webhook.channel.output
    await out.send_custom_json(CITIZEN, {"whatsapp_template": template, "text": "..."})
    await out.send_custom_json(CITIZEN, {"whatsapp_template": template, "text": "..."})
    [message] = provider.sent()
    hsm = message["content"]["hsm"]
    assert message["type"] == "hsm"
    assert (hsm["namespace"], hsm["templateName"], hsm["language"]) == ("ns", "recorda_appointment_reminder",
                                                                        {"code": "es"})
    assert [p["text"] for p in hsm["components"][0]["parameters"]] == template["parameters"]
    assert [c["parameters"][0]["payload"] for c in hsm["components"][1:]] == template["quick_replies"]
    reminder = ReminderStore(db_url).get("VLD-1")
    assert reminder.state == states.SENT and reminder.provider_message_id == "msg0001"


@pytest.mark.asyncio
async def test_rate_limited_send_is_retried(webhook, provider, db_url):
    provider.script = [(429, {"errors": [{"code": 429, "description": "Too many requests"}]},
                        {"Retry-After": "0"}),
                       (503, {"errors": [{"code": 0, "description": "unavailable"}]}, {})]
    await webhook.channel.output.send_reminder_template(CITIZEN, {
        "appointment_id": "VLD-2", "language": "ca", "parameters": ["a"] * 6, "quick_replies": []})
    assert len(provider.sent()) == 3
    assert ReminderStore(db_url).get("VLD-2").state == states.SENT


@pytest.mark.asyncio
async def test_refused_send_is_not_retried_and_keeps_its_reason(webhook, provider, db_url):
    provider.script = [(422, {"errors": [{"code": 302, "message": "contact is not registered on WhatsApp"}]}, {})]
    await webhook.channel.output.send_reminder_template(CITIZEN, {
        "appointment_id": "VLD-3", "language": "ca", "parameters": ["a"] * 6, "quick_replies": []})
    assert len(provider.sent()) == 1
    reminder = ReminderStore(db_url).get("VLD-3")
    assert (reminder.state, reminder.reason, reminder.error_code) == (states.FAILED, "no_whatsapp_account", 302)


def test_taps_and_media_carry_their_meaning_without_nlu():
    tap = content.parse_event(inbound("button", {"button": {
        "text": "Anul·la", "payload": '/cancel_appointment{"appointment_id":"VLD-3"}'}}))
    assert tap.parse_data["intent"] == {"name": "cancel_appointment", "confidence": 1.0}
    assert tap.parse_data["entities"] == [{"entity": "appointment_id", "value": "VLD-3"}]
    media = content.parse_event(inbound("image", {"image": {"url": "https://x/i.jpg"}}))
    assert media.parse_data["intent"]["name"] == "EXTERNAL_media_message"
    assert media.parse_data["entities"] == [{"entity": "media_type", "value": "image"}]
    assert content.parse_event(inbound("text", {"text": "anul·la-la"})).parse_data is None
