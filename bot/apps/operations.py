"""What every Recorda process does at start, and the one line a Sanic
server of Recorda's needs for operations (docs/monitoring.md).

    start_process("worker")                  in main(): log format
                                             (RECORDA_LOG_FORMAT) and metrics
                                             (RECORDA_METRICS_DIR)
    operate(app, "status_receiver")          start_process, plus GET /health,
                                             /ready (the database) and /metrics
                                             (health=False: the app has its own)
"""
from __future__ import annotations

import logging
from typing import Optional, Sequence

from sanic import Sanic

from bot.foundation import metrics
from bot.foundation.health import Check, database_check
from bot.foundation.logs import TEXT_FORMAT, configure_logging
from bot.foundation.operations_routes import add_operations_routes
from bot.foundation.settings import Settings

log = logging.getLogger(__name__)


def start_process(process: str, level: int = logging.INFO, text_format: str = TEXT_FORMAT) -> None:
    """Once, first thing in a process's main() (before a server forks workers)."""
    configure_logging(process, level, text_format)
    directory = metrics.configure_metrics(process)
    if directory is not None:
        log.info("Metrics shared with this host's other processes through %s", directory)


def forget_worker_on_stop(app: Sanic) -> None:
    """A forked Sanic worker's live gauges stop counting when it stops
    (atexit does not run in multiprocessing's children)."""
    async def forget(_app, _loop) -> None:
        metrics.forget_this_process()
    app.register_listener(forget, "after_server_stop")


def operate(app: Sanic, process: str, settings: Optional[Settings] = None,
            checks: Optional[Sequence[Check]] = None,
            collectors: Sequence[metrics.Collector] = (), health: bool = True) -> Sanic:
    """start_process(process), and `app` answers GET /health (unless
    health=False), /ready (by default: the database of RECORDA_DB_URL
    answers) and /metrics. Call it in main(), before app.run()."""
    start_process(process)
    if checks is None:
        checks = [database_check((settings or Settings.from_env()).db_url)]
    add_operations_routes(app, checks, collectors, health=health)
    forget_worker_on_stop(app)
    return app
