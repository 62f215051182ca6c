"""Recorda's background worker, one per deployment (`python -m bot.apps.worker`).
Each pass it:

* retries the confirm/cancel operations the booking system could not take,
  and has the assistant tell the citizen when they are done;
* closes the reply window of unanswered reminders whose time is up;
* sends the SMS fallback of reminders WhatsApp could not deliver, for the
  offices that have it on (bot.reminders.sms_fallback);
* offers the slots citizens cancelled to the people on the waiting list,
  for the offices that have it on (bot.offers.offer_round), every
  OFFER_ROUND_SECONDS;
* once a day, deletes conversations and reminders older than the retention
  period (RECORDA_RETENTION_DAYS; 0 turns it off; bot.console.retention).

Everything it acts on is in the database, so a restart loses nothing.

With RECORDA_WORKER_PORT set (off by default), it also answers GET /health,
/ready and /metrics on that port (RECORDA_WORKER_HOST, 127.0.0.1 by
default; bot/apps/worker_http.py, docs/monitoring.md).
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
from datetime import date, datetime, timedelta
from typing import Awaitable, Callable, List, Optional

import aiohttp

import bot.foundation.clock
from bot.apps.operations import start_process
from bot.apps.worker_http import Heartbeat, start_operations_server
from bot.booking import BookingSystem
from bot.booking.outbox import DONE, BookingOutbox, Operation, OutboxWorker
from bot.booking.rest import booking_system_from_settings
from bot.console.retention import purge
from bot.foundation.aio import in_thread
from bot.foundation.health import database_check
from bot.foundation.settings import Settings
from bot.messaging.rasa_client import rasa_session, trigger_intent
from bot.offers.offer_round import OfferRound, SendOffer
from bot.offers.store import Offer, OfferStore
from bot.reminders.sms_fallback import SmsFallback, SmsOutcomeNotifier, is_sms_sender
from bot.reminders.store import ReminderStore
from connectors.messagebird_sms import MessageBirdSmsClient

log = logging.getLogger(__name__)

Duty = Callable[[], Awaitable[object]]


def rasa_notifier(session: aiohttp.ClientSession, settings: Settings):
    async def notify(op: Operation) -> None:
        await trigger_intent(session, settings.rasa_url, settings.rasa_token, op.sender_id,
                             "EXTERNAL_booking_update",
                             {"appointment_id": op.appointment_id, "operation": op.operation,
                              "outcome": "done" if op.state == DONE else "refused"},
                             settings.whatsapp_channel)
    return notify


def outcome_notifier(session: aiohttp.ClientSession, settings: Settings,
                     sms: Optional[SmsOutcomeNotifier]):
    """Tells the citizen how a queued operation ended: through the assistant
    (WhatsApp), or by SMS for an answer given through an SMS link."""
    rasa = rasa_notifier(session, settings)

    async def notify(op: Operation) -> None:
        if not is_sms_sender(op.sender_id):
            await rasa(op)
        elif sms is None:
            raise RuntimeError("SMS is not configured (MESSAGEBIRD_ACCESS_KEY)")
        else:
            await sms(op)
    return notify


def sms_services(settings: Settings, booking: BookingSystem):
    """(the fallback duty, the SMS outcome notifier), each None when SMS
    cannot work here; the reason is logged once."""
    if not settings.messagebird_access_key:
        log.warning("No MESSAGEBIRD_ACCESS_KEY: no SMS fallback")
        return None, None
    client = MessageBirdSmsClient.from_settings(settings)
    notifier = SmsOutcomeNotifier(client, booking, ReminderStore(settings.db_url),
                                  settings.timezone, settings.default_language)
    try:
        fallback = SmsFallback.from_settings(settings, booking, client)
    except ValueError as exc:  # no link secret
        log.error("No SMS fallback: %s", exc)
        return None, notifier
    log.info("SMS fallback ready for the offices that have it on; its links point to %s",
             settings.public_url)
    return fallback, notifier


def offer_sender(session: aiohttp.ClientSession, settings: Settings) -> SendOffer:
    async def send(phone: str, offer: Offer) -> None:
        await trigger_intent(session, settings.rasa_url, settings.rasa_token, phone, "EXTERNAL_slot_offer",
                             {"offer_id": str(offer.id), "language": offer.language}, settings.whatsapp_channel)
    return send


# A freed slot waits about this long for its first offers. The offer round
# runs in a loop of its own: a slow booking system delays offers, never the
# retry queue or the reply windows.
OFFER_ROUND_SECONDS = 10.0


def expiry_duty(store: ReminderStore) -> Duty:
    async def expire() -> None:
        expired = await in_thread(store.expire_due)
        if expired:
            log.info("Reply window closed for %d reminder(s)", len(expired))
    return expire


RETENTION_FIRST_RUN_AFTER = timedelta(minutes=5)   # let a (re)started deployment settle first
RETENTION_RETRY_AFTER = timedelta(hours=1)


def retention_duty(settings: Settings, clock: Callable[[], datetime] = bot.foundation.clock.now,
                   first_run_after: timedelta = RETENTION_FIRST_RUN_AFTER) -> Optional[Duty]:
    """The daily retention purge, or None when RECORDA_RETENTION_DAYS is 0.
    It runs once per local day, the first time a few minutes after start;
    a failed purge is tried again an hour later."""
    if settings.retention_days <= 0:
        log.info("Retention purge off (RECORDA_RETENTION_DAYS=0): old data is kept")
        return None
    not_before = clock() + first_run_after
    last_day: List[Optional[date]] = [None]

    async def purge_old_data() -> None:
        nonlocal not_before
        now = clock()
        today = now.astimezone(settings.timezone).date()
        if now < not_before or last_day[0] == today:
            return
        try:
            # purge() logs what it deleted, table by table.
            await in_thread(purge, settings, settings.retention_days, now=now)
        except Exception:
            log.exception("Retention purge failed; trying again in an hour")
            not_before = now + RETENTION_RETRY_AFTER
            return
        last_day[0] = today
    return purge_old_data


async def run_duties(duties: List[Duty], interval: float, heartbeat: Optional[Heartbeat] = None) -> None:
    while True:
        for duty in duties:
            try:
                await duty()
            except Exception:  # one failing duty must not stop the others
                log.exception("Worker duty %s failed; trying again next pass", duty)
        if heartbeat is not None:
            heartbeat.beat()
        await asyncio.sleep(interval)


async def main(interval: float, port: Optional[int] = None, host: str = "127.0.0.1") -> None:
    settings = Settings.from_env()
    heartbeat = Heartbeat()
    operations = None
    if port is not None:
        operations = await start_operations_server(host, port, [database_check(settings.db_url)], heartbeat)
        log.info("Worker's /health, /ready and /metrics on http://%s:%d", host, port)
    booking = booking_system_from_settings(settings)
    fallback, sms_notifier = sms_services(settings, booking)
    async with rasa_session() as session:
        outbox = OutboxWorker(BookingOutbox(settings.db_url), booking,
                              outcome_notifier(session, settings, sms_notifier))
        offers = OfferRound(OfferStore(settings.db_url), ReminderStore(settings.db_url), booking,
                            offer_sender(session, settings), settings.timezone, settings.default_region)
        duties = [outbox.run_once, expiry_duty(ReminderStore(settings.db_url))]
        if fallback is not None:
            duties.append(fallback.run_once)
        retention = retention_duty(settings)
        if retention is not None:
            duties.append(retention)
        log.info("Worker started (every %.1fs)", interval)
        try:
            await asyncio.gather(run_duties(duties, interval, heartbeat),
                                 run_duties([offers.run_once], OFFER_ROUND_SECONDS))
        finally:
            await booking.close()
            if sms_notifier is not None:
                await sms_notifier.client.close()
            if operations is not None:
                await operations.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between passes")
    parser.add_argument("--port", type=int, default=int(os.environ.get("RECORDA_WORKER_PORT") or 0) or None,
                        help="serve /health, /ready and /metrics on this port (RECORDA_WORKER_PORT; default off)")
    parser.add_argument("--host", default=os.environ.get("RECORDA_WORKER_HOST") or "127.0.0.1",
                        help="the address of that port (RECORDA_WORKER_HOST; default 127.0.0.1)")
    args = parser.parse_args()
    start_process("worker", text_format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(main(args.interval, args.port, args.host))
