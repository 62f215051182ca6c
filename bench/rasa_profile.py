"""Where the Rasa server's CPU goes while it sends reminders.

Starts the production profile with one Rasa worker (so one process holds all
of Rasa's work), runs the daily job for `--appointments` bench appointments,
and samples the Rasa process with py-spy (`record --gil`: only the thread
holding Python's lock, i.e. CPU, not waiting). Prints one JSON object: the
share of the samples under each of Rasa's and Recorda's main steps of a
reminder, and the hottest functions.

    python -m bench.rasa_profile [--appointments 1000] [--seconds 15]

Needs py-spy (requirements-test.txt); may need root or ptrace permission.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Dict

import bot.foundation.clock
from bench._common import emit, machine, settings_for, setup_logging
from bot.booking.rest import booking_system_from_settings
from bot.dev.production import ProductionStack
from bot.offices.service_days import next_service_day
from bot.reminders.job import run_job

log = logging.getLogger("bench.rasa_profile")

# The steps of a reminder's turn, by the functions that do each (Rasa's own,
# or the speed-up that replaces it: bot/patches/).
STEPS = {
    "tracker store: save": ("save (rasa/core/tracker_store.py", "_save (bot/patches/tracker_store_speedups.py"),
    "tracker store: count the stored events before a save": (
        "_additional_events (rasa/core/tracker_store.py", "_additional_events (bot/patches/tracker_store_speedups.py"),
    "tracker store: load": ("get_or_create_tracker (rasa/core/tracker_store.py",),
    "policies": ("_predict_next_with_tracker (rasa/core/processor.py",),
    "action call": ("run (rasa/core/actions/action.py",),
    "action answer check": ("_validate_action_result (rasa/core/actions/action.py",
                            "_cached_validate_action_result (bot/patches/rasa_speedups.py"),
    "lock store": ("lock (rasa/core/lock_store.py",),
    "reminder store: claim": ("claim_for_sending (bot/reminders/store.py",),
    "reminder store: record the send": ("mark_sent (bot/reminders/store.py",),
    "provider call": ("post_with_retries (connectors/provider_http.py",),
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.rasa_profile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--appointments", type=int, default=1000, help="bench appointments (1000)")
    parser.add_argument("--seconds", type=int, default=15, help="how long py-spy samples (15)")
    parser.add_argument("--process", default="Rasa",
                        help="the stack's process to sample (Rasa; or e.g. 'action server', 'booking sandbox')")
    parser.add_argument("--raw", type=Path, help="also keep py-spy's samples in this file")
    parser.add_argument("--verbose", action="store_true")
    return parser.parse_args(argv)


def frame_name(frame: str) -> str:
    """'save (rasa/core/tracker_store.py' from py-spy's 'save (/…/site-packages/rasa/core/tracker_store.py:385)'."""
    name, _, where = frame.partition(" (")
    where = where.split(":")[0].split("site-packages/")[-1].replace(str(Path.cwd()) + "/", "")
    return f"{name} ({where}"


def shares(raw: Path) -> Dict[str, object]:
    total, in_step, own = 0, Counter(), Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = {frame_name(f) for f in stack.split(";")}
        total += int(count)
        for step, names in STEPS.items():
            if frames.intersection(names):
                in_step[step] += int(count)
        own[frame_name(stack.split(";")[-1])] += int(count)
    percent = (lambda n: round(100.0 * n / total, 1)) if total else (lambda n: 0.0)
    return {"samples": total,
            "steps_percent": {step: percent(in_step[step]) for step in STEPS},
            "hottest_own_percent": {name: percent(n) for name, n in own.most_common(15)}}


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    var_dir = Path(tempfile.mkdtemp(prefix="recorda-profile-"))
    stack = ProductionStack.isolated(var_dir, rasa_workers=1, action_workers=1, status_delays="600,610,620",
                                     bench_appointments=args.appointments)
    stack.start()
    try:
        sampled = next(s for s in stack.services if s.name == args.process)
        settings = settings_for(stack)
        day = next_service_day(bot.foundation.clock.now(settings.timezone).date(), settings.holidays)
        raw = var_dir / "rasa-profile.txt"
        sampler = subprocess.Popen([spy, "record", "--gil", "--nonblocking", "-r", "250", "-d", str(args.seconds),
                                    "-f", "raw", "-o", str(raw), "-p", str(sampled.process.pid)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)

        async def send() -> int:
            booking = booking_system_from_settings(settings)
            try:
                return (await run_job(settings, booking, day, rate=1000, concurrency=16)).sent
            finally:
                await booking.close()
        sent = asyncio.run(send())
        sampler.wait()
        if args.raw:
            shutil.copy(raw, args.raw)
        emit({"benchmark": "rasa_profile", "profile": "production", "workers": 1, "process": args.process,
              "sent": sent,
              "sampled_seconds": args.seconds, **shares(raw), "machine": machine()})
        return 0
    finally:
        stack.stop()
        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
