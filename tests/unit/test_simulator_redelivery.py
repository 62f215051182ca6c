"""The simulator's `--redeliver`: a webhook the bot did not take (5xx, 429,
unreachable) is delivered again later with the same body, as providers do,
until it is taken; a 4xx is a final answer; without the option each webhook
goes once."""
from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from aiohttp import web

from bot.dev.processes import free_port
from bot.dev.sandbox import whatsapp_webhooks
from bot.dev.sandbox.whatsapp_webhooks import WebhookSender

MESSAGE = {"id": "m1", "status": "received"}


class FlakyBot:
    """Answers each delivery with the next status of `answers` (then 200)."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.bodies = []
        self.port = free_port()

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.read())
        return web.Response(status=self.answers.pop(0) if self.answers else 200)

    async def __aenter__(self):
        app = web.Application()
        app.router.add_post("/webhook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc):
        await self.runner.cleanup()


async def deliver(bot: FlakyBot, redeliver: bool, wait: float = 0.5):
    sender = WebhookSender(f"http://127.0.0.1:{bot.port}/webhook", lambda url, body: {}, redeliver=redeliver)
    async with aiohttp.ClientSession() as sender.session:
        first = await sender.post("message.created", MESSAGE, {"hello": "bot"})
        await asyncio.sleep(wait)
    return first, [entry["status_code"] for entry in sender.log]


@pytest.fixture(autouse=True)
def quick_redelivery(monkeypatch):
    monkeypatch.setattr(whatsapp_webhooks, "REDELIVERY_DELAYS", (0.01, 0.02, 0.03))


@pytest.mark.asyncio
async def test_a_failed_webhook_is_delivered_again_with_the_same_body_until_taken():
    async with FlakyBot([500, 503, 429]) as bot:
        first, attempts = await deliver(bot, redeliver=True)
    assert first == [500]
    assert attempts == [500, 503, 429, 200]
    assert len(set(bot.bodies)) == 1 and json.loads(bot.bodies[0]) == {"hello": "bot"}


@pytest.mark.asyncio
async def test_redelivery_gives_up_after_its_last_try():
    async with FlakyBot([500] * 10) as bot:
        _, attempts = await deliver(bot, redeliver=True)
    assert attempts == [500] * 4


@pytest.mark.asyncio
async def test_a_refusal_is_final_and_without_the_option_nothing_is_redelivered():
    async with FlakyBot([400]) as bot:
        _, attempts = await deliver(bot, redeliver=True)
    assert attempts == [400]
    async with FlakyBot([500]) as bot:
        _, attempts = await deliver(bot, redeliver=False)
    assert attempts == [500]
