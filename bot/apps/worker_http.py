"""The worker's small HTTP server (RECORDA_WORKER_PORT; off when unset),
served by the worker's own event loop beside its duties:

    GET /health   200 while the duty loop finishes passes; 503 once no pass
                  has finished for `stall_after` seconds (a duty hangs)
    GET /ready    the database answers (bot.foundation.health)
    GET /metrics  Prometheus text (bot.foundation.metrics)
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional, Sequence

from aiohttp import web

from bot.foundation import metrics
from bot.foundation.aio import in_thread
from bot.foundation.health import Check, readiness

DEFAULT_STALL_AFTER = 900.0  # a pass with the booking system down can take minutes


@dataclass
class Heartbeat:
    """When the duty loop last finished a pass (monotonic seconds)."""
    started: float = field(default_factory=time.monotonic)
    last_pass: Optional[float] = None

    def beat(self) -> None:
        self.last_pass = time.monotonic()
        metrics.mark_worker_pass(time.time())

    def silent_for(self) -> float:
        return time.monotonic() - (self.last_pass if self.last_pass is not None else self.started)


def operations_app(checks: Sequence[Check], heartbeat: Heartbeat,
                   stall_after: float = DEFAULT_STALL_AFTER) -> web.Application:
    async def health(_: web.Request) -> web.Response:
        silent = heartbeat.silent_for()
        body = {"status": "ok" if silent <= stall_after else "stalled",
                "seconds_since_last_pass": round(silent, 1) if heartbeat.last_pass is not None else None}
        return web.json_response(body, status=200 if silent <= stall_after else 503)

    async def ready(_: web.Request) -> web.Response:
        ok, body = await readiness(checks)
        return web.json_response(body, status=200 if ok else 503)

    async def scrape(request: web.Request) -> web.Response:
        if not metrics.scrape_allowed(request.headers.get("Authorization")):
            return web.json_response({"error": "unauthorised"}, status=401)
        body, content_type = await in_thread(metrics.exposition)
        response = web.Response(body=body)
        response.headers["Content-Type"] = content_type
        return response

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
    app.router.add_get("/metrics", scrape)
    return app


async def start_operations_server(host: str, port: int, checks: Sequence[Check], heartbeat: Heartbeat,
                                  stall_after: float = DEFAULT_STALL_AFTER) -> web.AppRunner:
    """Serving from the running loop when this returns; `await runner.cleanup()` stops it."""
    runner = web.AppRunner(operations_app(checks, heartbeat, stall_after), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
