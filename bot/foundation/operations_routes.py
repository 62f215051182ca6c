"""GET /health, /ready and /metrics on a Sanic app or blueprint: what a
process supervisor, a load balancer and Prometheus ask a Recorda server.

    /health   the process answers (liveness): always 200 while it does
    /ready    its dependencies answer (bot.foundation.health): 200, or 503
              with a JSON body naming what is not ready
    /metrics  Prometheus text (bot.foundation.metrics), the collectors given
              included; 401 without RECORDA_METRICS_TOKEN when one is set
"""
from __future__ import annotations

from typing import Callable, Dict, Optional, Sequence, Union

from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.foundation import metrics
from bot.foundation.aio import in_thread
from bot.foundation.health import Check, readiness


def add_operations_routes(target: Union[Sanic, Blueprint], checks: Sequence[Check],
                          collectors: Sequence[metrics.Collector] = (), health: bool = True,
                          known: Optional[Callable[[Request], Dict[str, str]]] = None) -> None:
    """The three routes on `target`; health=False where /health exists
    already (rasa-sdk's own, a channel's GET /). `known(request)`: outcomes
    of required conditions read from the request's app (bot.foundation.health.readiness)."""
    if health:
        @target.get("/health", name="recorda_health")
        async def alive(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

    @target.get("/ready", name="recorda_ready")
    async def ready(request: Request) -> HTTPResponse:
        ok, body = await readiness(checks, known=known(request) if known is not None else None)
        return response.json(body, status=200 if ok else 503)

    @target.get("/metrics", name="recorda_metrics")
    async def scrape(request: Request) -> HTTPResponse:
        if not metrics.scrape_allowed(request.headers.get("Authorization")):
            return response.json({"error": "unauthorised"}, status=401)
        # Files and database queries: off the event loop.
        body, content_type = await in_thread(metrics.exposition, collectors)
        return response.raw(body, content_type=content_type)
