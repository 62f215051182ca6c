"""The WhatsApp Cloud API channel over HTTP: Meta's handshake, signed
webhooks (batched, redelivered, out of order), and what is sent to a local
stand-in for Meta's API, retries included (parsing, signatures and message
JSON without a server: tests/unit/test_whatsapp_cloud_parsing.py)."""
from __future__ import annotations

import json

import pytest

from bot.messaging import seal
from bot.reminders import states
from bot.reminders.store import ReminderStore
from connectors.whatsapp_cloud import WhatsAppCloudInput
from tests.support.whatsapp_cloud import (
    ACCESS_TOKEN,
    APP_SECRET,
    CITIZEN,
    MESSAGES_PATH,
    VERIFY_TOKEN,
    CloudWebhook,
    MetaApi,
    change,
    envelope,
    message,
    meta_error,
    status,
    tap,
)

CANCEL = '/cancel_appointment{"appointment_id":"VLD-9"}'
REMINDER = {"appointment_id": "VLD-1", "language": "es",
            "parameters": ["Maria", "martes, 1 de diciembre, a las 10:30", "Padró", "OAC", "map", "docs"],
            "quick_replies": ['/confirm_appointment{"appointment_id":"VLD-1"}',
                              '/cancel_appointment{"appointment_id":"VLD-1"}']}


@pytest.fixture
async def meta():
    server = await MetaApi().start()
    yield server
    await server.stop()


@pytest.fixture
async def webhook(db_url, meta):
    hook = await CloudWebhook(db_url, meta.api_url).start()
    yield hook
    await hook.stop()


def reminder(appointment_id: str, **changes) -> dict:
    return {**REMINDER, "appointment_id": appointment_id, **changes}


# --- the handshake ---------------------------------------------------------------------
async def test_handshake_with_the_verify_token_answers_the_challenge(webhook):
    answer = await webhook.get({"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
                                "hub.challenge": "1158201444"})
    assert answer == (200, "1158201444")


@pytest.mark.parametrize("params", [
    {"hub.mode": "subscribe", "hub.verify_token": "a-guess", "hub.challenge": "1158201444"},
    {"hub.mode": "subscribe", "hub.challenge": "1158201444"},
    {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
    {},
], ids=["wrong token", "no token", "wrong mode", "nothing"])
async def test_handshake_without_it_is_refused(webhook, params):
    status_, text = await webhook.get(params)
    assert status_ == 403 and "1158201444" not in text


# --- webhooks ----------------------------------------------------------------------------
async def test_signed_tap_reaches_the_assistant_sealed(webhook):
    code, answer = await webhook.post(envelope(tap(CANCEL, context={"id": "wamid.out-1"})))
    assert (code, answer) == (200, {"status": "handled"})
    [msg] = webhook.received
    assert (msg.sender_id, msg.text, msg.input_channel, msg.message_id) == (
        CITIZEN, CANCEL, "whatsapp_cloud", "wamid.in-1")
    assert msg.parse_data["intent"]["name"] == "cancel_appointment"
    assert (msg.metadata["kind"], msg.metadata["reply_to"], msg.metadata["title"]) == (
        "button", "wamid.out-1", "Anul·la")
    assert msg.metadata[seal.METADATA_KEY] == seal.seal(
        "test-seal-secret", "whatsapp_cloud", CITIZEN, "wamid.in-1", "button", CANCEL)


@pytest.mark.parametrize("attack", ["wrong secret", "tampered", "missing", "unprefixed"])
async def test_bad_signatures_get_401_and_change_nothing(webhook, attack):
    body = envelope(message("text", text={"body": "anul·la la cita"}))
    if attack == "wrong secret":
        result = await webhook.post(body, secret="a-guessed-secret")
    elif attack == "tampered":
        original = json.dumps(envelope(message("text", text={"body": "hola"}))).encode()
        result = await webhook.post(body, signed_body=original)
    elif attack == "missing":
        result = await webhook.post(body, signature="none")
    else:
        result = await webhook.post(body, signature="0" * 64)
    assert result == (401, {"error": "invalid signature"})
    assert webhook.received == []


async def test_malformed_signed_webhooks_get_400(webhook):
    code, answer = await webhook.post(None, raw=b"{not json")
    assert code == 400 and answer["error"].startswith("malformed webhook: invalid JSON")
    code, answer = await webhook.post(envelope(message("text", text={"body": ["x"]})))
    assert code == 400 and "messages.0.text.body" in answer["error"]
    raw = b'{"object": "whatsapp_business_account", "entry": ' + b"[" * 40 + b"]" * 40 + b"}"
    code, answer = await webhook.post(None, raw=raw)
    assert code == 400 and "nested deeper than 32" in answer["error"]
    assert webhook.received == []


async def test_another_products_webhook_is_ignored(webhook):
    assert await webhook.post({"object": "page", "entry": []}) == (200, {"status": "ignored"})


async def test_body_cap(db_url, meta):
    hook = await CloudWebhook(db_url, meta.api_url, max_body_bytes=2048).start()
    try:
        assert (await hook.post(envelope(message("text", "wamid.small", text={"body": "a" * 1000}))))[0] == 200
        big = envelope(message("text", "wamid.big", text={"body": "a" * 3000}))
        assert await hook.post(big) == (413, {"error": "body too large"})
        assert [m.message_id for m in hook.received] == ["wamid.small"]
    finally:
        await hook.stop()


def batch() -> dict:
    return envelope(entries=[
        [change([message("text", "wamid.a", text={"body": "hola"}), tap(CANCEL, message_id="wamid.b")],
                [status("wamid.out-0001", "delivered")])],
        [change(field="message_template_status_update"),
         change([message("audio", "wamid.c", sender="34699000111", audio={"id": "1"})],
                [status("wamid.out-0001", "read"), status("wamid.unknown", "sent")])],
    ])


async def test_a_batched_body_is_handled_whole_and_a_redelivery_once(webhook, db_url):
    store = ReminderStore(db_url)
    store.schedule("VLD-1", None, "oac", CITIZEN, "es")
    assert await webhook.channel.output.send_reminder_template(CITIZEN, REMINDER) == "wamid.out-0001"
    code, answer = await webhook.post(batch())
    assert (code, answer) == (200, {"status": "handled", "events": [
        "handled", "handled", "recorded", "handled", "recorded", "recorded"]})
    assert [(m.message_id, m.sender_id, m.metadata["kind"]) for m in webhook.received] == [
        ("wamid.a", CITIZEN, "text"), ("wamid.b", CITIZEN, "button"), ("wamid.c", "+34699000111", "media")]
    assert store.get("VLD-1").state == states.READ
    # Meta delivers at least once: the same body again changes nothing.
    code, answer = await webhook.post(batch())
    assert (code, answer) == (200, {"status": "handled", "events": ["duplicate"] * 6})
    assert len(webhook.received) == 3
    assert [e.event for e in store.history("VLD-1")] == ["scheduled", "sending", "sent", "delivered", "read"]


async def test_failed_handling_lets_the_redelivery_through(webhook):
    body = envelope(message("text", "wamid.a", text={"body": "hola"}), message("text", "wamid.b", text={"body": "sí"}))
    webhook.fail_next = True
    assert (await webhook.post(body))[0] == 500
    assert await webhook.post(body) == (200, {"status": "handled", "events": ["handled", "handled"]})
    assert [m.message_id for m in webhook.received] == ["wamid.a", "wamid.b"]


async def test_out_of_order_statuses_do_not_move_a_reminder_back(webhook, db_url):
    store = ReminderStore(db_url)
    store.schedule("VLD-7", None, "oac", CITIZEN, "ca")
    message_id = await webhook.channel.output.send_reminder_template(CITIZEN, reminder("VLD-7", language="ca"))
    pricing = {"billable": True, "pricing_model": "PMP", "category": "utility"}
    assert (await webhook.post(envelope(status(message_id, "read", pricing=pricing))))[0] == 200
    assert (await webhook.post(envelope(status(message_id, "delivered", pricing=pricing))))[0] == 200
    assert (await webhook.post(envelope(status(message_id, "sent", "1764493100"))))[0] == 200
    got = store.get("VLD-7")
    assert got.state == states.READ and got.was_read
    history = store.history("VLD-7")
    assert [(e.event, e.applied) for e in history[3:]] == [("read", True), ("delivered", False), ("sent", False)]
    assert history[3].detail["pricing"] == {"billable": True, "category": "utility", "model": "PMP"}


async def test_a_failed_status_fails_the_reminder_with_its_reason(webhook, db_url):
    store = ReminderStore(db_url)
    store.schedule("VLD-8", None, "oac", CITIZEN, "ca")
    message_id = await webhook.channel.output.send_reminder_template(CITIZEN, reminder("VLD-8"))
    error = {"code": 131026, "title": "Message undeliverable",
             "error_data": {"details": "Message Undeliverable."}}
    assert (await webhook.post(envelope(status(message_id, "failed", errors=[error]))))[0] == 200
    got = store.get("VLD-8")
    assert (got.state, got.reason, got.error_code) == (states.FAILED, "no_whatsapp_account", 131026)


# --- outbound -----------------------------------------------------------------------------
async def test_texts_go_to_the_phone_numbers_messages_with_the_token(webhook, meta):
    out = webhook.channel.output
    await out.send_text_message(CITIZEN, "Bon dia!")
    await out.send_text_message(CITIZEN, ("línia\n" * 1000).strip())
    sent = meta.messages()
    assert sent[0] == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": CITIZEN,
                       "type": "text", "text": {"body": "Bon dia!", "preview_url": False}}
    assert len(sent) >= 3 and all(len(m["text"]["body"]) <= 4096 for m in sent[1:])
    request = meta.requests[0]
    assert (request.method, request.path) == ("POST", MESSAGES_PATH)
    assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"


async def test_buttons_lists_and_images(webhook, meta):
    out = webhook.channel.output
    await out.send_text_with_buttons(CITIZEN, "Què voleu fer?", [
        {"title": "Confirmo la cita de dimarts", "payload": '/confirm_appointment{"appointment_id":"A"}'},
        {"title": "Anul·la", "payload": '/cancel_appointment{"appointment_id":"A"}'}])
    await out.send_quick_replies(CITIZEN, "Quina?", [
        {"title": f"dt. {d}/12 10:30", "payload": f"/pick{{\"d\":\"{d}\"}}"} for d in range(1, 6)])
    await out.send_image_url(CITIZEN, "https://example.cat/mapa.png")
    buttons, rows, image = meta.messages()
    assert buttons["interactive"]["type"] == "button"
    assert [b["reply"]["title"] for b in buttons["interactive"]["action"]["buttons"]] == [
        "Confirmo la cita de…", "Anul·la"]
    assert [r["id"] for r in rows["interactive"]["action"]["sections"][0]["rows"]][0] == '/pick{"d":"1"}'
    assert image["image"] == {"link": "https://example.cat/mapa.png"}


async def test_reminder_template_is_sent_once_per_appointment(webhook, meta, db_url):
    out = webhook.channel.output
    await out.send_custom_json(CITIZEN, {"whatsapp_template": REMINDER, "text": "..."})
    await out.send_custom_json(CITIZEN, {"whatsapp_template": REMINDER, "text": "..."})
    [sent] = meta.messages()
    template = sent["template"]
    assert (sent["type"], template["name"], template["language"]) == (
        "template", "recorda_appointment_reminder", {"code": "es"})
    assert "namespace" not in template
    assert [p["text"] for p in template["components"][0]["parameters"]] == REMINDER["parameters"]
    assert [(c["sub_type"], c["index"], c["parameters"][0]["payload"]) for c in template["components"][1:]] == [
        ("quick_reply", "0", REMINDER["quick_replies"][0]), ("quick_reply", "1", REMINDER["quick_replies"][1])]
    got = ReminderStore(db_url).get("VLD-1")
    assert (got.state, got.provider_message_id) == (states.SENT, "wamid.out-0001")


@pytest.mark.parametrize("script", [
    [(429, meta_error(4, "Application request limit reached"), {"Retry-After": "0"}),
     (500, meta_error(1, "An unknown error occurred"), {})],
    [(400, meta_error(131056, "Pair rate limit hit"), {}), (503, {}, {})],
], ids=["429 then 500", "pair rate limit then 503"])
async def test_busy_answers_are_retried(webhook, meta, db_url, script, caplog):
    caplog.set_level("DEBUG")
    meta.script = list(script)
    assert await webhook.channel.output.send_reminder_template(CITIZEN, reminder("VLD-2")) == "wamid.out-0003"
    assert len(meta.messages()) == 3
    assert ReminderStore(db_url).get("VLD-2").state == states.SENT
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "retry 1" in logged and "retry 2" in logged
    assert ACCESS_TOKEN not in logged and CITIZEN not in logged and "+34 6•• ••• •78" in logged


async def test_a_refusal_is_not_retried_and_keeps_its_reason(webhook, meta, db_url):
    meta.script = [(400, meta_error(131026, "Message undeliverable."), {})]
    assert await webhook.channel.output.send_reminder_template(CITIZEN, reminder("VLD-3")) is None
    assert len(meta.messages()) == 1
    got = ReminderStore(db_url).get("VLD-3")
    assert (got.state, got.reason, got.error_code) == (states.FAILED, "no_whatsapp_account", 131026)
    failed = ReminderStore(db_url).history("VLD-3")[-1]
    assert (failed.detail["http_status"], failed.detail["description"]) == (400, "Message undeliverable.")


async def test_an_unreachable_api_fails_after_the_attempts(db_url):
    hook = CloudWebhook(db_url)  # nothing listens at its API
    try:
        hook.channel.client.max_attempts = 2
        assert await hook.channel.output.send_reminder_template(CITIZEN, reminder("VLD-4")) is None
        got = ReminderStore(db_url).get("VLD-4")
        assert (got.state, got.reason, got.error_code) == (states.FAILED, "provider_error", None)
    finally:
        await hook.channel.client.close()


# --- configuration --------------------------------------------------------------------------
CREDENTIALS = {"phone_number_id": 106540352242922, "access_token": ACCESS_TOKEN, "app_secret": APP_SECRET,
               "verify_token": VERIFY_TOKEN}


def test_credentials_and_environment(db_url, monkeypatch):
    monkeypatch.setenv("RECORDA_DB_URL", db_url)
    channel = WhatsAppCloudInput.from_credentials(CREDENTIALS)
    assert channel.client.url == "https://graph.facebook.com/v24.0/106540352242922/messages"
    assert (channel.max_body_bytes, channel.output.template_name, channel.output.template_languages) == (
        1_000_000, "recorda_appointment_reminder", {"ca": "ca", "es": "es", "en": "en"})
    assert ACCESS_TOKEN not in repr(channel.client)
    monkeypatch.setenv("WHATSAPP_CLOUD_API_URL", "http://127.0.0.1:8082/")
    monkeypatch.setenv("WHATSAPP_CLOUD_API_VERSION", "v25.0")
    monkeypatch.setenv("WHATSAPP_CLOUD_PHONE_NUMBER_ID", "42")
    monkeypatch.setenv("WHATSAPP_CLOUD_TEMPLATE_LANGUAGES", '{"es": "es_ES"}')
    monkeypatch.setenv("WHATSAPP_CLOUD_MAX_BODY_BYTES", "8192")
    channel = WhatsAppCloudInput.from_credentials({**CREDENTIALS, "template_name": "recordatori"})
    assert channel.client.url == "http://127.0.0.1:8082/v25.0/42/messages"
    assert (channel.max_body_bytes, channel.output.template_name, channel.output.template_languages) == (
        8192, "recordatori", {"es": "es_ES"})


@pytest.mark.parametrize("missing", ["phone_number_id", "access_token", "app_secret", "verify_token"])
def test_a_missing_credential_is_named(db_url, monkeypatch, missing):
    monkeypatch.setenv("RECORDA_DB_URL", db_url)
    with pytest.raises(ValueError, match=f"`{missing}` is missing.*WHATSAPP_CLOUD_{missing.upper()}"):
        WhatsAppCloudInput.from_credentials({k: v for k, v in CREDENTIALS.items() if k != missing})
    monkeypatch.setenv(f"WHATSAPP_CLOUD_{missing.upper()}", "from-the-environment")
    WhatsAppCloudInput.from_credentials({k: v for k, v in CREDENTIALS.items() if k != missing})
