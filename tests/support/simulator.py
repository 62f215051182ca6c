"""Helpers for tests that need the WhatsApp simulator: run it as a real
process, and record the webhooks it POSTs. Plain context managers, so any
test module can wrap them in fixtures of the scope it needs.

    with webhook_receiver() as receiver, start_simulator(webhook_url=receiver.url) as sim:
        ...  # sim.api_url is what the connector's api_url should be
"""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

from bot.dev import processes
from bot.dev.processes import free_port

ACCESS_KEY = "test-access-key"
SIGNING_KEY = "test-signing-key-long-enough-for-hs256"
CHANNEL_ID = "test-whatsapp-channel"
WEBHOOK_PATH = "/webhooks/messagebird/webhook"
FAST_DELAYS = (0.05, 0.1, 0.15)
# The reminder template's body parameters, as the job fills them in.
REMINDER_PARAMETERS = ["Montserrat", "dimarts 3 de juny a les 10:30", "Renovació del DNI",
                       "OAC Centre, Plaça de la Vila 1", "https://maps.example.org/oac-centre",
                       "https://tramits.example.org/dni"]


# ------------------------------------------------------------ webhook receiver

@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict  # lower-case names
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)


class WebhookReceiver:
    """Records every POST it gets and answers with `status_code` (settable)."""

    def __init__(self, port: int, path: str):
        self.url = f"http://127.0.0.1:{port}{path}"
        self.status_code = 200
        self._requests: List[RecordedRequest] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _RecordingHandler)
        self._server.daemon_threads = True
        self._server.receiver = self

    @property
    def requests(self) -> List[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def events(self, message_id: Optional[str] = None) -> List[dict]:
        """Parsed webhook bodies, optionally only those about one message."""
        bodies = [r.json for r in self.requests]
        return [b for b in bodies if message_id is None or b["message"]["id"] == message_id]

    def messages_from(self, msisdn: str) -> List[dict]:
        """The messages a citizen's number sent (message.created webhooks)."""
        return [e["message"] for e in self.events()
                if e["type"] == "message.created" and e["message"]["from"] == msisdn]

    async def wait_for(self, predicate: Callable[[List[RecordedRequest]], bool],
                       timeout: float = 5.0) -> List[RecordedRequest]:
        """Polls (without blocking the event loop) until predicate(requests) holds."""
        deadline = time.monotonic() + timeout
        while not predicate(self.requests):
            if time.monotonic() > deadline:
                raise AssertionError(f"webhooks not as expected after {timeout} s: {self.events()}")
            await asyncio.sleep(0.02)
        return self.requests

    def serve(self) -> None:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _RecordingHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {name.lower(): value for name, value in self.headers.items()}
        receiver = self.server.receiver
        receiver.record(RecordedRequest(self.path, headers, body))
        self.send_response(receiver.status_code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass  # keep test output quiet


@contextmanager
def webhook_receiver(port: Optional[int] = None, path: str = WEBHOOK_PATH) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(port or free_port(), path)
    receiver.serve()
    try:
        yield receiver
    finally:
        receiver.close()


# ------------------------------------------------------------------- simulator

@dataclass(frozen=True)
class SimulatorProcess:
    url: str  # http://127.0.0.1:<port>
    webhook_url: str
    access_key: str
    signing_key: str
    channel_id: str
    process: subprocess.Popen

    @property
    def api_url(self) -> str:
        """What the connector's `api_url` must be."""
        return self.url + "/v1"

    @property
    def auth_headers(self) -> dict:
        return {"Authorization": f"AccessKey {self.access_key}"}

    def call(self, method: str, path: str, body: Optional[dict] = None) -> Tuple[int, object]:
        """A blocking call to the simulator (for sync fixtures): (status, parsed JSON)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json", **self.auth_headers})
        try:
            with urllib.request.urlopen(request, timeout=5) as reply:
                return reply.status, json.loads(reply.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def reset(self) -> None:
        self.call("POST", "/sim/reset", {})


@contextmanager
def start_simulator(port: Optional[int] = None, webhook_url: Optional[str] = None,
                    delays: Tuple[float, float, float] = FAST_DELAYS,
                    access_key: str = ACCESS_KEY, signing_key: str = SIGNING_KEY,
                    channel_id: str = CHANNEL_ID, startup_timeout: float = 30.0,
                    extra_args: Sequence[str] = ()) -> Iterator[SimulatorProcess]:
    """Runs `python -m bot.dev.sandbox.whatsapp_simulator` until the block ends;
    `extra_args` are more of its options (e.g. --citizens realistic)."""
    port = port or free_port()
    webhook_url = webhook_url or f"http://127.0.0.1:{free_port()}{WEBHOOK_PATH}"
    command = [sys.executable, "-m", "bot.dev.sandbox.whatsapp_simulator", "--host", "127.0.0.1",
               "--port", str(port), "--access-key", access_key, "--signing-key", signing_key,
               "--channel-id", channel_id, "--webhook-url", webhook_url,
               "--status-delays", ",".join(str(d) for d in delays), *extra_args]
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="recorda-simulator-") as log_dir, \
            processes.running("the WhatsApp simulator", command, url + "/sim/health",
                              Path(log_dir) / "simulator.log", timeout=startup_timeout, stop_timeout=5) as child:
        yield SimulatorProcess(url, webhook_url, access_key, signing_key, channel_id, child.process)


# --- the realistic profile, live -------------------------------------------------

@contextmanager
def realistic_simulator(receiver: WebhookReceiver, time_scale: float, seed: int) -> Iterator[SimulatorProcess]:
    """The simulator with realistic citizens, its webhooks to `receiver`."""
    args = ["--citizens", "realistic", "--time-scale", str(time_scale), "--seed", str(seed)]
    with start_simulator(webhook_url=receiver.url, extra_args=args) as sim:
        yield sim


async def sim_call(http, simulator, method: str, path: str, body: Optional[dict] = None):
    """(status, decoded JSON) of a call to the simulator's API."""
    async with http.request(method, simulator.url + path, json=body, headers=simulator.auth_headers) as r:
        return r.status, await r.json()


async def sim_send(http, simulator, body: dict) -> str:
    """The id of a message the simulator accepted for sending."""
    status, answer = await sim_call(http, simulator, "POST", "/v1/send", body)
    assert status == 202, answer
    return answer["id"]
