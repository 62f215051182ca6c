"""The simulator's `--redeliver`: a webhook the bot did not take (5xx, 429,
unreachable) is delivered again later with the same body, as providers do,
until it is taken; a 4xx is a final answer; without the option each webhook
goes once."""
from __future__ import annotations

import asyncio

import aiohttp
import pytest

from bot.dev.sandbox import whatsapp_webhooks
from bot.dev.sandbox.whatsapp_webhooks import WebhookSender
from tests.support.recording_server import RecordingServer

MESSAGE = {"id": "m1", "status": "received"}


def flaky_bot(answers) -> RecordingServer:
    """Answers each delivery with the next status of `answers` (then 202)."""
    return RecordingServer(script=[(status, {}, {}) for status in answers])


async def deliver(bot: RecordingServer, redeliver: bool, wait: float = 0.5):
    await bot.start()
    sender = WebhookSender(f"http://127.0.0.1:{bot.port}/webhook", lambda url, body: {}, redeliver=redeliver)
    try:
        async with aiohttp.ClientSession() as sender.session:
            first = await sender.post("message.created", MESSAGE, {"hello": "bot"})
            await asyncio.sleep(wait)
    finally:
        await bot.stop()
    return first, [entry["status_code"] for entry in sender.log]


@pytest.fixture(autouse=True)
def quick_redelivery(monkeypatch):
    monkeypatch.setattr(whatsapp_webhooks, "REDELIVERY_DELAYS", (0.01, 0.02, 0.03))


@pytest.mark.asyncio
async def test_a_failed_webhook_is_delivered_again_with_the_same_body_until_taken():
    bot = flaky_bot([500, 503, 429])
    first, attempts = await deliver(bot, redeliver=True)
    assert first == [500]
    assert attempts == [500, 503, 429, 202]
    assert [r.body for r in bot.requests] == [{"hello": "bot"}] * 4


@pytest.mark.asyncio
async def test_redelivery_gives_up_after_its_last_try():
    _, attempts = await deliver(flaky_bot([500] * 10), redeliver=True)
    assert attempts == [500] * 4


@pytest.mark.asyncio
async def test_a_refusal_is_final_and_without_the_option_nothing_is_redelivered():
    _, attempts = await deliver(flaky_bot([400]), redeliver=True)
    assert attempts == [400]
    _, attempts = await deliver(flaky_bot([500]), redeliver=False)
    assert attempts == [500]
