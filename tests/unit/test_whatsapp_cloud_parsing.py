"""The WhatsApp Cloud API channel without a server: webhook signatures and
the handshake, the parsing of webhook bodies, the JSON of outbound messages
and Meta's error envelope (the channel over HTTP, against a stand-in for
Meta's API: tests/integration/test_whatsapp_cloud_channel.py)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.messaging.inbound import BUTTON, MEDIA, TEXT, InboundMessage, Pricing, StatusUpdate
from connectors import whatsapp_cloud_content as content
from connectors.webhook_json import MalformedWebhook
from connectors.whatsapp_cloud_client import WhatsAppCloudError, error_from, message_id_from
from connectors.whatsapp_cloud_signature import SignatureError, sign, verify_handshake, verify_signature
from tests.support.whatsapp_cloud import (
    APP_SECRET,
    CITIZEN,
    VERIFY_TOKEN,
    change,
    envelope,
    message,
    meta_error,
    status,
    tap,
)

CONFIRM = '/confirm_appointment{"appointment_id":"VLD-1"}'
CANCEL = '/cancel_appointment{"appointment_id":"VLD-1"}'


def one(body: dict):
    [event] = content.parse_events(body)
    return event


# --- signatures and the handshake -----------------------------------------------------
def test_signature_round_trip():
    body = b'{"object": "whatsapp_business_account", "entry": []}'
    header = sign(APP_SECRET, body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    verify_signature(APP_SECRET, header, body)
    verify_signature(APP_SECRET, header.upper().replace("SHA256=", "sha256="), body)  # hex case


@pytest.mark.parametrize("case,reason", [
    ("wrong secret", "does not match"), ("tampered body", "does not match"), ("missing", "missing"),
    ("empty", "missing"), ("wrong prefix", "sha256="), ("sha1", "sha256="), ("not hex", "does not match"),
    ("not ascii", "does not match"), ("no secret configured", "no app secret"),
])
def test_signature_rejected(case, reason):
    body, secret = b'{"a": 1}', APP_SECRET
    header = sign(APP_SECRET, body)
    if case == "wrong secret":
        header = sign("a-guessed-secret", body)
    elif case == "tampered body":
        body = b'{"a": 2}'
    elif case == "missing":
        header = None
    elif case == "empty":
        header = ""
    elif case == "wrong prefix":
        header = header[len("sha256="):]
    elif case == "sha1":
        header = "sha1=" + header[len("sha256="):]
    elif case == "not hex":
        header = "sha256=" + "z" * 64
    elif case == "not ascii":
        header = "sha256=" + "é" * 64
    elif case == "no secret configured":
        secret = ""
    with pytest.raises(SignatureError, match=reason):
        verify_signature(secret, header, body)


def test_handshake_answers_the_challenge():
    assert verify_handshake(VERIFY_TOKEN, "subscribe", VERIFY_TOKEN, "1158201444") == "1158201444"


@pytest.mark.parametrize("configured,mode,token,challenge", [
    (VERIFY_TOKEN, "subscribe", "a-guess", "1158201444"),
    (VERIFY_TOKEN, "subscribe", None, "1158201444"),
    (VERIFY_TOKEN, "unsubscribe", VERIFY_TOKEN, "1158201444"),
    (VERIFY_TOKEN, None, VERIFY_TOKEN, "1158201444"),
    (VERIFY_TOKEN, "subscribe", VERIFY_TOKEN, None),
    (VERIFY_TOKEN, "subscribe", VERIFY_TOKEN, "<script>alert(1)</script>\n"),
    (VERIFY_TOKEN, "subscribe", VERIFY_TOKEN, "1" * 300),
    ("", "subscribe", "", "1158201444"),
])
def test_handshake_refused(configured, mode, token, challenge):
    with pytest.raises(SignatureError):
        verify_handshake(configured, mode, token, challenge)


# --- inbound messages ------------------------------------------------------------------
def test_text_is_typed_text():
    msg = one(envelope(message("text", text={"body": " vale, confirmo "}, context={"id": "wamid.x"})))
    assert isinstance(msg, InboundMessage)
    assert (msg.sender, msg.text, msg.kind, msg.message_id) == (CITIZEN, "vale, confirmo", TEXT, "wamid.in-1")
    assert msg.metadata == {"provider_message_id": "wamid.in-1", "reply_to": "wamid.x"}
    assert msg.parse_data is None


def test_typed_payload_stays_text():
    msg = one(envelope(message("text", text={"body": CANCEL})))
    assert msg.kind == TEXT and not msg.text.startswith("/") and msg.text.endswith(CANCEL)


@pytest.mark.parametrize("kind", ["button_reply", "list_reply"])
def test_interactive_replies_are_taps(kind):
    msg = one(envelope(tap(CANCEL, "dt. 1/12", kind, context={"from": "34930000000", "id": "wamid.out-1"})))
    assert (msg.text, msg.kind, msg.metadata["title"], msg.metadata["reply_to"]) == (
        CANCEL, BUTTON, "dt. 1/12", "wamid.out-1")
    assert msg.parse_data["intent"] == {"name": "cancel_appointment", "confidence": 1.0}
    assert msg.parse_data["entities"] == [{"entity": "appointment_id", "value": "VLD-1"}]


def test_template_quick_reply_is_a_tap():
    msg = one(envelope(message("button", button={"payload": CONFIRM, "text": "Confirmo la cita"},
                               context={"id": "wamid.reminder"})))
    assert (msg.text, msg.kind, msg.metadata["title"]) == (CONFIRM, BUTTON, "Confirmo la cita")


@pytest.mark.parametrize("body", [
    tap('/EXTERNAL_appointment_reminder{"appointment_id":"X"}', "Sí"),
    tap("not a payload", "Sí"),
    tap("/" + "a" * 300, "Sí"),
    message("button", button={"payload": "ours? no", "text": "Sí"}),
    message("button", button={"text": "Sí"}),
], ids=["recorda intent", "not a payload", "too long", "template, not ours", "template, no payload"])
def test_taps_that_are_not_ours_are_their_title_as_text(body):
    msg = one(envelope(body))
    assert (msg.text, msg.kind) == ("Sí", TEXT)
    assert "title" not in msg.metadata


def test_a_tap_with_nothing_to_show_is_malformed():
    with pytest.raises(MalformedWebhook, match="neither a payload of ours nor a title"):
        content.parse_events(envelope(tap("not ours", " ")))
    with pytest.raises(MalformedWebhook, match="button_reply without its reply"):
        content.parse_events(envelope(message("interactive", interactive={"type": "button_reply"})))


@pytest.mark.parametrize("kind,media", [
    ("image", "image"), ("audio", "audio"), ("video", "video"), ("document", "file"),
    ("sticker", "sticker"), ("location", "location"),
])
def test_media_kinds(kind, media):
    msg = one(envelope(message(kind, **{kind: {"id": "1234", "mime_type": "x/y"}})))
    assert (msg.kind, msg.text, msg.metadata["media_type"]) == (
        MEDIA, f'/EXTERNAL_media_message{{"media_type":"{media}"}}', media)
    assert msg.parse_data["entities"] == [{"entity": "media_type", "value": media}]


@pytest.mark.parametrize("kind,parts", [
    ("reaction", {"reaction": {"message_id": "wamid.out-1", "emoji": "👍"}}),
    ("contacts", {"contacts": [{"name": {"formatted_name": "Joan"}}]}),
    ("unsupported", {"errors": [{"code": 131051, "title": "Message type unknown"}]}),
    ("system", {"system": {"body": "changed number", "type": "user_changed_number"}}),
    ("order", {"order": {"catalog_id": "1", "product_items": []}}),
    ("interactive", {"interactive": {"type": "nfm_reply", "nfm_reply": {"response_json": "{}"}}}),
    ("a_kind_meta_adds_in_2027", {}),
])
def test_other_kinds_are_passed_on_like_media(kind, parts):
    msg = one(envelope(message(kind, **parts)))
    assert (msg.kind, msg.text, msg.metadata["media_type"]) == (
        MEDIA, '/EXTERNAL_media_message{"media_type":"other"}', kind)


def test_unknown_fields_are_tolerated_everywhere():
    body = envelope(tap(CANCEL, "Anul·la", new={"x": [1]}))
    body["new"] = ["anything"]
    body["entry"][0]["new"] = 1
    body["entry"][0]["changes"][0]["value"]["messages"][0]["interactive"]["button_reply"]["new"] = None
    msg = one(body)
    assert (msg.text, msg.kind) == (CANCEL, BUTTON)


# --- statuses ----------------------------------------------------------------------------
def test_status_with_pricing():
    event = one(envelope(status("wamid.out-1", "delivered", pricing={
        "billable": True, "pricing_model": "PMP", "category": "utility", "type": "regular"},
        conversation={"id": "c1", "origin": {"type": "utility"}})))
    assert isinstance(event, StatusUpdate)
    assert (event.message_id, event.status, event.error_code, event.error_description) == (
        "wamid.out-1", "delivered", None, None)
    assert event.at == datetime(2025, 11, 30, 9, 0, 1, tzinfo=timezone.utc)
    assert event.pricing == Pricing(True, "utility", "PMP")


@pytest.mark.parametrize("kind", ["free_customer_service", "free_entry_point"])
def test_a_message_meta_says_is_free_is_not_billable_whatever_billable_says(kind):
    event = one(envelope(status("wamid.out-1", "delivered", pricing={
        "billable": True, "pricing_model": "PMP", "category": "utility", "type": kind})))
    assert event.pricing == Pricing(False, "utility", "PMP")


def test_failed_status_keeps_the_first_error():
    event = one(envelope(status("wamid.out-1", "failed", errors=[
        {"code": 131026, "title": "Message undeliverable", "message": "Message undeliverable",
         "error_data": {"details": "The recipient has no WhatsApp"}},
        {"code": 1, "title": "second"}])))
    assert (event.status, event.error_code, event.error_description, event.pricing) == (
        "failed", 131026, "The recipient has no WhatsApp", None)


@pytest.mark.parametrize("stamp,expected", [
    ("1764493201", datetime(2025, 11, 30, 9, 0, 1, tzinfo=timezone.utc)),
    (1764493201, datetime(2025, 11, 30, 9, 0, 1, tzinfo=timezone.utc)),
    ("0", None), ("99999999999", None), ("yesterday", None), ("١٧٦٤٤٩٣٢٠١", None),
])
def test_status_times_are_plausible_or_none(stamp, expected):
    assert one(envelope(status("wamid.out-1", "read", timestamp=stamp))).at == expected


def test_error_codes_out_of_range_are_none():
    event = one(envelope(status("wamid.out-1", "failed", errors=[{"code": 2**40}])))
    assert event.error_code is None


# --- bodies ---------------------------------------------------------------------------------
def test_a_batched_body_is_read_whole_and_in_order():
    body = envelope(entries=[
        [change([message("text", "wamid.a", text={"body": "hola"}), tap(CONFIRM, message_id="wamid.b")],
                [status("wamid.out-1", "delivered")]),
         change(field="message_template_status_update")],
        [{"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}},
         change([message("image", "wamid.c", image={"id": "1"})],
                [status("wamid.out-1", "read"), status("wamid.out-2", "sent")])],
    ])
    events = content.parse_events(body)
    assert [(type(e).__name__, e.message_id) for e in events] == [
        ("InboundMessage", "wamid.a"), ("InboundMessage", "wamid.b"), ("StatusUpdate", "wamid.out-1"),
        ("InboundMessage", "wamid.c"), ("StatusUpdate", "wamid.out-1"), ("StatusUpdate", "wamid.out-2")]
    assert [e.kind for e in events if isinstance(e, InboundMessage)] == [TEXT, BUTTON, MEDIA]


def test_other_objects_and_fields_are_nothing_to_do():
    assert content.parse_events({"object": "page", "entry": [{"id": "1", "changes": [{"field": "feed"}]}]}) == []
    assert content.parse_events(envelope(entries=[[{"field": "account_alerts", "value": ["any", "shape"]}]])) == []
    assert content.parse_events(envelope(entries=[[change()]])) == []


@pytest.mark.parametrize("body", [
    None, [], "whatsapp_business_account", {}, {"object": "whatsapp_business_account"},
    {"object": "whatsapp_business_account", "entry": {"id": "1"}},
    {"object": "whatsapp_business_account", "entry": [["changes", []]]},
    envelope(entries=[[{"field": "messages", "value": ["not", "an", "object"]}]]),
    envelope(entries=[[{"field": ["messages"], "value": {}}]]),
    envelope(entries=[[{"field": "messages", "value": {"messages": {"id": "x"}}}]]),
    envelope(entries=[[{"field": "messages"}]]),
    envelope(message("text", text="hola")),
    envelope(message("text", text={"body": 12})),
    envelope(message("text", text={"body": "ho\x00la"})),
    envelope(message("text")),
    envelope(message("text", text={"body": "hola"}, sender="not a number")),
    envelope(message("text", text={"body": "hola"}, sender="0")),
    envelope(message("text", text={"body": "hola"}, sender=34612345678)),
    envelope(message("text", "", text={"body": "hola"})),
    envelope(message("text", "x" * 129, text={"body": "hola"})),
    envelope(message(["text"], text={"body": "hola"})),
    envelope(message("interactive", interactive="x")),
    envelope(message("interactive", interactive={"type": "list_reply", "list_reply": ["x"]})),
    envelope(message("button", button=["x"])),
    envelope(message("button", button={"payload": 7, "text": "Sí"})),
    envelope(message("text", text={"body": "hola"}, context="wamid.x")),
    envelope(status("wamid.out-1", ["read"])),
    envelope(status("wamid.out-1", "")),
    envelope(status("wamid.out-1", "failed", errors={"code": 1})),
    envelope(status("wamid.out-1", "failed", errors=[{"code": "131026"}])),
    envelope(status("wamid.out-1", "delivered", pricing={"billable": "yes"})),
    envelope(status("wamid.out-1", "delivered", timestamp=["1"])),
])
def test_wrong_shapes_are_malformed_not_crashes(body):
    with pytest.raises(MalformedWebhook):
        content.parse_events(body)


def test_malformed_names_where():
    body = envelope(entries=[[change()], [change([message("text", text={"body": 1})])]])
    with pytest.raises(MalformedWebhook, match=r"entry\.1\.changes\.0\.value\.messages\.0\.text"):
        content.parse_events(body)


# --- outbound ----------------------------------------------------------------------------------
def test_text_and_recipient():
    assert content.addressed(CITIZEN, content.text_message("Bon dia!")) == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": CITIZEN,
        "type": "text", "text": {"body": "Bon dia!", "preview_url": False}}


def test_up_to_three_buttons_are_reply_buttons_with_short_unique_titles():
    buttons = [{"title": "Confirmo la cita de dimarts", "payload": CONFIRM},
               {"title": "Confirmo la cita de dimecres", "payload": CANCEL},
               {"title": "Un altre dia", "payload": "/keep"}]
    [msg] = content.buttons_messages("Què voleu fer?", buttons)
    interactive = msg["interactive"]
    assert (msg["type"], interactive["type"], interactive["body"]) == ("interactive", "button",
                                                                      {"text": "Què voleu fer?"})
    replies = interactive["action"]["buttons"]
    assert all(b["type"] == "reply" for b in replies)
    assert [b["reply"]["id"] for b in replies] == [CONFIRM, CANCEL, "/keep"]
    titles = [b["reply"]["title"] for b in replies]
    assert titles == ["Confirmo la cita de…", "Confirmo la cita… 2", "Un altre dia"]
    assert all(len(t) <= 20 for t in titles) and len(set(titles)) == 3


def test_four_to_ten_buttons_are_a_list():
    buttons = [{"title": f"dimarts {d} de desembre a les 10:30", "payload": f"/pick{{\"day\":\"{d}\"}}"}
               for d in range(1, 6)]
    [msg] = content.buttons_messages("Quin dia?", buttons)
    interactive = msg["interactive"]
    assert interactive["type"] == "list" and len(interactive["action"]["button"]) <= 20
    [section] = interactive["action"]["sections"]
    rows = section["rows"]
    assert [r["id"] for r in rows] == [b["payload"] for b in buttons]
    assert all(len(r["title"]) <= 24 for r in rows) and len({r["title"] for r in rows}) == 5
    assert rows[0]["description"] == "dimarts 1 de desembre a les 10:30"


@pytest.mark.parametrize("buttons", [
    [{"title": f"Opció {i}", "payload": f"/opt{i}"} for i in range(11)],
    [{"title": "A", "payload": "/same"}, {"title": "B", "payload": "/same"}],
    [{"title": f"Opció {i}", "payload": "/" + "x" * 210 + str(i)} for i in range(4)],
], ids=["eleven", "same ids", "ids too long for a list"])
def test_otherwise_numbered_text(buttons):
    [msg] = content.buttons_messages("Tria", buttons)
    assert msg["type"] == "text" and msg["text"]["body"].startswith("Tria\n\n1. ")
    assert f"{len(buttons)}. {buttons[-1]['title']}" in msg["text"]["body"]


def test_a_long_body_goes_first_as_text():
    text = ("Una línia llarga de text. " * 60).strip()
    messages = content.buttons_messages(text, [{"title": "Sí", "payload": CONFIRM}])
    assert [m["type"] for m in messages] == ["text", "interactive"]
    assert messages[0]["text"]["body"] == text and messages[1]["interactive"]["body"]["text"] == "👇"


def test_reminder_template():
    msg = content.template_message("recorda_appointment_reminder", "es",
                                   ["Maria", "martes,\n1 de diciembre", "", 7], [CONFIRM, CANCEL])
    assert msg == {"type": "template", "template": {
        "name": "recorda_appointment_reminder", "language": {"code": "es"}, "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "Maria"},
                                            {"type": "text", "text": "martes, 1 de diciembre"},
                                            {"type": "text", "text": "-"},
                                            {"type": "text", "text": "7"}]},
            {"type": "button", "sub_type": "quick_reply", "index": "0",
             "parameters": [{"type": "payload", "payload": CONFIRM}]},
            {"type": "button", "sub_type": "quick_reply", "index": "1",
             "parameters": [{"type": "payload", "payload": CANCEL}]}]}}
    assert content.template_message("t", "ca", [], [])["template"]["components"] == []


def test_image_by_link():
    assert content.image_message("https://example.cat/mapa.png") == {
        "type": "image", "image": {"link": "https://example.cat/mapa.png"}}
    assert content.image_message("https://x/y.png", "Mapa")["image"]["caption"] == "Mapa"


# --- Meta's answers ---------------------------------------------------------------------------
def test_error_envelope():
    error = error_from(400, meta_error(131026, "Message undeliverable"))
    assert isinstance(error, WhatsAppCloudError)
    assert (error.status, error.code, error.description, error.trace_id) == (
        400, 131026, "Message undeliverable", "AbCdEf123")
    assert not error.retryable
    bare = error_from(400, {"error": {"message": "(#100) Invalid parameter", "code": 100}})
    assert (bare.code, bare.description) == (100, "(#100) Invalid parameter")
    assert error_from(502, "<html>Bad gateway</html>").description == "<html>Bad gateway</html>"
    assert error_from(400, {"error": {"code": True}}).code is None


@pytest.mark.parametrize("status,code,retryable", [
    (429, None, True), (500, 1, True), (503, None, True), (None, None, True),
    (400, 130429, True), (400, 131056, True), (400, 80007, True), (400, 4, True), (400, 613, True),
    (400, 131047, False), (401, 190, False), (400, 132001, False),
])
def test_what_is_retried(status, code, retryable):
    assert WhatsAppCloudError(status, code, "x").retryable is retryable


def test_message_id_of_a_success():
    answer = {"messaging_product": "whatsapp", "contacts": [{"input": CITIZEN, "wa_id": "34612345678"}],
              "messages": [{"id": "wamid.HBgL", "message_status": "accepted"}]}
    assert message_id_from(answer) == "wamid.HBgL"
    assert [message_id_from(b) for b in ({}, {"messages": []}, {"messages": [{"id": 7}]}, "x")] == [None] * 4


def test_a_status_names_the_citizen_it_went_to_in_e164():
    assert one(envelope(status("wamid.out-1", "sent"))).recipient == "+34612345678"
    assert one(envelope(status("wamid.out-1", "sent", recipient_id=None))).recipient is None
