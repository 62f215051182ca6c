"""The MessageBird connector's webhook over HTTP, outbound rendering and
retries, against real local HTTP servers (signatures and parsing:
tests/unit/test_connector_parsing.py)."""
from __future__ import annotations

import json
import time

import pytest

from bot.reminders import states
from bot.reminders.store import ReminderStore
from connectors.messagebird import MessageBirdInput
from connectors.messagebird_signature import sign_webhook
from tests.support.messagebird import CITIZEN, SIGNING_KEY, Webhook, inbound, status
from tests.support.recording_server import RecordingServer


# --- the webhook over HTTP -------------------------------------------------------
@pytest.fixture
async def provider():
    server = await RecordingServer().start()
    yield server
    await server.stop()


@pytest.fixture
async def webhook(db_url, provider):
    hook = await Webhook(db_url, provider.url).start()
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
@pytest.mark.parametrize("body", [
    inbound("interactive", "a string"),
    inbound("interactive", ["a", "list"]),
    inbound("button", ["a", "list"]),
    inbound(["interactive"], {"interactive": {}}),
    inbound({"kind": "text"}, {"text": "hola"}),
], ids=["content string", "content list", "button content list", "type list", "type object"])
async def test_signed_webhooks_of_the_wrong_shape_get_400_not_500(webhook, body, caplog):
    caplog.set_level("WARNING", logger="connectors.messagebird")
    code, answer = await webhook.post(body)
    assert code == 400 and answer["error"].startswith("malformed webhook: ")
    assert webhook.received == []
    [line] = [r for r in caplog.records if r.name == "connectors.messagebird"]
    assert line.levelname == "WARNING" and "Malformed MessageBird webhook" in line.getMessage()


@pytest.mark.asyncio
async def test_malformed_webhook_log_line_is_truncated(webhook, caplog):
    caplog.set_level("WARNING", logger="connectors.messagebird")
    body = inbound("text", {"text": ["x" * 50_000]})
    assert (await webhook.post(body))[0] == 400
    [line] = [r.getMessage() for r in caplog.records if r.name == "connectors.messagebird"]
    assert len(line) < 400 and "x" * 200 not in line


@pytest.mark.asyncio
async def test_deeply_nested_signed_webhook_gets_400(webhook):
    for depth in (40, 5_000):
        raw = b'{"type": "message.created", "message": ' + b"[" * depth + b"]" * depth + b"}"
        code, answer = await webhook.post(None, raw=raw)
        assert code == 400 and "nested deeper than 32" in answer["error"]
    assert webhook.received == []


@pytest.mark.asyncio
async def test_body_cap_is_configurable(db_url, provider):
    hook = await Webhook(db_url, provider.url, max_body_bytes=2048).start()
    try:
        small = inbound("text", {"text": "a" * 1000}, message_id="cap-1")
        big = inbound("text", {"text": "a" * 3000}, message_id="cap-2")
        assert (await hook.post(small))[0] == 200
        assert (await hook.post(big)) == (413, {"error": "body too large"})
        assert [m.message_id for m in hook.received] == ["cap-1"]
    finally:
        await hook.stop()


def test_body_cap_comes_from_the_credentials(db_url, monkeypatch):
    monkeypatch.setenv("RECORDA_DB_URL", db_url)
    creds = {"access_key": "ak", "channel_id": "ch", "signing_key": SIGNING_KEY}
    assert MessageBirdInput.from_credentials(creds).max_body_bytes == 1_000_000
    assert MessageBirdInput.from_credentials({**creds, "max_body_bytes": 4096}).max_body_bytes == 4096
    monkeypatch.setenv("MESSAGEBIRD_MAX_BODY_BYTES", "8192")
    assert MessageBirdInput.from_credentials(creds).max_body_bytes == 8192


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


@pytest.mark.asyncio
async def test_an_offer_goes_out_as_its_template_and_a_refused_one_is_marked_failed(webhook, provider, db_url):
    from datetime import timedelta

    from bot.foundation.clock import utc_now
    from bot.offers import store as offers
    from bot.offers.store import OfferStore

    store = OfferStore(db_url)
    slot = store.record_freed("VLD-9", "oac-centre", "padro", utc_now() + timedelta(days=1))
    sent, refused = (store.create_offer(slot.id, f"WL-{i}", CITIZEN, "Anna", "ca", utc_now() + timedelta(hours=1))
                     for i in (1, 2))
    for offer in (sent, refused):
        store.move(offer.id, (offers.PENDING,), offers.SENDING)
    out = webhook.channel.output

    await out.send_custom_json(CITIZEN, {"whatsapp_template": {
        "template": "slot_offer", "offer_id": sent.id, "language": "ca",
        "parameters": ["Anna", "dimarts", "Padró", "OAC"],
        "quick_replies": [f'/take_offer{{"offer_id":"{sent.id}"}}', f'/decline_offer{{"offer_id":"{sent.id}"}}']}})
    provider.script = [(422, {"errors": [{"code": 302, "message": "contact is not registered on WhatsApp"}]}, {})]
    await out.send_custom_json(CITIZEN, {"whatsapp_template": {
        "template": "slot_offer", "offer_id": refused.id, "language": "ca", "parameters": ["Anna"] * 4,
        "quick_replies": []}})

    hsm = provider.sent()[0]["content"]["hsm"]
    assert hsm["templateName"] == "recorda_slot_offer"
    assert [c["parameters"][0]["payload"] for c in hsm["components"][1:]] == [
        f'/take_offer{{"offer_id":"{sent.id}"}}', f'/decline_offer{{"offer_id":"{sent.id}"}}']
    assert ReminderStore(db_url).get("VLD-9") is None  # an offer is no reminder
    assert store.offer(sent.id).state == offers.SENDING  # the worker records it sent
    assert store.offer(refused.id).state == offers.FAILED
