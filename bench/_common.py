"""What the benchmarks share: a Stack of their own (free ports, a temporary
var dir, an endpoints file pointing at both), the job's settings for that
stack, percentiles and the one-JSON-object output."""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import shutil
import signal
import sys
import tempfile
import uuid
from datetime import timezone
from pathlib import Path
from typing import Awaitable, Callable, Dict, Iterator, List, Optional, Sequence

import bot.foundation.clock
from bot.dev.production import ProductionStack
from bot.dev.stack import SANDBOX_CHANNEL_ID, SANDBOX_SIGNING_KEY, Stack
from bot.foundation import settings
from bot.foundation.settings import PROJECT_ROOT, Settings
from connectors.messagebird_signature import HEADER as SIGNATURE_HEADER
from connectors.messagebird_signature import sign_webhook

log = logging.getLogger("bench")

MODEL = PROJECT_ROOT / "models" / "current.tar.gz"
PROFILES = ("embedded", "production")


def setup_logging(verbose: bool = False) -> None:
    """Logs go to stderr; stdout carries only the result."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for noisy in ("aiohttp", "sqlalchemy", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def add_profile_arguments(parser: argparse.ArgumentParser) -> None:
    """--profile and --workers: which stack a benchmark runs on."""
    parser.add_argument("--profile", choices=PROFILES, default="embedded",
                        help="embedded: `make run`'s (SQLite, one Rasa process); production: "
                             "`make run-production`'s (PostgreSQL, Redis, --workers Rasa and "
                             "action-server workers) (embedded)")
    parser.add_argument("--workers", type=int, default=1,
                        help="Rasa workers and action-server workers, production profile only (1)")


def profile_figures(args: argparse.Namespace) -> Dict[str, object]:
    """The keys every result carries about the stack it ran on."""
    return {"profile": args.profile, "workers": args.workers if args.profile == "production" else 1}


@contextlib.contextmanager
def bench_stack(appointments: int, status_delays: str, keep_var: bool = False,
                start_timeout: float = 240.0, profile: str = "embedded", workers: int = 1,
                **stack_options) -> Iterator[Stack]:
    """A started Stack of `profile` on free ports and a temporary var dir;
    always stopped (and the var dir removed unless `keep_var`) on the way out."""
    if not MODEL.exists():
        raise SystemExit(f"No trained model at {MODEL}: run `make train` first.")
    var_dir = Path(tempfile.mkdtemp(prefix="recorda-bench-"))
    options = dict(model=MODEL, status_delays=status_delays, bench_appointments=appointments, **stack_options)
    if profile == "production":
        stack: Stack = ProductionStack.isolated(var_dir, rasa_workers=workers, action_workers=workers, **options)
    else:
        stack = Stack.isolated(var_dir, **options)
    log.info("Starting a stack in %s on ports %s", var_dir, stack.ports)
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
    saved_env, saved_var = dict(os.environ), settings.VAR_DIR
    try:
        os.environ.update({k: v for k, v in stack.env().items() if k.startswith("RECORDA_")})
        settings.VAR_DIR = stack.var_dir
        return Settings.from_env()
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        settings.VAR_DIR = saved_var


def _tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of a live process and all its descendants
    (Linux /proc). By descent, not by process group: PostgreSQL's backends
    each start a session of their own."""
    ticks = os.sysconf("SC_CLK_TCK")
    children: Dict[int, List[int]] = {}
    cpu: Dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        # fields[1] is the parent's pid; [11], [12] utime, stime (stat fields 4, 14, 15).
        pid = int(entry)
        children.setdefault(int(fields[1]), []).append(pid)
        cpu[pid] = int(fields[11]) + int(fields[12])
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += cpu.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total / ticks


def cpu_snapshot(stack: Stack) -> Dict[str, float]:
    """CPU seconds used so far by each service of the stack and by this process."""
    snapshot = {child.name: _tree_cpu_seconds(child.pid) for child in stack.processes()}
    times = os.times()
    snapshot["bench process (job / client)"] = times.user + times.system
    return snapshot


def cpu_delta(before: Dict[str, float], after: Dict[str, float]) -> Dict[str, float]:
    return {name: round(after[name] - before.get(name, 0.0), 2) for name in after}


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


def machine() -> Dict[str, float]:
    """What the figures were measured on: other work on the machine skews them."""
    return {"cpus": os.cpu_count() or 0, "load_average_1m": round(os.getloadavg()[0], 2)}


def emit(result: dict) -> None:
    """The one JSON object on stdout."""
    sys.stdout.write(json.dumps(result, ensure_ascii=False, sort_keys=False) + "\n")
    sys.stdout.flush()


def _stop_on_sigterm(*_) -> None:
    # Turns SIGTERM into an exception so that the stack is stopped on the way out.
    raise SystemExit(143)


def run_benchmark(name: str, args: argparse.Namespace, run: Callable[[argparse.Namespace], Awaitable[dict]],
                  passed: Callable[[dict], bool]) -> int:
    """Runs one benchmark and emits its result; the exit code: 0 when
    `passed(result)`, 1 when not, 2 after emitting {"benchmark", "error"}
    (the stack could not start, a service failed...)."""
    setup_logging(args.verbose)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        result = asyncio.run(run(args))
    except Exception as exc:  # noqa: BLE001 - reported as the one JSON object
        log.exception("%s failed", name)
        emit({"benchmark": name, "error": f"{type(exc).__name__}: {exc}"[:2000]})
        return 2
    emit(result)
    return 0 if passed(result) else 1


def message_created(msisdn: str, conversation_id: str, contact_id: str, message_type: str,
                    content: dict, reply_to: Optional[str] = None) -> bytes:
    """A citizen's message as MessageBird's `message.created` webhook, like
    the simulator's; a fresh message id, since the connector drops a repeated one."""
    now = bot.foundation.clock.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    message = {
        "id": uuid.uuid4().hex, "conversationId": conversation_id, "channelId": SANDBOX_CHANNEL_ID,
        "platform": "whatsapp", "to": SANDBOX_CHANNEL_ID, "from": msisdn,
        "direction": "received", "status": "received", "type": message_type,
        "content": content, "createdDatetime": now, "updatedDatetime": now,
    }
    if reply_to:
        message["replyTo"] = {"id": reply_to}
    event = {"type": "message.created",
             "contact": {"id": contact_id, "msisdn": int(msisdn.lstrip("+")), "displayName": msisdn},
             "conversation": {"id": conversation_id, "contactId": contact_id,
                              "status": "active", "createdDatetime": now, "updatedDatetime": now},
             "message": message}
    return json.dumps(event, ensure_ascii=False).encode("utf-8")


def signed_headers(url: str, body: bytes) -> Dict[str, str]:
    """MessageBird's signature of `body` for `url`, as the sandbox channel checks it."""
    return {SIGNATURE_HEADER: sign_webhook(SANDBOX_SIGNING_KEY, url, body), "Content-Type": "application/json"}
