"""Recorda's background worker: retries the confirm/cancel operations that
the booking system could not take, and has the assistant tell the citizen
when they are done. Run one per deployment: `python -m bot.worker`."""
from __future__ import annotations

import argparse
import asyncio
import logging

import aiohttp

from bot.booking.outbox import DONE, BookingOutbox, Operation, OutboxWorker
from bot.booking.rest import booking_system_from_settings
from bot.config import Settings
from bot.rasa_client import trigger_intent

log = logging.getLogger(__name__)


def rasa_notifier(session: aiohttp.ClientSession, settings: Settings):
    async def notify(op: Operation) -> None:
        await trigger_intent(session, settings.rasa_url, settings.rasa_token, op.sender_id,
                             "EXTERNAL_booking_update",
                             {"appointment_id": op.appointment_id, "operation": op.operation,
                              "outcome": "done" if op.state == DONE else "refused"})
    return notify


async def main(interval: float) -> None:
    settings = Settings.from_env()
    booking = booking_system_from_settings(settings)
    async with aiohttp.ClientSession() as session:
        worker = OutboxWorker(BookingOutbox(settings.db_url), booking, rasa_notifier(session, settings))
        log.info("Worker started (every %.1fs)", interval)
        try:
            await worker.run_forever(interval)
        finally:
            await booking.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between passes")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(main(args.interval))
