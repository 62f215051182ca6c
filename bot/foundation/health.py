"""Readiness: whether a process's dependencies answer, for GET /ready.

A Check probes one dependency with a short blocking call, run in a thread
with a time limit; a probe still running from an earlier request is not
started again (a database that hangs does not pile up threads), it counts
as not answering. A check that is not `required` is reported without
making the process unready (e.g. the booking system: while it is down,
confirmations queue in the outbox and the process still does its job).

The answer names each check "ok", "timeout" or "unavailable"; why is in
the log, never in the answer (it may name hosts).
"""
from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Tuple, Union
from urllib.parse import urlsplit

from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.foundation.db import get_engine

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 2.0
OK, TIMEOUT, UNAVAILABLE = "ok", "timeout", "unavailable"


@dataclass
class Check:
    name: str
    probe: Callable[[], None]       # blocking; raises when the dependency does not answer
    required: bool = True
    _running: Optional[asyncio.Future] = field(default=None, repr=False)

    async def run(self, timeout: float) -> str:
        """OK, TIMEOUT or UNAVAILABLE."""
        loop = asyncio.get_running_loop()
        running = self._running
        if running is not None and not running.done() and running.get_loop() is loop:
            return TIMEOUT  # the previous probe has not come back yet
        self._running = loop.run_in_executor(None, self.probe)
        # Its outcome is read here, or dropped after a time-out, never left unretrieved.
        self._running.add_done_callback(lambda done: done.cancelled() or done.exception())
        try:
            # shield: a time-out leaves the probe to finish in its thread, noted as running.
            await asyncio.wait_for(asyncio.shield(self._running), timeout)
        except asyncio.TimeoutError:
            log.warning("Readiness: %s did not answer within %.1f s", self.name, timeout)
            return TIMEOUT
        except Exception as exc:
            log.warning("Readiness: %s is unavailable: %s", self.name, _first_line(exc))
            return UNAVAILABLE
        return OK


def _first_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"[:300]


async def readiness(checks: Iterable[Check], timeout: float = DEFAULT_TIMEOUT,
                    known: Optional[Dict[str, str]] = None) -> Tuple[bool, Dict]:
    """(ready, the answer's body), every check run at once. `known`: required
    outcomes the caller has already (e.g. whether Rasa's model is loaded)."""
    checks = list(checks)
    results = await asyncio.gather(*(check.run(timeout) for check in checks))
    outcome = {**{check.name: result for check, result in zip(checks, results)}, **(known or {})}
    not_ready: List[str] = [c.name for c, r in zip(checks, results) if c.required and r != OK]
    not_ready += [name for name, result in (known or {}).items() if result != OK]
    body: Dict = {"status": "not ready" if not_ready else "ready", "checks": outcome}
    if not_ready:
        body["not_ready"] = not_ready
    return not not_ready, body


def database_check(database: Union[str, Engine], name: str = "database") -> Check:
    """The database (a URL, or a store's engine) answers a SELECT 1, on the
    process's own engine and pool."""
    def probe() -> None:
        engine = get_engine(database) if isinstance(database, str) else database
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    return Check(name, probe)


def tcp_check(url: str, name: str, required: bool = False, timeout: float = 1.0) -> Check:
    """Something listens at the host and port of `url` (a TCP connection, no request)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)

    def probe() -> None:
        if not parts.hostname:
            raise ValueError(f"no host in {name}'s URL")
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            pass
    return Check(name, probe, required=required)
