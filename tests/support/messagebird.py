"""Helpers for tests of the MessageBird connector's webhook: MessageBird-shaped
bodies, and the connector's real blueprint on a real Sanic server, posted to
with valid (or invalid) signatures.

    hook = await Webhook(db_url, provider.url).start()   # in the test's loop
    status, answer = await hook.post(inbound("text", {"text": "hola"}))

    with threaded_webhook(db_url) as hook:                # for sync tests (hypothesis)
        status, answer = hook.post_bytes(b"...")
"""
from __future__ import annotations

import asyncio
import http.client
import json
import threading
from contextlib import contextmanager
from typing import Any, Iterator, List, Optional, Tuple

import aiohttp

from connectors.messagebird import MessageBirdInput
from connectors.messagebird_signature import HEADER, sign_webhook
from tests.support.channel_harness import ChannelHarness

SIGNING_KEY = "test-signing-key-at-least-32-bytes-long"
CITIZEN = "+34612345678"
WEBHOOK_PATH = "/webhooks/messagebird/webhook"
# Nothing listens there: tests that never send use it as the provider's API.
NO_PROVIDER = "http://127.0.0.1:9/v1"


def inbound(message_type: str, content_: Any, message_id: str = "in-1", **extra) -> dict:
    return {"type": "message.created",
            "contact": {"id": "c1", "msisdn": 34612345678, "displayName": "Montse"},
            "conversation": {"id": "conv1", "status": "active"},
            "message": {"id": message_id, "direction": "received", "status": "received",
                        "platform": "whatsapp", "from": CITIZEN, "to": "channel",
                        "type": message_type, "content": content_, **extra}}


def status(message_id: str, status_: str, error: dict = None) -> dict:
    message = {"id": message_id, "direction": "sent", "status": status_, "type": "hsm",
               "to": CITIZEN, "updatedDatetime": "2026-11-30T09:00:01Z"}
    if error:
        message["error"] = error
    return {"type": "message.updated", "message": message}


class Webhook(ChannelHarness):
    """The connector's blueprint on a real Sanic server; what it hands to
    Rasa is kept in `received`."""

    def __init__(self, db_url: Optional[str], api_url: str = NO_PROVIDER, **channel_options):
        super().__init__(MessageBirdInput(
            api_url=api_url, access_key="ak", channel_id="channel", signing_key=SIGNING_KEY,
            webhook_url=None, template_namespace="ns", template_name="recorda_appointment_reminder",
            template_languages={"ca": "ca", "es": "es", "en": "en"}, db_url=db_url,
            **channel_options))

    def sign(self, data: bytes, key: str = SIGNING_KEY) -> str:
        return sign_webhook(key, self.url, data)

    async def post(self, body, key=SIGNING_KEY, raw: bytes = None, token=None, signed_body=None):
        data = raw if raw is not None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        token = token or sign_webhook(key, self.url, signed_body if signed_body is not None else data)
        if token != "none":
            headers[HEADER] = token
        async with aiohttp.ClientSession() as session:
            async with session.post(self.url, data=data, headers=headers) as resp:
                return resp.status, await resp.json()

    async def raw_post(self, headers: dict, pieces: List[bytes] = (), chunked: bool = False,
                       finish: bool = True, timeout: float = 5.0) -> Tuple[int, dict, bytes]:
        """POSTs over a bare socket: `headers`, then the body `pieces` (each one
        chunk when `chunked`) and, if `finish`, the closing chunk; then reads
        the answer: (status, lower-case headers, body). With finish=False or
        fewer bytes than Content-Length, an answer shows that the server
        decided before it had the whole body."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            head = [f"POST {WEBHOOK_PATH} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
            head += [f"{name}: {value}" for name, value in headers.items()]
            if chunked:
                head.append("Transfer-Encoding: chunked")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
            for piece in pieces:
                writer.write(b"%x\r\n%b\r\n" % (len(piece), piece) if chunked else piece)
            if chunked and finish:
                writer.write(b"0\r\n\r\n")
            await writer.drain()
            return await asyncio.wait_for(_read_answer(reader), timeout)
        finally:
            writer.close()


async def _read_answer(reader: asyncio.StreamReader) -> Tuple[int, dict, bytes]:
    status_line = await reader.readline()
    while status_line.startswith(b"HTTP/1.1 100"):  # an interim answer, then the real one
        await reader.readline()
        status_line = await reader.readline()
    headers = {}
    while True:
        line = (await reader.readline()).decode("latin-1").strip()
        if not line:
            break
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", 0)))
    return int(status_line.split()[1]), headers, body


class ThreadedWebhook:
    """A Webhook served from its own event loop in a thread, posted to with a
    plain keep-alive HTTP connection: for synchronous tests (hypothesis)."""

    def __init__(self, db_url: Optional[str], **channel_options):
        self.loop = asyncio.new_event_loop()
        self.hook = Webhook(db_url, **channel_options)
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._connection: Optional[http.client.HTTPConnection] = None

    @property
    def received(self) -> List[Any]:
        return self.hook.received

    def start(self) -> "ThreadedWebhook":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.hook.start(), self.loop).result(30)
        return self

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
        asyncio.run_coroutine_threadsafe(self.hook.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)
        self.loop.close()

    def post_bytes(self, data: bytes, signed: bool = True) -> Tuple[int, Any]:
        """(status, decoded JSON answer) for `data` POSTed, validly signed unless told."""
        headers = {"Content-Type": "application/json"}
        if signed:
            headers[HEADER] = self.hook.sign(data)
        for attempt in (1, 2):
            if self._connection is None:
                self._connection = http.client.HTTPConnection("127.0.0.1", self.hook.port, timeout=30)
            try:
                self._connection.request("POST", WEBHOOK_PATH, body=data, headers=headers)
                resp = self._connection.getresponse()
                answer = resp.read()
            except (http.client.HTTPException, ConnectionError):
                # The server closed the kept-alive connection (e.g. after a 413): once more.
                self._connection.close()
                self._connection = None
                if attempt == 2:
                    raise
                continue
            if resp.will_close:
                self._connection.close()
                self._connection = None
            return resp.status, json.loads(answer) if answer else None
        raise AssertionError("unreachable")


@contextmanager
def threaded_webhook(db_url: Optional[str], **channel_options) -> Iterator[ThreadedWebhook]:
    hook = ThreadedWebhook(db_url, **channel_options).start()
    try:
        yield hook
    finally:
        hook.stop()
