"""Button-tap latency with concurrent conversations.

The daily job first sends reminders to the sandbox's citizens and to a few
extra bench appointments (a small, real job run). Then `--conversations`
workers (20), one per citizen who got a reminder, each send `--taps` (10)
messages one after the other, cycling through: tap "confirm", tap "cancel",
type "a quina hora tinc la cita?". Each message is a signed MessageBird
`message.created` webhook POSTed straight to Rasa's webhook URL, as the
provider would.

Two latencies per message:
* round trip: from sending the webhook to its HTTP answer. The connector
  answers only after `on_new_message` returned, i.e. after every reply of the
  assistant was accepted by the simulator's `POST /v1/send`;
* first reply recorded: from sending the webhook to the `createdDatetime`
  the simulator stamped on the first reply it received for that message
  (same machine, same clock).

    python -m bench.button_latency [--conversations 20] [--taps 10]

Prints one JSON object on stdout; logs go to stderr.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import time
import uuid
from datetime import datetime
from typing import Dict, List, Optional, Tuple

import aiohttp

import bot.foundation.clock
from bench._common import (
    add_profile_arguments,
    bench_stack,
    cpu_delta,
    cpu_snapshot,
    machine,
    message_created,
    profile_figures,
    run_benchmark,
    settings_for,
    signed_headers,
    summary_ms,
)
from bot.booking.rest import booking_system_from_settings
from bot.messaging import payloads
from bot.offices.service_days import next_service_day
from bot.reminders.job import run_job
from bot.reminders.store import ReminderStore

log = logging.getLogger("bench.button_latency")

TARGET_P95_MS = 300
QUESTION = "a quina hora tinc la cita?"
KINDS = ("confirm", "cancel", "question")
WARMUP_CONVERSATIONS = 2


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.button_latency", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=20, help="concurrent conversations (20)")
    parser.add_argument("--taps", type=int, default=10, help="messages per conversation (10)")
    parser.add_argument("--think-ms", type=float, default=0.0,
                        help="pause between a conversation's messages (0: back to back)")
    parser.add_argument("--status-delays", default="600,610,620",
                        help="simulator's sent,delivered,read delays; long so that the reminders' "
                             "status webhooks do not compete with the taps (600,610,620)")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    add_profile_arguments(parser)
    parser.add_argument("--keep-var", action="store_true", help="keep the temporary var dir and logs")
    parser.add_argument("--verbose", action="store_true")
    return parser.parse_args(argv)


def _sim_time(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


class Conversation:
    """One citizen who got a reminder, as the provider knows them."""

    def __init__(self, msisdn: str, appointment_id: str, reminder_message_id: Optional[str],
                 conversation_id: str):
        self.msisdn = msisdn
        self.appointment_id = appointment_id
        self.reminder_message_id = reminder_message_id
        self.conversation_id = conversation_id
        self.contact_id = uuid.uuid4().hex

    def content(self, kind: str) -> Tuple[str, dict]:
        """(message type, content) of a template quick-reply tap or typed text."""
        if kind == "confirm":
            return "button", {"button": {"text": "Confirmo la cita",
                                         "payload": payloads.confirm(self.appointment_id)}}
        if kind == "cancel":
            return "button", {"button": {"text": "Anul·la la cita",
                                         "payload": payloads.cancel(self.appointment_id)}}
        return "text", {"text": QUESTION}

    def webhook_body(self, kind: str) -> bytes:
        """A `message.created` event like the simulator's (and MessageBird's)."""
        message_type, content = self.content(kind)
        return message_created(self.msisdn, self.conversation_id, self.contact_id, message_type, content,
                               reply_to=self.reminder_message_id if message_type == "button" else None)


class Tap:
    def __init__(self, msisdn: str, kind: str):
        self.msisdn, self.kind = msisdn, kind
        self.sent_wall = 0.0
        self.answered_wall = 0.0
        self.round_trip: Optional[float] = None
        self.error: Optional[str] = None
        self.replies: List[float] = []  # simulator timestamps of the replies


async def send_reminders(stack, settings):
    """The small job run: reminders for the next service day."""
    booking = booking_system_from_settings(settings)
    service_day = next_service_day(bot.foundation.clock.now(settings.timezone).date(), settings.holidays)
    try:
        summary = await run_job(settings, booking, service_day, rate=80, concurrency=16)
    finally:
        await booking.close()
    log.info("Reminders: %d sent, failed %s", summary.sent, dict(summary.failed))
    return service_day


async def conversations_for(session: aiohttp.ClientSession, stack, settings, service_day,
                            count: int) -> List[Conversation]:
    """Citizens of bench appointments who got their reminder, with the ids the
    provider would put in their webhooks."""
    store = ReminderStore(settings.db_url)
    sent = [r for r in store.for_day(service_day) if r.provider_message_id and r.phone]
    # Bench appointments have 69xxxxxxx numbers; the sandbox citizens have
    # other appointments too, which would make the conversations differ.
    bench = sorted((r for r in sent if r.phone.startswith("+3469000")), key=lambda r: r.phone)
    chosen = bench[:count]
    if len(chosen) < count:
        raise SystemExit(f"only {len(chosen)} bench reminders were sent; need {count}")
    found = []
    for reminder in chosen:
        async with session.get(f"{stack.simulator_url}/sim/messages",
                               params={"msisdn": reminder.phone}) as resp:
            messages = await resp.json()
        template = next(m for m in messages if m["id"] == reminder.provider_message_id)
        found.append(Conversation(reminder.phone, reminder.appointment_id,
                                  reminder.provider_message_id, template["conversationId"]))
    return found


async def post_webhook(session: aiohttp.ClientSession, url: str, conversation: Conversation,
                       tap: Tap) -> None:
    body = conversation.webhook_body(tap.kind)
    # Signed before the clock starts: signing is the provider's work.
    headers = signed_headers(url, body)
    tap.sent_wall = time.time()
    started = time.perf_counter()
    try:
        async with session.post(url, data=body, headers=headers) as resp:
            answer = await resp.json(content_type=None)
            status = resp.status
        tap.round_trip = time.perf_counter() - started
        if status != 200 or answer.get("status") != "handled":
            tap.error = f"HTTP {status}: {answer}"
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
        tap.error = repr(exc)
    tap.answered_wall = time.time()


async def worker(session, url: str, conversation: Conversation, taps: int, think: float,
                 deadline: float) -> List[Tap]:
    done = []
    for i in range(taps):
        if time.monotonic() > deadline:
            break
        tap = Tap(conversation.msisdn, KINDS[i % len(KINDS)])
        await post_webhook(session, url, conversation, tap)
        done.append(tap)
        if think:
            await asyncio.sleep(think)
    return done


async def attach_replies(session, stack, taps: List[Tap]) -> None:
    """The simulator's timestamps of the replies each message got: those it
    received between sending the webhook and its answer (a conversation's
    messages are sequential, so nothing else falls in that window)."""
    by_number: Dict[str, List[Tap]] = {}
    for tap in taps:
        by_number.setdefault(tap.msisdn, []).append(tap)
    for msisdn, mine in by_number.items():
        async with session.get(f"{stack.simulator_url}/sim/messages", params={"msisdn": msisdn}) as resp:
            messages = await resp.json()
        outbound = sorted(_sim_time(m["createdDatetime"]) for m in messages
                          if m["direction"] == "sent" and m["type"] != "hsm")
        for tap in mine:
            # 5 ms of slack for the stamps' and the clocks' resolution.
            tap.replies = [t for t in outbound if tap.sent_wall - 0.005 <= t <= tap.answered_wall + 0.005]


async def run(args: argparse.Namespace) -> dict:
    with bench_stack(args.conversations + WARMUP_CONVERSATIONS, args.status_delays,
                     args.keep_var, profile=args.profile, workers=args.workers) as stack:
        settings = settings_for(stack)
        service_day = await send_reminders(stack, settings)
        timeout = aiohttp.ClientTimeout(total=30)
        # Each webhook on a new connection, as nginx sends them to Rasa
        # (deploy/nginx/recorda.conf keeps no connection to its workers).
        connector = aiohttp.TCPConnector(limit=args.conversations + WARMUP_CONVERSATIONS, force_close=True)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            everyone = await conversations_for(session, stack, settings, service_day,
                                               args.conversations + WARMUP_CONVERSATIONS)
            warmup, conversations = everyone[:WARMUP_CONVERSATIONS], everyone[WARMUP_CONVERSATIONS:]
            url = stack.webhook_url
            # Warm-up, not measured: the first text through the NLU pipeline and
            # the first button of a process are slower than the rest.
            await asyncio.gather(*(worker(session, url, c, len(KINDS), 0.0, time.monotonic() + 60)
                                   for c in warmup))
            log.info("Warm-up done; %d conversations x %d messages", len(conversations), args.taps)
            deadline = time.monotonic() + args.timeout
            before = machine()
            cpu_before = cpu_snapshot(stack)
            started = time.perf_counter()
            results = await asyncio.gather(*(worker(session, url, c, args.taps, args.think_ms / 1000.0,
                                                    deadline) for c in conversations))
            elapsed = time.perf_counter() - started
            cpu_after = cpu_snapshot(stack)
            taps = [t for r in results for t in r]
            await attach_replies(session, stack, taps)

        ok = [t for t in taps if t.error is None]
        round_trips = [t.round_trip for t in ok]
        first_replies = [t.replies[0] - t.sent_wall for t in ok if t.replies]
        errors = [t.error for t in taps if t.error]
        for error in errors[:5]:
            log.warning("error: %s", error)
        rt = summary_ms(round_trips)
        p95 = rt["p95_ms"]
        return {
            "benchmark": "button_latency",
            **profile_figures(args),
            "concurrency": len(conversations),
            "taps": len(taps),
            "p50_ms": rt["p50_ms"], "p95_ms": p95, "p99_ms": rt["p99_ms"], "max_ms": rt["max_ms"],
            "target_p95_ms": TARGET_P95_MS,
            "meets_target": p95 is not None and p95 < TARGET_P95_MS,
            "errors": len(errors),
            "measured": "webhook HTTP round trip (the connector answers after the replies were sent)",
            "first_reply_recorded": summary_ms(first_replies),
            "without_reply": sum(1 for t in ok if not t.replies),
            "replies": sum(len(t.replies) for t in ok),
            "by_kind": {kind: summary_ms([t.round_trip for t in ok if t.kind == kind]) for kind in KINDS},
            "messages_per_second": round(len(ok) / elapsed, 1) if elapsed else None,
            "seconds": round(elapsed, 2),
            "think_ms": args.think_ms,
            "cpu_seconds": cpu_delta(cpu_before, cpu_after),
            "machine": before,
        }


def main(argv=None) -> int:
    return run_benchmark("button_latency", parse_args(argv), run, passed=lambda result: result["errors"] == 0)


if __name__ == "__main__":
    raise SystemExit(main())
