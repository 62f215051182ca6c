"""Recorda's action server: rasa-sdk's, closed to everyone but Rasa.

    python -m bot.apps.action_server [--host 127.0.0.1] [--port 5055]

rasa-sdk 3.6 answers anyone who reaches it, on every interface, and a made-up
tracker is enough to make an action run. This entry point serves the same
actions, but:
- listens on 127.0.0.1 unless told otherwise (`--host`, RECORDA_ACTION_HOST);
- runs nothing for a call without `Authorization: Bearer <token>`, the secret
  that Rasa sends from endpoints.yml (RECORDA_ACTION_TOKEN, or var/action-token
  that `make run` generates): 401 and a log line instead;
- never echoes a request back in an error (rasa-sdk's handler returns the
  whole tracker on a 500).
/health (alive), /ready (the database answers; the booking system is
reported, not required: while it is down the actions queue confirmations)
and /metrics stay open, for process supervisors and Prometheus
(docs/monitoring.md).
"""
from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys
from typing import List, Optional, Sequence

from sanic import Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request

from bot import patches
from bot.apps.operations import forget_worker_on_stop, start_process
from bot.foundation.health import Check, database_check, tcp_check
from bot.foundation.operations_routes import add_operations_routes
from bot.foundation.settings import Settings

log = logging.getLogger("recorda.action_server")

ACTIONS_PACKAGE = "actions"
OPEN_PATHS = frozenset({"/health", "/ready", "/metrics"})
MIN_TOKEN_LENGTH = 16
MAX_REQUEST_BYTES = 10 * 1024 * 1024  # a session's tracker is far smaller


def bearer_token(request: Request) -> Optional[str]:
    scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def readiness_checks(settings: Settings) -> List[Check]:
    return [database_check(settings.db_url), tcp_check(settings.booking_url, "booking_system")]


def create_app(token: str, actions_package: str = ACTIONS_PACKAGE,
               checks: Optional[Sequence[Check]] = None) -> Sanic:
    """rasa-sdk's app with the token check in front of every route, and
    /ready and /metrics (`checks` default to readiness_checks of the
    environment's settings)."""
    if len(token) < MIN_TOKEN_LENGTH:
        raise ValueError(f"the action server needs a secret of at least {MIN_TOKEN_LENGTH} "
                         "characters in RECORDA_ACTION_TOKEN (Rasa sends it; see endpoints.yml)")
    from rasa_sdk.endpoint import create_app as create_sdk_app

    app = create_sdk_app(actions_package, cors_origins=None)
    app.config.REQUEST_MAX_SIZE = MAX_REQUEST_BYTES
    expected = token.encode()

    async def require_token(request: Request):
        if request.path in OPEN_PATHS:
            return None
        given = bearer_token(request)
        if given is None or not hmac.compare_digest(given.encode(), expected):
            log.warning("Refused an action-server call to %s from %s: %s", request.path, request.ip,
                        "no token" if given is None else "wrong token")
            return response.json({"error": "unauthorised"}, status=401)
        return None

    app.register_middleware(require_token, "request")

    async def internal_error(request: Request, exception: Exception):
        if isinstance(exception, SanicException):  # 400, 404, 413...: said as it is
            return response.json({"error": str(exception)}, status=exception.status_code)
        log.error("Action server error on %s", request.path, exc_info=exception)
        return response.json({"error": "internal error"}, status=500)

    app.error_handler.add(Exception, internal_error)
    # rasa-sdk answers /health itself.
    add_operations_routes(app, checks if checks is not None else readiness_checks(Settings.from_env()),
                          health=False)
    forget_worker_on_stop(app)
    return app


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=os.environ.get("RECORDA_ACTION_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("RECORDA_ACTION_PORT", "5055")))
    args = parser.parse_args(argv)
    start_process("action_server", text_format="%(asctime)s %(levelname)s %(name)s  %(message)s")
    settings = Settings.from_env()
    try:
        app = create_app(settings.action_token, checks=readiness_checks(settings))
    except ValueError as exc:
        print(f"Recorda's action server cannot start: {exc}", file=sys.stderr)
        return 2
    from rasa_sdk import utils
    patches.apply_to_sanic()
    log.info("Action server on http://%s:%s (calls need the shared token)", args.host, args.port)
    app.run(host=args.host, port=args.port, workers=utils.number_of_sanic_workers(), access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
