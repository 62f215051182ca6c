"""The MessageBird webhook under fire: thousands of validly signed bodies of
MessageBird's shape with wrong types at every level, missing and extra
fields, deep nesting, huge values and odd Unicode, through the real handler
on a real server (hypothesis). Plus the body-size cap, checked on a bare
socket so that it shows what the server did not read."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sqlite3
from typing import Any, List, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.messaging import seal as channel_seal
from bot.reminders.store import ReminderStore
from connectors.messagebird_signature import HEADER
from tests.support.messagebird import CITIZEN, Webhook, inbound, status, threaded_webhook

# Enough to hit every field with every wrong type; ~30-40 s on 2 busy cores.
EXAMPLES = int(os.environ.get("RECORDA_WEBHOOK_FUZZ_EXAMPLES", "2000"))
CAP = 1_000_000
KNOWN_MESSAGES = ["known-msg-0001", "known-msg-0002", "known-msg-0003"]
TAP = '/confirm_appointment{"appointment_id":"VLD-2026-000001"}'
PAYLOAD = re.compile(r"^/[A-Za-z0-9_]+(\{.*\})?$", re.S)
METADATA_KEYS = {"kind", "provider_message_id", "reply_to", "title", "media_type", channel_seal.METADATA_KEY}
DEEP = "\u0001deep\u0001"  # replaced in the JSON text by nesting too deep for json.dumps


# --- MessageBird's bodies, well formed --------------------------------------------
def _text(mid):
    return inbound("text", {"text": "a quina hora tinc la cita?"}, mid)


def _typed_payload(mid):
    return inbound("text", {"text": TAP}, mid)


def _button_reply(mid):
    return inbound("interactive", {"interactive": {"type": "button_reply",
                                                   "reply": {"id": TAP, "text": "Confirmo"}}},
                   mid, replyTo={"id": "out-1"})


def _list_reply(mid):
    return inbound("interactive", {"interactive": {"type": "list_reply",
                                                   "reply": {"id": TAP, "text": "dt. 1/12 10:30"}}}, mid)


def _quick_reply(mid):
    return inbound("button", {"button": {"text": "Confirmo", "payload": TAP}}, mid)


def _image(mid):
    return inbound("image", {"image": {"url": "https://example.cat/i.jpg", "caption": "DNI"}}, mid)


def _location(mid):
    return inbound("location", {"location": {"latitude": 41.5, "longitude": 2.1}}, mid)


def _status(mid):
    return status(mid, "read")


def _failed(mid):
    return status(mid, "failed", {"code": 302, "description": "not on WhatsApp"})


def _echo(mid):
    body = inbound("text", {"text": "Bon dia"}, mid)
    body["message"]["direction"] = "sent"
    return body


# name -> (builder, what the untouched body must give: answer, kind, text)
TEMPLATES = {
    "text": (_text, "handled", "text", "a quina hora tinc la cita?"),
    "typed_payload": (_typed_payload, "handled", "text", "\u2060" + TAP),
    "button_reply": (_button_reply, "handled", "button", TAP),
    "list_reply": (_list_reply, "handled", "button", TAP),
    "quick_reply": (_quick_reply, "handled", "button", TAP),
    "image": (_image, "handled", "media", '/EXTERNAL_media_message{"media_type":"image"}'),
    "location": (_location, "handled", "media", '/EXTERNAL_media_message{"media_type":"location"}'),
    "status": (_status, "recorded", None, None),
    "failed": (_failed, "recorded", None, None),
    "echo": (_echo, "ignored", None, None),
}


# --- garbage ------------------------------------------------------------------------
ODD_STRINGS = [
    "", " ", "/", "//", "\u2060/x", "\x00", "\ud800", "\udfff\ud800", "\u202eevil", "👩‍👩‍👧‍👦",
    "e\u0301",
    "\ufeff", "\uffff", "message.created", "message.updated", "conversation.created", "received", "sent",
    "text", "interactive", "button", "button_reply", "list_reply", "nfm_reply", "image", "whatsappSticker",
    "hsm", "unknownKind", TAP, "/EXTERNAL_appointment_reminder{\"appointment_id\":\"X\"}",
    "/cancel_appointment{not json}", "/cancel_appointment[1]", "/" + "a" * 300, CITIZEN, "34612345678",
    "+999", "9" * 70, "2026-11-30T09:00:01Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
    "NaN", "null", "{}", "[]", "read", "failed", "delivered", "302", "-1", "1e400",
]
FIELD_NAMES = ["type", "message", "id", "direction", "status", "from", "to", "content", "text",
               "interactive", "reply", "button_reply", "list_reply", "button", "payload", "title",
               "replyTo", "error", "code", "description", "updatedDatetime", "contact", "msisdn"]

odd_text = st.one_of(
    st.sampled_from(ODD_STRINGS),
    st.text(max_size=20),
    st.text(st.characters(exclude_categories=()), max_size=12),  # lone surrogates too
)
huge_text = st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=3), st.integers(1_000, 8_000))
# Sampled more than generated where generating adds nothing but time.
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-2**40, 2**40), odd_text,
    st.sampled_from([0, -1, 302, 2**31, 2**63, -10**300, 10**300, 0.5, -0.0, 1e308, 5e-324, 302.0]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES), odd_text), inner,
                                            max_size=3)),
    max_leaves=6,
)
garbage = st.one_of(
    json_values,
    st.one_of(huge_text, st.just(DEEP),
              st.builds(lambda v, n: [v] * n, st.one_of(st.none(), st.integers(-9, 9), st.just("x")),
                        st.integers(100, 5_000))),
)
# Made once: making strategies per example costs more than drawing from them.
template_names = st.sampled_from(sorted(TEMPLATES))
mutation_counts = st.integers(0, 3)
places = st.integers(1, 2**16)  # an index into the body's paths, modulo their number
operations = st.sampled_from(["replace", "replace", "delete", "add", "wrap"])
keys = st.one_of(st.sampled_from(FIELD_NAMES), odd_text)
encodings = st.tuples(st.booleans(), st.integers(1, 3_000), st.booleans())  # ascii, DEEP depth, as object


def _paths(value: Any, path: Tuple = ()) -> List[Tuple]:
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, path + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value[:8]):  # the first few stand for the rest
            found += _paths(child, path + (index,))
    return found


def _mutate(data, body: Any) -> Any:
    """One change at a drawn place: replace, delete, add a field, wrap in a list."""
    paths = _paths(body)
    path = paths[data.draw(places, label="place") % len(paths)]
    operation = data.draw(operations, label="op")
    if operation == "delete" and path:
        del _get(body, path[:-1])[path[-1]]
        return body
    if operation == "add" and isinstance(_get(body, path), dict):
        key = data.draw(keys, label="key")
        _get(body, path)[key] = data.draw(garbage, label="value")
        return body
    new = [_get(body, path)] if operation == "wrap" else data.draw(garbage, label="value")
    if not path:
        return new
    _get(body, path[:-1])[path[-1]] = new
    return body


def _get(value: Any, path: Tuple) -> Any:
    for part in path:
        value = value[part]
    return value


def _encode(body: Any, ascii_only: bool, depth: int, as_object: bool) -> bytes:
    text = json.dumps(body, ensure_ascii=ascii_only)
    nesting = '{"a":' * depth + "1" + "}" * depth if as_object else "[" * depth + "]" * depth
    text = text.replace(json.dumps(DEEP, ensure_ascii=ascii_only), nesting)
    # ensure_ascii=False keeps lone surrogates raw: sent as the bytes they would be.
    return text.encode("utf-8", "surrogatepass")


# --- what may come out ------------------------------------------------------------------
def _well_formed_inbound(body: Any) -> bool:
    """What must hold of any body the connector hands to Rasa."""
    message = body.get("message") if isinstance(body, dict) else None
    return (isinstance(message, dict) and body.get("type") == "message.created"
            and message.get("direction") == "received"
            and isinstance(message.get("id"), (str, int)) and not isinstance(message.get("id"), bool)
            and str(message.get("id")) != "" and isinstance(message.get("type"), str)
            and (message.get("content") is None or isinstance(message.get("content"), dict)))


def _taps_in(body: dict) -> List[str]:
    """The ids of real button replies in a body: the only places a tap may come from."""
    message, found = body["message"], []
    content = message.get("content") or {}
    if message["type"] == "interactive" and isinstance(content.get("interactive"), dict):
        interactive = content["interactive"]
        if interactive.get("type") in ("button_reply", "list_reply", None):
            replies = (interactive.get(k) for k in ("reply", "button_reply", "list_reply"))
            found += [r.get("id") for r in replies if isinstance(r, dict)]
    if message["type"] == "button" and isinstance(content.get("button"), dict):
        found.append(content["button"].get("payload"))
    return [f for f in found if isinstance(f, str)]


def _check_handed_over(body: Any, message) -> None:
    assert _well_formed_inbound(body), "a body that is no inbound message reached Rasa"
    kind = message.metadata["kind"]
    assert set(message.metadata) <= METADATA_KEYS
    assert message.message_id == str(body["message"]["id"]) == message.metadata["provider_message_id"]
    assert message.sender_id.startswith("+") and message.input_channel == "messagebird"
    if kind == "text":
        assert not message.text.startswith("/") and message.parse_data is None
    elif kind == "button":
        assert body["message"]["type"] in ("interactive", "button")
        assert message.text in [t.strip() for t in _taps_in(body)]
        assert PAYLOAD.match(message.text) and not message.text[1:].startswith("EXTERNAL_")
        assert message.parse_data["intent"]["confidence"] == 1.0
    else:
        assert kind == "media" and body["message"]["type"] not in ("text", "button")
        assert message.text.startswith('/EXTERNAL_media_message{"media_type":')


class _Lines(logging.Handler):
    """What the connector logs (warnings and up), per webhook."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.records: List[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)

    def check_and_clear(self) -> None:
        records, self.records = self.records, []
        errors = [r for r in records if r.levelno >= logging.ERROR]
        assert not errors, errors[0].getMessage()  # an unexpected exception reading a webhook
        assert len(records) <= 1  # one line per refused webhook
        assert all(len(r.getMessage()) < 700 and "\n" not in r.getMessage() for r in records)


@pytest.fixture
def reminders(db_url):
    """Three sent reminders; no fuzzed webhook may touch them."""
    store = ReminderStore(db_url)
    for number, message_id in enumerate(KNOWN_MESSAGES, start=1):
        appointment = f"VLD-2026-00000{number}"
        store.schedule(appointment, None, "oac-centre", CITIZEN, "ca")
        assert store.claim_for_sending(appointment, CITIZEN, "ca")
        store.mark_sent(appointment, message_id)
    # Read-only and kept open: looked at after every one of thousands of webhooks.
    db = sqlite3.connect(f"file:{db_url.removeprefix('sqlite:///')}?mode=ro", uri=True,
                         check_same_thread=False)
    yield db
    db.close()


def _snapshot(db: sqlite3.Connection):
    """Every reminder column and the number of history events: one cheap look."""
    return (db.execute("SELECT * FROM reminders ORDER BY id").fetchall(),
            db.execute("SELECT count(*) FROM reminder_events").fetchone())


@pytest.fixture
def served(db_url, reminders):
    lines = _Lines()
    logger = logging.getLogger("connectors.messagebird")
    logger.addHandler(lines)
    with threaded_webhook(db_url, max_body_bytes=CAP) as hook:
        yield hook, lines
    logger.removeHandler(lines)


def test_fuzzed_signed_webhooks_never_crash_nor_reach_rasa_malformed(served, reminders):
    hook, lines = served
    before = _snapshot(reminders)
    counter = iter(range(10**9))

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def one_webhook(data):
        name = data.draw(template_names, label="template")
        build, expected_answer, expected_kind, expected_text = TEMPLATES[name]
        body = build(f"fz-{next(counter)}")
        mutations = data.draw(mutation_counts, label="mutations")
        for _ in range(mutations):
            body = _mutate(data, body)
        raw = _encode(body, *data.draw(encodings, label="encoding"))
        if len(raw) > CAP:
            return  # the cap has its own tests below; over it the answer is 413 unread
        handed_before = len(hook.received)

        code, answer = hook.post_bytes(raw)

        assert code in (200, 400), (code, answer)
        assert len(json.dumps(answer)) < 400  # the answer never echoes the body
        handed = hook.received[handed_before:]
        if code == 200:
            assert answer["status"] in ("handled", "ignored", "recorded", "duplicate")
        assert len(handed) == (1 if code == 200 and answer["status"] == "handled" else 0)
        for message in handed:
            # Judged on the body as the server read it: the encoding turns
            # the DEEP marker into nesting, which may be a valid object.
            _check_handed_over(json.loads(raw.decode("utf-8")), message)
        if mutations == 0:
            assert answer["status"] == expected_answer
            if expected_kind:
                assert (handed[0].metadata["kind"], handed[0].text) == (expected_kind, expected_text)
        lines.check_and_clear()
        assert _snapshot(reminders) == before

    one_webhook()
    assert len(hook.received) > EXAMPLES // 20  # the well-formed ones did get through


# --- the size cap --------------------------------------------------------------------------
@pytest.fixture
async def webhook(db_url):
    hook = await Webhook(db_url).start()
    yield hook
    await hook.stop()


@pytest.mark.asyncio
async def test_unsigned_5_mb_body_gets_413_without_being_read(webhook):
    # Only 64 KB of the declared 5 MB are ever sent: the answer comes anyway.
    code, headers, answer = await webhook.raw_post(
        {"Content-Type": "application/json", "Content-Length": str(5 * 1024 * 1024),
         "Expect": "100-continue"}, [b"[" * 65536])
    assert code == 413 and json.loads(answer) == {"error": "body too large"}
    assert headers["connection"] == "close"
    assert webhook.received == []


@pytest.mark.asyncio
async def test_chunked_body_is_refused_once_over_the_cap(webhook):
    # Chunked, so no length up front: refused when the chunks pass 1 MB, the end never sent.
    code, headers, answer = await webhook.raw_post(
        {"Content-Type": "application/json"}, [b" " * 600_000, b" " * 600_000], chunked=True, finish=False)
    assert code == 413 and headers["connection"] == "close"
    assert webhook.received == []


@pytest.mark.asyncio
async def test_body_in_chunks_within_the_cap_is_read_whole(webhook):
    data = json.dumps(inbound("text", {"text": "hola " * 20_000}, "chunks-1")).encode()
    pieces = [data[i:i + 7_000] for i in range(0, len(data), 7_000)]
    code, _, answer = await webhook.raw_post(
        {"Content-Type": "application/json", HEADER: webhook.sign(data)}, pieces, chunked=True)
    assert (code, json.loads(answer)) == (200, {"status": "handled"})
    [message] = webhook.received
    assert message.text == ("hola " * 20_000).strip()


@pytest.mark.asyncio
async def test_bad_content_length_is_refused(webhook):
    code, _, _ = await webhook.raw_post({"Content-Length": "-5"}, [b"{}"])
    assert code == 400
    # Sanic 21.12 alone would then spin on that length, and answer nothing more.
    answer = await asyncio.wait_for(webhook.post(inbound("text", {"text": "hola"}, "after-1")), 5)
    assert answer == (200, {"status": "handled"})


@pytest.mark.asyncio
async def test_deeply_nested_signed_body_gets_400(webhook):
    nesting = b"[" * 50_000 + b"]" * 50_000
    raw = b'{"type": "message.created", "message": {"id": "x", "content": ' + nesting + b"}}"
    assert len(raw) < CAP
    code, answer = await webhook.post(None, raw=raw)
    assert code == 400 and "nested deeper" in answer["error"]
    assert webhook.received == []
