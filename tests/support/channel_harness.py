"""A WhatsApp channel's blueprint on a real Sanic server in the test's
process, whatever the provider: what the channel hands to Rasa is kept in
`received`, and `fail_next` makes the assistant fail once."""
from __future__ import annotations

from typing import Any, List

from sanic import Sanic

from bot.dev.processes import free_port
from bot.dev.served_app import serve, shut
from connectors.whatsapp_channel import WhatsAppInput


class ChannelHarness:
    def __init__(self, channel: WhatsAppInput):
        self.channel = channel
        self.port = free_port()
        self.prefix = f"/webhooks/{channel.name()}"
        self.url = f"http://127.0.0.1:{self.port}{self.prefix}/webhook"
        self.received: List[Any] = []
        self.fail_next = False
        self.channel.client.backoff_base = 0.01  # retries in the tests take no time

    async def on_new_message(self, message):
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("assistant crashed")
        self.received.append(message)

    async def start(self):
        app = Sanic(f"{self.channel.name()}_webhook_test_{self.port}")
        app.blueprint(self.channel.blueprint(self.on_new_message), url_prefix=self.prefix)
        self.server = await serve(app, self.port)
        return self

    async def stop(self) -> None:
        await shut(self.server)
        await self.channel.client.close()


