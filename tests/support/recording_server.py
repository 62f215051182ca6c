"""A local HTTP server that records what it is sent and answers from a
script: stands in for the provider's API in connector tests."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from aiohttp import web

from bot.dev.processes import free_port


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    body: dict


@dataclass
class RecordingServer:
    # Scripted answers, used in order; then 202 with a fresh id.
    script: List[Tuple[int, dict, dict]] = field(default_factory=list)
    requests: List[Recorded] = field(default_factory=list)
    port: int = 0
    _runner: Optional[web.AppRunner] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        self.requests.append(Recorded(request.method, request.path, dict(request.headers), body))
        if self.script:
            status, payload, headers = self.script.pop(0)
            return web.json_response(payload, status=status, headers=headers)
        return web.json_response({"id": f"msg{len(self.requests):04d}", "status": "accepted"}, status=202)

    async def start(self) -> "RecordingServer":
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        self.port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    def sent(self) -> List[dict]:
        return [r.body for r in self.requests if r.path == "/v1/send"]


def dumps(obj) -> bytes:
    return json.dumps(obj).encode()
