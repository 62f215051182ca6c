"""The sandbox booking service: the reference booking REST API
(bot/booking/openapi.yaml) on SQLite, plus a live board page for demos.

    python -m bot.dev.sandbox.booking_service --host 127.0.0.1 --port 8081 \\
        --db var/booking.db --token sandbox-booking-token [--reseed] [--bench-appointments N]

`RECORDA_BOOKING_TOKEN`, when set, overrides --token so that the service and
the bot (bot.foundation.settings.Settings) read the same value.

Besides /api/v1 it serves `GET /` (the board: appointments per office and day,
refreshed every 2 s) and sandbox-only hooks under /sandbox/: `POST
/sandbox/outage {"down": true|false}`, `POST /sandbox/latency {"seconds": 5}`
(every API answer that much later: a slow booking system), `GET /sandbox/health` and
`GET /sandbox/board` (the board fragment the page polls).

This module puts the app together (token guard, error envelope) and is its
command line; the API is bot/dev/sandbox/booking_api.py, the data and rules
bot/dev/sandbox/booking_store.py, the board bot/dev/sandbox/booking_board.py.
"""
from __future__ import annotations

import argparse
import asyncio
import hmac
import logging
import os
from typing import Optional

from sanic import Sanic
from sanic.exceptions import SanicException

import bot.foundation.clock
from bot.dev.sandbox.booking_api import API_ROUTES, error_response, health, set_latency, set_outage
from bot.dev.sandbox.booking_board import board_fragment, board_page
from bot.dev.sandbox.booking_seed import MADRID
from bot.dev.sandbox.booking_store import ApiError, NowFn, Store, open_database

APP_NAME = "recorda_booking_sandbox"
API_PREFIX = "/api/v1"

logger = logging.getLogger(__name__)


def _authorised(request, token: str) -> bool:
    scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def _error_parts(exc: Exception) -> tuple:
    """(status, code, message) of any exception a handler lets out."""
    if isinstance(exc, ApiError):
        return exc.status, exc.code, exc.message
    if isinstance(exc, SanicException):
        codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}
        return exc.status_code, codes.get(exc.status_code, "error"), str(exc)
    logger.exception("unexpected error", exc_info=exc)
    return 500, "internal_error", "Unexpected error in the booking service."


def create_app(db_path: str, token: str, now_fn: Optional[NowFn] = None, *,
               reseed: bool = False, bench_appointments: int = 0, name: str = APP_NAME) -> Sanic:
    """The sandbox app. `now_fn` (aware datetime) lets tests move the clock;
    `name` must be unique per process (Sanic keeps a registry of apps)."""
    now_fn = now_fn or (lambda: bot.foundation.clock.now(MADRID))
    today = now_fn().astimezone(MADRID).date()
    app = Sanic(name)
    app.ctx.store = Store(open_database(db_path, today, reseed, bench_appointments), now_fn)
    app.ctx.down = False
    app.ctx.latency = 0.0

    for method, path, handler in API_ROUTES:
        app.add_route(handler, API_PREFIX + path, methods=[method])
    app.add_route(board_page, "/", methods=["GET"])
    app.add_route(board_fragment, "/sandbox/board", methods=["GET"])
    app.add_route(health, "/sandbox/health", methods=["GET"])
    app.add_route(set_outage, "/sandbox/outage", methods=["POST"])
    app.add_route(set_latency, "/sandbox/latency", methods=["POST"])

    @app.middleware("request")
    async def guard_api(request):
        if not request.path.startswith(API_PREFIX + "/"):
            return None
        if request.app.ctx.latency:
            await asyncio.sleep(request.app.ctx.latency)
        if request.app.ctx.down:
            return error_response(503, "unavailable", "The booking system is down (sandbox outage).")
        if not _authorised(request, token):
            return error_response(401, "unauthorized", "Missing or invalid bearer token.")
        return None

    @app.exception(Exception)
    async def on_error(request, exc):
        return error_response(*_error_parts(exc))

    return app


def _parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Recorda sandbox booking service")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--db", default="var/booking.db")
    parser.add_argument("--token", default="sandbox-booking-token")
    parser.add_argument("--reseed", action="store_true", help="replace the data with a fresh seed for today")
    parser.add_argument("--bench-appointments", type=int, default=0, metavar="N",
                        help="reseed with N extra appointments on the next service day")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = _parse_args(argv)
    token = os.environ.get("RECORDA_BOOKING_TOKEN") or args.token
    app = create_app(args.db, token, reseed=args.reseed, bench_appointments=args.bench_appointments)
    app.run(host=args.host, port=args.port, access_log=False, motd=False)


if __name__ == "__main__":
    main()
