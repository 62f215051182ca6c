"""The MessageBird connector without a server: webhook signatures, and the
parsing of inbound bodies (the webhook over HTTP, outbound rendering and
retries: tests/integration/test_connector.py)."""
from __future__ import annotations

import time
from datetime import datetime

import jwt
import pytest

from connectors import messagebird_content as content
from connectors import webhook_json
from connectors.messagebird_signature import SignatureError, sign_webhook, verify_webhook
from tests.support.messagebird import CITIZEN, SIGNING_KEY, inbound, status

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


# Shapes that crashed the old dict walking (fuzzing: 500s), and their neighbours.
TAP = '/cancel_appointment{"appointment_id":"VLD-4"}'


@pytest.mark.parametrize("body", [
    inbound("interactive", "a string"),
    inbound("interactive", ["a", "list"]),
    inbound("interactive", [["interactive", {"reply": {"id": TAP}}]]),  # pairs are not an object
    inbound("interactive", {"interactive": "x"}),
    inbound("interactive", {"interactive": {"type": "button_reply", "reply": [TAP]}}),
    inbound("interactive", {"interactive": {"type": "button_reply", "reply": {"id": ["x"]}}}),
    inbound("interactive", {"interactive": {"type": "button_reply"}}),
    inbound("button", "a string"),
    inbound("button", {"button": ["x"]}),
    inbound("button", {"button": {"payload": 7, "text": "Anul·la"}}),
    inbound("text", ["hola"]),
    inbound("text", {"text": 12}),
    inbound("text", {"text": None}),
    inbound(["interactive"], {"interactive": {}}),
    inbound(None, {}),
    {**inbound("text", {"text": "hola"}), "type": ["message.created"]},
    {**inbound("text", {"text": "hola"}), "contact": "x", "message": {
        **inbound("text", {"text": "hola"})["message"], "from": None}},
    inbound("text", {"text": "hola"}, message_id=["in-1"]),
    inbound("text", {"text": "hola"}, message_id=True),
    inbound("text", {"text": "hola"}, message_id="x" * 65),
    inbound("text", {"text": "hola"}, replyTo="out-1"),
    inbound("text", {"text": "ho\x00la"}),
    inbound("text", {"text": "\ud800"}),
    status("out-1", ["read"]),
    status("out-1", "failed", error="302"),
    status("out-1", "x" * 33),
    [inbound("text", {"text": "hola"})],
    "message.created",
    None,
])
def test_wrong_shapes_are_malformed_not_crashes(body):
    with pytest.raises(content.MalformedWebhook):
        content.parse_event(body)


def test_unknown_fields_are_tolerated_everywhere():
    body = inbound("interactive", {"interactive": {
        "type": "button_reply", "reply": {"id": TAP, "text": "Anul·la", "new": [1]}, "new": {}},
        "new": "x"}, replyTo={"id": "out-1", "new": None}, new={"deep": [1, 2]})
    body["new"] = ["anything"]
    body["conversation"] = ["not", "read", "by", "Recorda"]
    msg = content.parse_event(body)
    assert (msg.text, msg.kind) == (TAP, "button")
    assert (msg.metadata["reply_to"], msg.metadata["title"]) == ("out-1", "Anul·la")


def test_cloud_api_style_reply_and_integer_ids():
    body = inbound("interactive", {"interactive": {"type": "list_reply",
                                                   "list_reply": {"id": TAP, "title": "dt. 1/12"}}},
                   message_id=12345)
    msg = content.parse_event(body)
    assert (msg.text, msg.kind, msg.message_id, msg.metadata["title"]) == (TAP, "button", "12345", "dt. 1/12")


def test_only_button_and_list_replies_are_taps():
    other = content.parse_event(inbound("interactive", {"interactive": {
        "type": "nfm_reply", "reply": {"id": TAP, "text": "x"}}}))
    assert (other.kind, other.metadata["media_type"]) == ("media", "interactive")
    assert other.text == '/EXTERNAL_media_message{"media_type":"other"}'
    # A reply whose id is not a payload of ours and that shows nothing: unreadable.
    with pytest.raises(content.MalformedWebhook):
        content.parse_event(inbound("button", {"button": {"payload": "not ours"}}))
    too_long = "/" + "a" * 300
    msg = content.parse_event(inbound("button", {"button": {"payload": too_long, "text": "Sí"}}))
    assert (msg.text, msg.kind) == ("Sí", "text")


def test_media_stays_media_and_content_may_be_absent():
    msg = content.parse_event(inbound("image", None))
    assert (msg.kind, msg.metadata["media_type"]) == ("media", "image")
    with pytest.raises(content.MalformedWebhook):
        content.parse_event(inbound("image", ["not", "an", "object"]))


@pytest.mark.parametrize("code,expected", [("302", 302), (302, 302), ("3O2", None), (-1, None),
                                           (2**40, None), ("٣٠٢", None), (None, None)])
def test_status_error_codes_are_numbers_or_none(code, expected):
    event = content.parse_event(status("out-1", "failed", {"code": code}))
    assert event.error_code == expected


@pytest.mark.parametrize("stamp,kept", [("2026-11-30T09:00:01Z", True),
                                        ("2026-11-30T09:00:01.123456789Z", False),
                                        ("0001-01-01T00:00:00+01:00", False),
                                        ("9999-12-31T23:59:59-01:00", False),
                                        ("yesterday", False)])
def test_status_times_are_plausible_or_none(stamp, kept):
    body = status("out-1", "read")
    body["message"]["updatedDatetime"] = stamp
    expected = datetime.fromisoformat(stamp.replace("Z", "+00:00")) if kept else None
    assert content.parse_event(body).at == expected


@pytest.mark.parametrize("raw,ok", [
    (b"[" * 32 + b"]" * 32, True),
    (b"[" * 33 + b"]" * 33, False),
    (b'{"a":' * 40 + b"1" + b"}" * 40, False),
    (b"[" * 100_000 + b"]" * 100_000, False),  # past Python's recursion limit
    (b'{"a": NaN}', False),
    ('{"a": "àü\\u00ff\\u2060"}'.encode(), True),
    (b'{"a": "\xff"}', False),  # not UTF-8
    (b"\xef\xbb\xbf{}", False),
    (b"", False),
], ids=["32 levels", "33 levels", "40 objects", "100000 levels", "NaN", "unicode", "not UTF-8", "BOM",
        "empty"])
def test_json_is_read_within_bounds(raw, ok):
    if ok:
        webhook_json.read_json(raw)
    else:
        with pytest.raises(content.MalformedWebhook):
            webhook_json.read_json(raw)


def test_taps_and_media_carry_their_meaning_without_nlu():
    tap = content.parse_event(inbound("button", {"button": {
        "text": "Anul·la", "payload": '/cancel_appointment{"appointment_id":"VLD-3"}'}}))
    assert tap.parse_data["intent"] == {"name": "cancel_appointment", "confidence": 1.0}
    assert tap.parse_data["entities"] == [{"entity": "appointment_id", "value": "VLD-3"}]
    media = content.parse_event(inbound("image", {"image": {"url": "https://x/i.jpg"}}))
    assert media.parse_data["intent"]["name"] == "EXTERNAL_media_message"
    assert media.parse_data["entities"] == [{"entity": "media_type", "value": "image"}]
    assert content.parse_event(inbound("text", {"text": "anul·la-la"})).parse_data is None


def test_a_status_names_the_citizen_it_went_to():
    # What lets a re-run find the message of a send that a killed process left unrecorded.
    assert content.parse_event(status("out-1", "sent")).recipient == CITIZEN
    body = status("out-1", "sent")
    del body["message"]["to"]
    body["contact"] = {"id": "c1", "msisdn": 34612345678}
    assert content.parse_event(body).recipient == CITIZEN
    del body["contact"]
    assert content.parse_event(body).recipient is None
