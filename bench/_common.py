"""What both benchmarks share: a Stack of their own (free ports, a temporary
var dir, an endpoints file pointing at both), the job's settings for that
stack, percentiles and the one-JSON-object output."""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence

from bot import config
from bot.config import PROJECT_ROOT, Settings
from bot.dev import Ports, Stack

try:  # where it lives now; it used to be in the job's module
    from bot.service_days import next_service_day
except ImportError:  # pragma: no cover
    from bot.reminders.job import next_service_day  # type: ignore[no-redef]

log = logging.getLogger("bench")

MODEL = PROJECT_ROOT / "models" / "current.tar.gz"
# The default ports of `make run`, never used here.
DEMO_PORTS = {5005, 5055, 8081, 8082}


def setup_logging(verbose: bool = False) -> None:
    """Logs go to stderr; stdout carries only the result."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for noisy in ("aiohttp", "sqlalchemy", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def free_ports() -> Ports:
    """Four distinct free ports on 127.0.0.1, none of them the demo's."""
    sockets: List[socket.socket] = []
    try:
        while len(sockets) < 4:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            if s.getsockname()[1] in DEMO_PORTS:
                s.close()
                continue
            sockets.append(s)
        rasa, actions, booking, simulator = (s.getsockname()[1] for s in sockets)
    finally:
        for s in sockets:
            s.close()
    return Ports(rasa=rasa, actions=actions, booking=booking, simulator=simulator)


def _write_endpoints(var_dir: Path, ports: Ports) -> Path:
    """The repository's endpoints.yml points at the demo's action server and
    var/tracker.db; the bench's Rasa needs its own of both."""
    path = var_dir / "endpoints.yml"
    path.write_text(
        "action_endpoint:\n"
        f'  url: "http://127.0.0.1:{ports.actions}/webhook"\n'
        "tracker_store:\n"
        "  type: SQL\n"
        '  dialect: "sqlite"\n'
        f'  db: "{var_dir / "tracker.db"}"\n')
    return path


@contextlib.contextmanager
def bench_stack(appointments: int, status_delays: str, keep_var: bool = False,
                start_timeout: float = 240.0) -> Iterator[Stack]:
    """A started Stack on free ports and a temporary var dir; always stopped
    (and the var dir removed unless `keep_var`) on the way out."""
    if not MODEL.exists():
        raise SystemExit(f"No trained model at {MODEL}: run `make train` first.")
    var_dir = Path(tempfile.mkdtemp(prefix="recorda-bench-"))
    ports = free_ports()
    stack = Stack(var_dir=var_dir, ports=ports, model=MODEL,
                  endpoints=_write_endpoints(var_dir, ports), status_delays=status_delays,
                  bench_appointments=appointments)
    log.info("Starting a stack in %s on ports %s", var_dir, ports)
    try:
        stack.start(timeout=start_timeout)
        log.info("Stack up")
        yield stack
    finally:
        log.info("Stopping the stack")
        stack.stop()
        if keep_var:
            log.info("Kept %s (logs in %s)", var_dir, var_dir / "logs")
        else:
            shutil.rmtree(var_dir, ignore_errors=True)


def settings_for(stack: Stack) -> Settings:
    """The settings the stack's processes use, for the job run in this process.
    Read through Settings.from_env() so any RECORDA_* override applies, with
    VAR_DIR pointed at the stack's own so nothing under var/ is read or made."""
    saved_env, saved_var = dict(os.environ), config.VAR_DIR
    try:
        os.environ.update({k: v for k, v in stack.env().items() if k.startswith("RECORDA_")})
        config.VAR_DIR = stack.var_dir
        return Settings.from_env()
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        config.VAR_DIR = saved_var


def percentile(values: Sequence[float], p: float) -> Optional[float]:
    """Nearest-rank percentile (p in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[rank - 1]


def summary_ms(values_seconds: Sequence[float]) -> Dict[str, Optional[float]]:
    def ms(v: Optional[float]) -> Optional[float]:
        return None if v is None else round(v * 1000.0, 1)
    return {"count": len(values_seconds),
            "p50_ms": ms(percentile(values_seconds, 50)), "p95_ms": ms(percentile(values_seconds, 95)),
            "p99_ms": ms(percentile(values_seconds, 99)),
            "max_ms": ms(max(values_seconds) if values_seconds else None)}


def emit(result: dict) -> None:
    """The one JSON object on stdout."""
    sys.stdout.write(json.dumps(result, ensure_ascii=False, sort_keys=False) + "\n")
    sys.stdout.flush()
