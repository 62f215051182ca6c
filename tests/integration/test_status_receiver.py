"""Recorda's status receiver (bot/apps/status_receiver.py) served in this
process, for MessageBird and for Meta's Cloud API: statuses applied to the
reminder store once and never backwards, refusals of what the provider did
not sign, and a body with a citizen's message handed on to Rasa unchanged
(a Cloud API callback URL gets both) or refused where the signature names
the URL (MessageBird)."""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import aiohttp
import pytest
from aiohttp import web

import bot.foundation.clock
from bot.apps.status_receiver import channel_from_credentials, create_app, main
from bot.dev.processes import free_port
from bot.dev.served_app import serve, shut
from bot.reminders import states
from bot.reminders.store import ReminderStore
from connectors import messagebird_signature, whatsapp_cloud_signature
from connectors.messagebird import MessageBirdInput
from connectors.whatsapp_channel import WhatsAppInput
from connectors.whatsapp_cloud import WhatsAppCloudInput
from tests.support import messagebird as mb
from tests.support import whatsapp_cloud as cloud

CITIZEN = "+34612345678"
SEAL_SECRET = "test-seal-secret"
TEMPLATE_LANGUAGES = {"ca": "ca", "es": "es", "en": "en"}


# --- the two providers, as the receiver meets them --------------------------------
@dataclass
class Provider:
    name: str
    make_channel: Callable[..., WhatsAppInput]
    status_body: Callable[[str, str], dict]
    failed_body: Callable[[str], dict]
    message_body: Callable[[str, str], dict]
    sign: Callable[[str, bytes], Dict[str, str]]     # (url, raw) -> headers
    forge: Callable[[str, bytes], Dict[str, str]]
    no_whatsapp_code: int


def _now_iso() -> str:
    return bot.foundation.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")


def _now_unix() -> str:
    return str(int(bot.foundation.clock.now().timestamp()))


def _messagebird_status(message_id: str, status: str, error: Optional[dict] = None) -> dict:
    body = mb.status(message_id, status, error)
    body["message"]["updatedDatetime"] = _now_iso()
    return body


PRICING = {"billable": True, "pricing_model": "PMP", "category": "utility"}

MESSAGEBIRD = Provider(
    "messagebird",
    lambda db_url, **options: MessageBirdInput(
        api_url=mb.NO_PROVIDER, access_key="ak", channel_id="channel", signing_key=mb.SIGNING_KEY,
        webhook_url=None, template_namespace="ns", template_name="recorda_appointment_reminder",
        template_languages=TEMPLATE_LANGUAGES, db_url=db_url, seal_secret=SEAL_SECRET, **options),
    _messagebird_status,
    lambda message_id: _messagebird_status(message_id, "failed", {"code": 302, "description": "not on WhatsApp"}),
    lambda message_id, text: mb.inbound("text", {"text": text}, message_id=message_id),
    lambda url, raw: {messagebird_signature.HEADER: messagebird_signature.sign_webhook(mb.SIGNING_KEY, url, raw)},
    lambda url, raw: {messagebird_signature.HEADER: messagebird_signature.sign_webhook(
        "a-guessed-key-32-bytes-or-longer-x", url, raw)},
    302,
)

CLOUD = Provider(
    "whatsapp_cloud",
    lambda db_url, **options: WhatsAppCloudInput(
        api_url=cloud.NO_PROVIDER, api_version=cloud.API_VERSION, phone_number_id=cloud.PHONE_NUMBER_ID,
        access_token=cloud.ACCESS_TOKEN, app_secret=cloud.APP_SECRET, verify_token=cloud.VERIFY_TOKEN,
        db_url=db_url, seal_secret=SEAL_SECRET, **options),
    lambda message_id, status: cloud.envelope(cloud.status(message_id, status, _now_unix(), pricing=PRICING)),
    lambda message_id: cloud.envelope(cloud.status(message_id, "failed", _now_unix(), errors=[
        {"code": 131026, "title": "Message undeliverable"}])),
    lambda message_id, text: cloud.envelope(cloud.message("text", message_id, text={"body": text})),
    lambda url, raw: {whatsapp_cloud_signature.HEADER: whatsapp_cloud_signature.sign(cloud.APP_SECRET, raw)},
    lambda url, raw: {whatsapp_cloud_signature.HEADER: whatsapp_cloud_signature.sign("not-the-app-secret", raw)},
    131026,
)

PROVIDERS = pytest.mark.parametrize("provider", [MESSAGEBIRD, CLOUD], ids=lambda p: p.name)


# --- the receiver and a stand-in for Rasa --------------------------------------------
class Receiver:
    """The status receiver's app on a real Sanic server in this process."""

    def __init__(self, channel: WhatsAppInput, rasa_url: str, handover_seconds: float = 5.0):
        self.channel = channel
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/webhooks/{channel.name()}/statuses"
        self.app = create_app(channel, rasa_url, name=f"status_receiver_test_{self.port}",
                              handover_timeout=aiohttp.ClientTimeout(total=handover_seconds))

    async def start(self) -> "Receiver":
        self.server = await serve(self.app, self.port)
        await self.server.before_start()  # opens the session to Rasa, as app.run() does
        return self

    async def stop(self) -> None:
        await shut(self.server)
        await self.server.after_stop()

    async def post_raw(self, raw: bytes, headers: Dict[str, str]) -> Tuple[int, Any]:
        async with aiohttp.ClientSession() as session:
            async with session.post(self.url, data=raw,
                                    headers={"Content-Type": "application/json", **headers}) as reply:
                return reply.status, await reply.json(content_type=None)

    async def post(self, provider: Provider, body: Any, sign_as: Optional[str] = None) -> Tuple[int, Any]:
        """`body` signed as the provider signs it for a call to `sign_as` (default this URL)."""
        raw = json.dumps(body).encode()
        return await self.post_raw(raw, provider.sign(sign_as or self.url, raw))


@dataclass
class RasaStandIn:
    """Records each request's raw body and headers; answers from `answers`
    (then 200 {"status": "handled"}) after `delay` seconds."""
    answers: List[Tuple[int, dict]]
    delay: float = 0.0

    async def start(self) -> "RasaStandIn":
        self.requests: List[Tuple[str, Dict[str, str], bytes]] = []
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        self.port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.path, dict(request.headers), await request.read()))
        await asyncio.sleep(self.delay)
        status, answer = self.answers.pop(0) if self.answers else (200, {"status": "handled"})
        return web.json_response(answer, status=status)

    async def stop(self) -> None:
        await self.runner.cleanup()


def sent_reminder(db_url: str, appointment_id: str, message_id: str) -> ReminderStore:
    """A reminder sent as `message_id`, waiting for its statuses."""
    store = ReminderStore(db_url)
    store.schedule(appointment_id, None, "oac", CITIZEN, "ca")
    assert store.claim_for_sending(appointment_id)
    store.mark_sent(appointment_id, message_id)
    return store


def events_after_sending(store: ReminderStore, appointment_id: str) -> List[Tuple[str, bool]]:
    return [(e.event, e.applied) for e in store.history(appointment_id)][3:]  # scheduled, sending, sent


@pytest.fixture
async def rasa():
    stand_in = await RasaStandIn([]).start()
    yield stand_in
    await stand_in.stop()


@pytest.fixture
async def receiver(request, db_url, rasa):
    started = await Receiver(request.param.make_channel(db_url), rasa.url).start()
    yield started
    await started.stop()


def each_provider(test):
    """Runs `test` once per provider, with a receiver of that provider's channel."""
    return pytest.mark.parametrize("provider, receiver", [(MESSAGEBIRD, MESSAGEBIRD), (CLOUD, CLOUD)],
                                   ids=["messagebird", "whatsapp_cloud"], indirect=["receiver"])(test)


# --- statuses ------------------------------------------------------------------------
@each_provider
async def test_a_status_is_applied_once_and_its_redelivery_answered_duplicate(provider, receiver, db_url, rasa):
    store = sent_reminder(db_url, "VLD-1", "out-1")
    body = provider.status_body("out-1", "delivered")
    assert await receiver.post(provider, body) == (200, {"status": "recorded"})
    assert await receiver.post(provider, body) == (200, {"status": "duplicate"})  # a fresh signature, same status
    assert store.get("VLD-1").state == states.DELIVERED
    assert events_after_sending(store, "VLD-1") == [("delivered", True)]
    assert rasa.requests == []  # statuses never reach Rasa


@each_provider
async def test_out_of_order_statuses_never_move_the_reminder_back(provider, receiver, db_url):
    store = sent_reminder(db_url, "VLD-2", "out-2")
    for status in ("read", "delivered", "sent"):
        assert await receiver.post(provider, provider.status_body("out-2", status)) == (200, {"status": "recorded"})
    reminder = store.get("VLD-2")
    assert reminder.state == states.READ and reminder.was_read
    assert events_after_sending(store, "VLD-2") == [("read", True), ("delivered", False), ("sent", False)]


@each_provider
async def test_a_failed_status_fails_the_reminder_with_its_reason(provider, receiver, db_url):
    store = sent_reminder(db_url, "VLD-3", "out-3")
    assert (await receiver.post(provider, provider.failed_body("out-3")))[0] == 200
    reminder = store.get("VLD-3")
    assert (reminder.state, reminder.reason, reminder.error_code) == (
        states.FAILED, "no_whatsapp_account", provider.no_whatsapp_code)


@pytest.mark.parametrize("receiver", [MESSAGEBIRD], indirect=True, ids=["messagebird"])
async def test_a_free_form_replys_statuses_are_answered_without_touching_the_reminders(receiver, db_url):
    """Three statuses come for each of the assistant's replies; MessageBird
    says the message was text, so no reminder can be concerned and nothing
    is kept. A template's status that matches no reminder yet is kept."""
    from sqlalchemy import func, select

    from bot.reminders.records import unmatched_statuses
    store = ReminderStore(db_url)

    def unmatched() -> int:
        with store.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(unmatched_statuses)).scalar()

    for status in ("sent", "delivered", "read"):
        body = _messagebird_status("reply-1", status)
        body["message"]["type"] = "text"
        assert await receiver.post(MESSAGEBIRD, body) == (200, {"status": "ignored"})
    assert unmatched() == 0
    assert await receiver.post(MESSAGEBIRD, _messagebird_status("template-1", "sent")) == (200, {"status": "recorded"})
    assert unmatched() == 1


@pytest.mark.parametrize("receiver", [CLOUD], indirect=True, ids=["whatsapp_cloud"])
async def test_a_batch_of_cloud_statuses_is_answered_as_the_channel_does_and_keeps_the_pricing(receiver, db_url):
    store = sent_reminder(db_url, "VLD-4", "wamid.out-4")
    body = cloud.envelope(cloud.status("wamid.out-4", "delivered", _now_unix(), pricing=PRICING),
                          cloud.status("wamid.out-4", "read", _now_unix(), pricing=PRICING))
    assert await receiver.post(CLOUD, body) == (200, {"status": "handled", "events": ["recorded", "recorded"]})
    assert await receiver.post(CLOUD, body) == (200, {"status": "handled", "events": ["duplicate", "duplicate"]})
    assert store.get("VLD-4").state == states.READ
    [delivered, _] = store.history("VLD-4")[3:]
    assert delivered.detail["pricing"] == {"billable": True, "category": "utility", "model": "PMP"}


@each_provider
async def test_a_status_that_could_not_be_recorded_is_recorded_on_redelivery(provider, receiver, db_url, monkeypatch):
    store = sent_reminder(db_url, "VLD-5", "out-5")
    reminders = receiver.channel.reminders
    record = reminders.record_provider_status

    def database_gone_once(*args, **kwargs):
        # After the receipt, in the same transaction: both are undone.
        monkeypatch.setattr(reminders, "record_provider_status", record)
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(reminders, "record_provider_status", database_gone_once)
    body = provider.status_body("out-5", "delivered")
    assert await receiver.post(provider, body) == (500, {"error": "could not record the status"})
    assert store.get("VLD-5").state == states.SENT
    assert await receiver.post(provider, body) == (200, {"status": "recorded"})
    assert store.get("VLD-5").state == states.DELIVERED


# --- refusals ------------------------------------------------------------------------
@each_provider
async def test_a_forged_status_gets_401_and_moves_nothing(provider, receiver, db_url, caplog):
    store = sent_reminder(db_url, "VLD-6", "out-6")
    raw = json.dumps(provider.status_body("out-6", "read")).encode()
    for headers in (provider.forge(receiver.url, raw), {}):
        assert await receiver.post_raw(raw, headers) == (401, {"error": "invalid signature"})
    assert store.get("VLD-6").state == states.SENT
    assert len([r for r in caplog.records if "Rejected" in r.getMessage() and r.levelname == "WARNING"]) == 2


@PROVIDERS
async def test_an_oversized_body_gets_413(provider, db_url, rasa, caplog):
    receiver = await Receiver(provider.make_channel(db_url, max_body_bytes=2048), rasa.url).start()
    try:
        sent_reminder(db_url, "VLD-7", "out-7")
        body = provider.status_body("out-7", "read")
        padded = {**body, "padding": "x" * 4096}
        assert await receiver.post(provider, padded) == (413, {"error": "body too large"})
        assert any("body over 2048 bytes" in r.getMessage() for r in caplog.records)
        assert await receiver.post(provider, body) == (200, {"status": "recorded"})
    finally:
        await receiver.stop()


@each_provider
async def test_a_malformed_signed_body_gets_400(provider, receiver, caplog):
    for raw in (b"{not json", json.dumps({"object": ["x"], "type": ["x"]}).encode()):
        code, answer = await receiver.post_raw(raw, provider.sign(receiver.url, raw))
        assert code == 400 and answer["error"].startswith("malformed webhook")
    assert len([r for r in caplog.records if "Malformed" in r.getMessage()]) == 2
    async with aiohttp.ClientSession() as session:  # and the receiver still answers
        async with session.get(f"http://127.0.0.1:{receiver.port}/health") as reply:
            assert (reply.status, await reply.json()) == (200, {"status": "ok", "channel": provider.name})


# --- a citizen's message -------------------------------------------------------------
@pytest.mark.parametrize("receiver", [CLOUD], indirect=True, ids=["whatsapp_cloud"])
async def test_a_cloud_message_goes_to_rasa_with_its_signature_and_rasa_answers(receiver, rasa, db_url):
    store = sent_reminder(db_url, "VLD-8", "wamid.out-8")
    rasa.answers.append((200, {"status": "handled", "events": ["handled", "recorded"]}))
    body = cloud.envelope(cloud.message("text", "wamid.in-8", text={"body": "confirmo"}),
                          cloud.status("wamid.out-8", "read", _now_unix()))
    raw = json.dumps(body, separators=(",", ":")).encode()  # not as json.dumps writes it by default
    signature = CLOUD.sign(receiver.url, raw)
    assert await receiver.post_raw(raw, signature) == (200, {"status": "handled", "events": ["handled", "recorded"]})
    [(path, headers, forwarded)] = rasa.requests
    assert path == "/webhooks/whatsapp_cloud/webhook"
    assert forwarded == raw
    assert headers[whatsapp_cloud_signature.HEADER] == signature[whatsapp_cloud_signature.HEADER]
    # The whole body is Rasa's to handle: the receiver applied nothing of it.
    assert store.get("VLD-8").state == states.SENT


@pytest.mark.parametrize("receiver", [CLOUD], indirect=True, ids=["whatsapp_cloud"])
async def test_rasa_refusing_or_failing_is_passed_back(receiver, rasa):
    rasa.answers += [(401, {"error": "invalid signature"}), (500, {"error": "could not handle the message"})]
    body = CLOUD.message_body("wamid.in-9", "hola")
    assert await receiver.post(CLOUD, body) == (401, {"error": "invalid signature"})
    assert await receiver.post(CLOUD, body) == (500, {"error": "could not handle the message"})


async def test_with_rasa_down_a_cloud_message_gets_502_and_its_redelivery_loses_nothing(db_url, caplog):
    """The Cloud API batches a message with a status: Rasa down is a 502 that
    applies nothing, so the redelivery, once Rasa is back, applies all once."""
    store = sent_reminder(db_url, "VLD-10", "wamid.out-10")
    rasa = cloud.CloudWebhook(db_url)  # Rasa's real channel, not listening yet
    receiver = await Receiver(CLOUD.make_channel(db_url), f"http://127.0.0.1:{rasa.port}").start()
    body = cloud.envelope(cloud.message("text", "wamid.in-10", text={"body": "confirmo"}),
                          cloud.status("wamid.out-10", "delivered", _now_unix()))
    try:
        assert await receiver.post(CLOUD, body) == (502, {"error": "Rasa is unreachable"})
        assert any("Rasa is unreachable" in r.getMessage() for r in caplog.records)
        assert store.get("VLD-10").state == states.SENT
        await rasa.start()
        assert await receiver.post(CLOUD, body) == (200, {"status": "handled", "events": ["handled", "recorded"]})
        assert await receiver.post(CLOUD, body) == (200, {"status": "handled", "events": ["duplicate", "duplicate"]})
    finally:
        await receiver.stop()
        await rasa.stop()
    assert [m.message_id for m in rasa.received] == ["wamid.in-10"]
    assert store.get("VLD-10").state == states.DELIVERED
    assert events_after_sending(store, "VLD-10") == [("delivered", True)]


async def test_a_rasa_that_does_not_answer_in_time_gets_504(db_url):
    rasa = await RasaStandIn([], delay=2.0).start()
    receiver = await Receiver(CLOUD.make_channel(db_url), rasa.url, handover_seconds=0.3).start()
    try:
        assert await receiver.post(CLOUD, CLOUD.message_body("wamid.in-11", "hola")) == (
            504, {"error": "Rasa did not answer in time"})
    finally:
        await receiver.stop()
        await rasa.stop()


@pytest.mark.parametrize("receiver", [MESSAGEBIRD], indirect=True, ids=["messagebird"])
async def test_a_messagebird_message_at_the_status_url_is_refused_and_says_where_it_goes(receiver, rasa, caplog):
    code, answer = await receiver.post(MESSAGEBIRD, MESSAGEBIRD.message_body("in-12", "hola"))
    assert code == 421 and "/webhooks/messagebird/webhook" in answer["error"]
    assert rasa.requests == []
    [line] = [r.getMessage() for r in caplog.records if r.name == "recorda.status_receiver"]
    assert "Subscribe message.created to Rasa's" in line and f"{rasa.url}/webhooks/messagebird/webhook" in line


# --- configuration -------------------------------------------------------------------
async def test_messagebird_signatures_are_checked_against_the_public_status_url(db_url, rasa, tmp_path, monkeypatch):
    """Behind a reverse proxy MessageBird signs the public URL, which the
    receiver reads from its own setting (MESSAGEBIRD_STATUS_WEBHOOK_URL)."""
    public = "https://recorda.example.org/webhooks/messagebird/statuses"
    credentials = tmp_path / "credentials.yml"
    credentials.write_text("connectors.messagebird.MessageBirdInput:\n"
                           f"  access_key: ak\n  channel_id: channel\n  signing_key: {mb.SIGNING_KEY}\n"
                           "  status_webhook_url: https://old.example.org/statuses\n")
    for name in ("ACCESS_KEY", "CHANNEL_ID", "SIGNING_KEY", "WEBHOOK_URL", "MAX_BODY_BYTES"):
        monkeypatch.delenv(f"MESSAGEBIRD_{name}", raising=False)
    monkeypatch.setenv("MESSAGEBIRD_STATUS_WEBHOOK_URL", public)
    monkeypatch.setenv("RECORDA_DB_URL", db_url)
    channel = channel_from_credentials("messagebird", str(credentials))
    assert channel.status_webhook_url == public
    store = sent_reminder(db_url, "VLD-13", "out-13")
    receiver = await Receiver(channel, rasa.url).start()
    try:
        body = MESSAGEBIRD.status_body("out-13", "delivered")
        assert (await receiver.post(MESSAGEBIRD, body))[0] == 401  # signed for the local URL
        assert await receiver.post(MESSAGEBIRD, body, sign_as=public) == (200, {"status": "recorded"})
    finally:
        await receiver.stop()
    assert store.get("VLD-13").state == states.DELIVERED


async def test_the_cloud_receiver_answers_metas_subscription_handshake(db_url, rasa):
    receiver = await Receiver(CLOUD.make_channel(db_url), rasa.url).start()
    try:
        async with aiohttp.ClientSession() as session:
            for token, expected in ((cloud.VERIFY_TOKEN, (200, "1158201444")), ("wrong", (403, "forbidden"))):
                params = {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1158201444"}
                async with session.get(receiver.url, params=params) as reply:
                    assert (reply.status, await reply.text()) == expected
    finally:
        await receiver.stop()


def test_the_receiver_does_not_start_without_the_channels_settings(tmp_path, monkeypatch, capsys):
    credentials = tmp_path / "credentials.yml"
    credentials.write_text("connectors.whatsapp_cloud.WhatsAppCloudInput:\n  phone_number_id: '1'\n")
    for name in ("PHONE_NUMBER_ID", "ACCESS_TOKEN", "APP_SECRET", "VERIFY_TOKEN"):
        monkeypatch.delenv(f"WHATSAPP_CLOUD_{name}", raising=False)
    monkeypatch.setenv("RECORDA_WHATSAPP_CHANNEL", "whatsapp_cloud")
    monkeypatch.setenv("RECORDA_DB_URL", f"sqlite:///{tmp_path / 'recorda.db'}")
    assert main(["--credentials", str(credentials)]) == 2
    assert "`access_token` is missing" in capsys.readouterr().err
    assert main(["--credentials", str(tmp_path / "nowhere.yml")]) == 2
    assert "does not exist" in capsys.readouterr().err
