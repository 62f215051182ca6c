"""Recorda's Prometheus metrics, defined once here for every process.

    configure_metrics("worker")        once, in the process's main(), before it forks
    count_booking_error("confirm", "timeout")  ...and the other recorders below
    exposition(collectors)             the text a GET /metrics answers

Two modes, chosen by the environment:

* plain (no directory set): the metrics live in this process's memory and
  its /metrics shows them;
* multiprocess, when RECORDA_METRICS_DIR (or PROMETHEUS_MULTIPROC_DIR) names
  a directory: every process of the host (or pod) writes its values there,
  forked Sanic workers included (prometheus_client's multiprocess mode), and
  any process's /metrics shows the sum of them all. At start,
  configure_metrics() deletes the files of processes that no longer run, so
  each process owns the clean-up of what its predecessors left; at exit and
  at every scrape, the live gauges of dead processes are dropped
  (mark_process_dead). The directory must not be shared across pid
  namespaces (containers): pids are how its files are told apart.

Every series carries a `process` label (web, rasa, action_server, worker,
reminders, ...): on one host the web app exports every process's series, and
that label keeps a restarted process's counters from mixing with the others'.
Gauges computed from the database at scrape time are collectors of the domain
packages (bot/reminders/metrics.py, bot/booking/outbox_metrics.py), passed to
exposition() by the app that exports them.
"""
from __future__ import annotations

import atexit
import glob
import hmac
import logging
import os
import threading
from pathlib import Path
from typing import Iterable, Iterator, List, Optional, Protocol, Tuple

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import values as prometheus_values
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

log = logging.getLogger(__name__)

DIR_VARIABLE = "RECORDA_METRICS_DIR"
PROMETHEUS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"  # what prometheus_client itself reads
# The text format every Prometheus reads (Recorda's names need nothing newer).
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

# The metrics of this process in plain mode (in multiprocess mode the files are read instead).
_REGISTRY = CollectorRegistry()
# The same series in both modes: the multiprocess files keep no *_created samples.
disable_created_metrics()

# Kinds of webhook call (WEBHOOK_SECONDS' `kind`).
WEBHOOK_MESSAGE = "message"   # a citizen's message handed to the assistant
WEBHOOK_STATUS = "status"     # accepted without a new message: delivery statuses, duplicates
WEBHOOK_REFUSED = "refused"   # 4xx: bad signature, too large, malformed
WEBHOOK_ERROR = "error"       # 5xx: the assistant failed; the provider redelivers

# Kinds of booking-system failure (BOOKING_ERRORS' `kind`).
BOOKING_TIMEOUT = "timeout"
BOOKING_CONNECTION = "connection"
BOOKING_SERVER_ERROR = "server_error"          # HTTP 5xx
BOOKING_REFUSED = "refused"                    # HTTP 4xx
BOOKING_INVALID_RESPONSE = "invalid_response"  # 2xx without the API's JSON

WEBHOOK_SECONDS = Histogram(
    "recorda_webhook_duration_seconds",
    "Time to answer a WhatsApp provider's webhook, the assistant's turn included",
    ["process", "provider", "kind"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=_REGISTRY)
WEBHOOKS_IN_PROGRESS = Gauge(
    "recorda_webhooks_in_progress", "Webhook calls being answered right now",
    ["process", "provider"], multiprocess_mode="livesum", registry=_REGISTRY)
BOOKING_ERRORS = Counter(
    "recorda_booking_errors", "Failed calls to the booking system (every attempt, retries included)",
    ["process", "operation", "kind"], registry=_REGISTRY)
REMINDERS_SENT = Counter(
    "recorda_reminders_sent", "Reminders the WhatsApp provider accepted", ["process"], registry=_REGISTRY)
REMINDERS_FAILED = Counter(
    "recorda_reminders_failed", "Reminders that failed, by reason (bot/reminders/provider_status.py)",
    ["process", "reason"], registry=_REGISTRY)
WORKER_LAST_PASS = Gauge(
    "recorda_worker_last_pass_timestamp_seconds", "When the worker last finished a pass over its duties",
    ["process"], multiprocess_mode="mostrecent", registry=_REGISTRY)

_ALL = (WEBHOOK_SECONDS, WEBHOOKS_IN_PROGRESS, BOOKING_ERRORS, REMINDERS_SENT, REMINDERS_FAILED,
        WORKER_LAST_PASS)

_process = "recorda"
_directory: Optional[Path] = None
_lock = threading.Lock()


class Collector(Protocol):
    def collect(self) -> Iterable[Metric]:
        ...


def directory_from_env() -> Optional[Path]:
    value = os.environ.get(DIR_VARIABLE) or os.environ.get(PROMETHEUS_DIR_VARIABLE)
    return Path(value) if value else None


def configure_metrics(process: str) -> Optional[Path]:
    """Names this process's series and chooses the mode from the environment;
    the directory in multiprocess mode (created if needed, the files of dead
    processes removed), None in plain mode. Call it once at start, before
    any metric is recorded and before the process forks workers."""
    global _process, _directory
    directory = directory_from_env()
    with _lock:
        recorded = _any_recorded()
        if directory != _directory and recorded:
            raise RuntimeError("configure_metrics() must run before any metric is recorded")
        _process = process
        _directory = directory
        if directory is None:
            os.environ.pop(PROMETHEUS_DIR_VARIABLE, None)
            prometheus_values.ValueClass = prometheus_values.MutexValue
            return None
        directory.mkdir(parents=True, exist_ok=True)
        # Both set: children started from here find the same directory.
        os.environ[DIR_VARIABLE] = os.environ[PROMETHEUS_DIR_VARIABLE] = str(directory)
        prometheus_values.ValueClass = prometheus_values.get_value_class()
    # Files with this process's id, before it recorded anything, are an
    # earlier process's that had the same id.
    removed = remove_dead_process_files(directory, also=None if recorded else os.getpid())
    if removed:
        log.info("Removed %d metrics file(s) of processes that no longer run from %s", removed, directory)
    atexit.unregister(forget_this_process)
    atexit.register(forget_this_process)
    return directory


def _any_recorded() -> bool:
    return any(metric._metrics for metric in _ALL)  # children exist once a label set was used


def process_name() -> str:
    return _process


def metrics_directory() -> Optional[Path]:
    """The multiprocess directory this process writes to; None in plain mode."""
    return _directory


def forget_this_process() -> None:
    """At a process's (or forked worker's) clean exit: its live gauges stop counting."""
    if _directory is not None:
        mark_process_dead(os.getpid(), str(_directory))


# --- recording ---------------------------------------------------------------------------
def observe_webhook(provider: str, kind: str, seconds: float) -> None:
    WEBHOOK_SECONDS.labels(_process, provider, kind).observe(seconds)


def webhooks_in_progress(provider: str) -> Gauge:
    """The gauge of `provider`'s calls being answered (use .track_inprogress())."""
    return WEBHOOKS_IN_PROGRESS.labels(_process, provider)


def count_booking_error(operation: str, kind: str) -> None:
    BOOKING_ERRORS.labels(_process, operation, kind).inc()


def count_reminder_sent() -> None:
    REMINDERS_SENT.labels(_process).inc()


def count_reminder_failed(reason: Optional[str]) -> None:
    REMINDERS_FAILED.labels(_process, reason or "unknown").inc()


def mark_worker_pass(timestamp: float) -> None:
    WORKER_LAST_PASS.labels(_process).set(timestamp)


# --- exporting ---------------------------------------------------------------------------
def _pid_of(path: str) -> Optional[int]:
    """The pid in a prometheus_client file name (counter_123.db, gauge_livesum_123.db)."""
    tail = Path(path).stem.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it runs
        return True
    return True


def _dead_pids(directory: Path) -> List[int]:
    pids = {_pid_of(f) for f in glob.glob(str(directory / "*.db"))}
    return sorted(pid for pid in pids if pid is not None and not _running(pid))


def remove_dead_process_files(directory: Path, also: Optional[int] = None) -> int:
    """Deletes every file of processes that no longer run (and of the pid
    `also`); how many."""
    removed = 0
    for pid in _dead_pids(directory) + ([also] if also is not None else []):
        for path in glob.glob(str(directory / f"*_{pid}.db")):
            try:
                os.remove(path)
                removed += 1
            except FileNotFoundError:  # another process cleaned it first
                pass
    return removed


class _OwnMetrics:
    """This process's metrics in plain mode, as one collector."""

    def collect(self) -> Iterator[Metric]:
        yield from _REGISTRY.collect()


def exposition(collectors: Iterable[Collector] = (), directory: Optional[Path] = None) -> Tuple[bytes, str]:
    """(body, content type) of a scrape: Recorda's metrics (every process's
    of `directory`, by default the configured one; this process's in plain
    mode) and those of `collectors`. Reads files and may query the
    database: call it off the event loop."""
    directory = directory if directory is not None else _directory
    registry = CollectorRegistry()
    if directory is not None:
        for pid in _dead_pids(directory):   # a killed process's live gauges no longer count
            mark_process_dead(pid, str(directory))
        MultiProcessCollector(registry, path=str(directory))
    else:
        registry.register(_OwnMetrics())
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry), CONTENT_TYPE


TOKEN_VARIABLE = "RECORDA_METRICS_TOKEN"


def scrape_allowed(authorization: Optional[str]) -> bool:
    """With RECORDA_METRICS_TOKEN set, only `Authorization: Bearer <it>` may
    read /metrics (the web app faces the internet); without it, anyone who
    reaches the port may (restrict it at the reverse proxy)."""
    expected = os.environ.get(TOKEN_VARIABLE, "")
    if not expected:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())
