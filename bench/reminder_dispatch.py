"""Reminder dispatch, end to end: the daily job sends the next service day's
reminders for N sandbox appointments through the real path

    job -> Rasa trigger_intent -> action server (booking reads) -> connector
        -> WhatsApp simulator (POST /v1/send)

and the wall time of the send phase (first trigger to last answer) is
measured. The simulator is then asked what it received: exactly one
template message per sent reminder, none twice.

    python -m bench.reminder_dispatch [--appointments 1000] [--rate 1000] [--concurrency 16]

Prints one JSON object on stdout; logs go to stderr.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from collections import Counter
from datetime import datetime
from typing import Dict, Optional

import aiohttp

import bot.foundation.clock
from bench._common import (
    add_profile_arguments,
    bench_stack,
    cpu_delta,
    cpu_snapshot,
    machine,
    profile_figures,
    run_benchmark,
    settings_for,
)
from bot.booking.rest import booking_system_from_settings
from bot.offices.service_days import next_service_day
from bot.reminders.job import run_job
from bot.reminders.store import ReminderStore

log = logging.getLogger("bench.reminder_dispatch")

TARGET_PER_SECOND = 80


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.reminder_dispatch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--appointments", type=int, default=1000,
                        help="extra sandbox appointments on the next service day (1000)")
    parser.add_argument("--rate", type=float, default=1000.0,
                        help="the job's rate limit, reminders/s (1000: measure capacity)")
    parser.add_argument("--concurrency", type=int, default=16, help="reminders in flight (16)")
    parser.add_argument("--status-delays", default="600,610,620",
                        help="simulator's sent,delivered,read delays in seconds; long by default so "
                             "status webhooks do not compete with the sends (600,610,620)")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="give up on the send phase after this many seconds (900)")
    add_profile_arguments(parser)
    parser.add_argument("--keep-var", action="store_true", help="keep the temporary var dir and logs")
    parser.add_argument("--verbose", action="store_true")
    return parser.parse_args(argv)


def _appointment_of(message: dict) -> Optional[str]:
    """The appointment id in a template message's quick-reply payloads."""
    for component in message["content"]["hsm"].get("components", []):
        if component.get("type") == "button":
            payload = component["parameters"][0]["payload"]
            try:
                return str(json.loads(payload[payload.index("{"):])["appointment_id"])
            except (ValueError, KeyError):
                continue
    return None


def _sim_time(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


async def simulator_view(simulator_url: str, send_window: tuple) -> Dict:
    """What the simulator received: template messages per appointment and any
    status webhooks it fired during the send phase."""
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.get(f"{simulator_url}/sim/messages") as resp:
            messages = await resp.json()
        async with session.get(f"{simulator_url}/sim/webhooks") as resp:
            webhooks = await resp.json()
    templates = [m for m in messages if m["direction"] == "sent" and m["type"] == "hsm"]
    per_appointment = Counter(_appointment_of(m) for m in templates)
    per_number = Counter(m["to"] for m in templates)
    start, end = send_window
    statuses_during = sum(1 for w in webhooks if w["type"] == "message.updated"
                          and start <= _sim_time(w["at"]) <= end)
    return {
        "templates": templates,
        "per_appointment": per_appointment,
        "other_outbound": sum(1 for m in messages if m["direction"] == "sent" and m["type"] != "hsm"),
        "duplicates": sum(n - 1 for n in per_appointment.values() if n > 1),
        "numbers_with_several": sum(1 for n in per_number.values() if n > 1),
        "status_webhooks_during_send": statuses_during,
        "webhooks_failed": sum(1 for w in webhooks if w["status_code"] is None or w["status_code"] >= 400),
    }


async def run(args: argparse.Namespace) -> dict:
    with bench_stack(args.appointments, args.status_delays, args.keep_var, profile=args.profile,
                     workers=args.workers) as stack:
        settings = settings_for(stack)
        service_day = next_service_day(bot.foundation.clock.now(settings.timezone).date(), settings.holidays)
        booking = booking_system_from_settings(settings)
        phase: Dict[str, float] = {}
        done = {"n": 0}
        cpu: Dict[str, Dict[str, float]] = {}

        def progress(total: int):
            # run_job calls this right before the send phase, then ticks once per reminder.
            phase["planned"] = total
            phase["start"] = time.perf_counter()
            phase["start_wall"] = time.time()
            cpu["before"] = cpu_snapshot(stack)
            log.info("Send phase: %d reminders, rate %s/s, concurrency %d", total, args.rate,
                     args.concurrency)

            def tick() -> None:
                done["n"] += 1
                phase["end"] = time.perf_counter()
                phase["end_wall"] = time.time()
                if done["n"] == total:
                    cpu["after"] = cpu_snapshot(stack)
                if done["n"] % 100 == 0:
                    log.info("%d/%d done (%.1fs)", done["n"], total, phase["end"] - phase["start"])
            return tick

        before = machine()
        job_started = time.perf_counter()
        try:
            summary = await asyncio.wait_for(
                run_job(settings, booking, service_day, rate=args.rate, concurrency=args.concurrency,
                        progress=progress),
                timeout=args.timeout)
        finally:
            await booking.close()
        job_seconds = time.perf_counter() - job_started
        seconds = phase["end"] - phase["start"] if "end" in phase else None
        log.info("Job done: %d sent, failed %s; send phase %.2fs, whole job %.2fs",
                 summary.sent, dict(summary.failed), seconds or 0.0, job_seconds)

        view = await simulator_view(stack.simulator_url,
                                    (phase.get("start_wall", 0.0), phase.get("end_wall", 0.0)))
        store = ReminderStore(settings.db_url)
        sent_ids = {r.appointment_id for r in store.for_day(service_day) if r.provider_message_id}
        missing = sorted(sent_ids - set(view["per_appointment"]))

        rps = round(summary.sent / seconds, 1) if seconds else None
        return {
            "benchmark": "reminder_dispatch",
            **profile_figures(args),
            "appointments": summary.total,
            "bench_appointments": args.appointments,
            "triggered": phase.get("planned", 0),
            "sent": summary.sent,
            "failed": dict(sorted(summary.failed.items())),
            "seconds": round(seconds, 3) if seconds else None,
            "job_seconds": round(job_seconds, 3),
            "reminders_per_second": rps,
            "target_per_second": TARGET_PER_SECOND,
            "meets_target": rps is not None and rps >= TARGET_PER_SECOND,
            "concurrency": args.concurrency,
            "rate_limit": args.rate,
            "simulator_messages": len(view["templates"]),
            "duplicates": view["duplicates"],
            "sent_without_simulator_message": len(missing),
            "simulator_other_outbound": view["other_outbound"],
            "status_delays": args.status_delays,
            "status_webhooks_during_send": view["status_webhooks_during_send"],
            "webhooks_failed": view["webhooks_failed"],
            "service_day": service_day.isoformat(),
            # Where the CPU went during the send phase (2 cores: at most 2 s per second).
            "cpu_seconds_during_send": (cpu_delta(cpu["before"], cpu["after"])
                                        if "after" in cpu else None),
            "machine": before,
        }


def _passed(result: dict) -> bool:
    return result["duplicates"] == 0 and result["simulator_messages"] == result["sent"]


def main(argv=None) -> int:
    return run_benchmark("reminder_dispatch", parse_args(argv), run, _passed)


if __name__ == "__main__":
    raise SystemExit(main())
