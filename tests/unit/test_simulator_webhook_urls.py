"""The WhatsApp simulator's `--status-webhook-url`, for both providers it
plays: statuses go there, signed for that URL, and the citizens' messages
still go to `--webhook-url`; without it everything goes to `--webhook-url`.
The simulator is built from its command line and served in this process."""
from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from typing import AsyncIterator, Callable, List, Optional

import aiohttp
import pytest

from bot.dev.processes import free_port
from bot.dev.sandbox.whatsapp_simulator import app_from, parse_args
from bot.dev.served_app import serve, shut
from connectors import messagebird_signature, whatsapp_cloud_signature
from tests.support.simulator import RecordedRequest, WebhookReceiver, webhook_receiver

CITIZEN = "+34612345678"  # a sandbox citizen on WhatsApp
ACCESS_KEY, SIGNING_KEY, CHANNEL_ID = "unit-access-key", "unit-signing-key-long-enough-for-hs256", "unit-channel"
TOKEN, APP_SECRET, PHONE_NUMBER_ID = "unit-cloud-token", "unit-cloud-app-secret", "123456789012345"


@asynccontextmanager
async def simulator(provider: str, webhook_url: str, status_url: Optional[str]) -> AsyncIterator[str]:
    """The simulator of this command line, served here; yields its base URL."""
    argv = ["--provider", provider, "--access-key", ACCESS_KEY, "--signing-key", SIGNING_KEY,
            "--channel-id", CHANNEL_ID, "--cloud-access-token", TOKEN, "--cloud-app-secret", APP_SECRET,
            "--cloud-phone-number-id", PHONE_NUMBER_ID, "--webhook-url", webhook_url,
            "--status-delays", "0.01,0.02,0.03"]
    if status_url:
        argv += ["--status-webhook-url", status_url]
    port = free_port()
    server = await serve(app_from(parse_args(argv)), port)
    await server.before_start()  # opens the webhooks' session, as app.run() does
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await shut(server)
        await server.after_stop()


async def send_text_and_reply(base: str, provider: str) -> None:
    """The business sends the citizen a text; the citizen writes back."""
    async with aiohttp.ClientSession() as http:
        if provider == "messagebird":
            send = http.post(f"{base}/v1/send", headers={"Authorization": f"AccessKey {ACCESS_KEY}"}, json={
                "to": CITIZEN, "from": CHANNEL_ID, "type": "text", "content": {"text": "Bon dia"}})
        else:
            send = http.post(f"{base}/v24.0/{PHONE_NUMBER_ID}/messages",
                             headers={"Authorization": f"Bearer {TOKEN}"},
                             json={"messaging_product": "whatsapp", "to": CITIZEN.lstrip("+"), "type": "text",
                                   "text": {"body": "Bon dia"}})
        async with send as reply:
            assert reply.status in (200, 202), await reply.text()
        async with http.post(f"{base}/sim/reply", json={"msisdn": CITIZEN, "text": "Hola"}) as reply:
            assert reply.status == 200, await reply.text()


async def wait_for(receiver: WebhookReceiver, count: int) -> List[RecordedRequest]:
    deadline = time.monotonic() + 5
    while len(receiver.requests) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)  # nothing more arrives
    return receiver.requests


def is_status(provider: str) -> Callable[[RecordedRequest], bool]:
    if provider == "messagebird":
        return lambda request: request.json["type"] == "message.updated"
    return lambda request: "statuses" in request.json["entry"][0]["changes"][0]["value"]


def signed_for(provider: str, request: RecordedRequest, url: str) -> bool:
    if provider == "whatsapp_cloud":  # Meta's HMAC covers the body alone
        return whatsapp_cloud_signature.sign(APP_SECRET, request.body) == request.headers["x-hub-signature-256"]
    try:
        messagebird_signature.verify_webhook(SIGNING_KEY, request.headers["messagebird-signature-jwt"],
                                             url, request.body)
    except messagebird_signature.SignatureError:
        return False
    return True


@pytest.mark.parametrize("provider", ["messagebird", "whatsapp_cloud"])
async def test_statuses_go_to_the_status_url_and_messages_to_the_webhook_url(provider):
    with webhook_receiver(path=f"/webhooks/{provider}/webhook") as rasa, \
            webhook_receiver(path=f"/webhooks/{provider}/statuses") as statuses:
        async with simulator(provider, rasa.url, statuses.url) as base:
            await send_text_and_reply(base, provider)
            got_statuses = await wait_for(statuses, 3)
            got_messages = await wait_for(rasa, 1)
    assert len(got_statuses) == 3 and all(map(is_status(provider), got_statuses))
    assert len(got_messages) == 1 and not is_status(provider)(got_messages[0])
    assert all(signed_for(provider, r, statuses.url) for r in got_statuses)
    assert signed_for(provider, got_messages[0], rasa.url)
    if provider == "messagebird":  # the JWT names the URL: a status signed for Rasa's would not pass there
        assert not signed_for(provider, got_statuses[0], rasa.url)


@pytest.mark.parametrize("provider", ["messagebird", "whatsapp_cloud"])
async def test_without_a_status_url_everything_goes_to_the_webhook_url(provider):
    with webhook_receiver(path=f"/webhooks/{provider}/webhook") as rasa:
        async with simulator(provider, rasa.url, None) as base:
            await send_text_and_reply(base, provider)
            got = await wait_for(rasa, 4)
    assert sorted(map(is_status(provider), got)) == [False, True, True, True]
    assert all(signed_for(provider, r, rasa.url) for r in got)
