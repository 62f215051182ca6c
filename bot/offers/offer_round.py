"""One pass of offering freed slots, run by the worker every few seconds.

1. A reminder the citizen cancelled (through Recorda: button, confirmed
   words, SMS link) frees its slot. Its office's `waiting_list` settings
   (offices.yml) say whether it is offered: only if it starts at least
   `min_notice` later.
2. Offers past their time expire.
3. An open slot with no offer outstanding goes to the next people on the
   booking system's waiting list for that office and procedure,
   `offers_at_once` at a time, skipping those offered `max_offers_per_day`
   times today and waiting out the office's quiet hours. The first
   "Take it" books it (actions/offers.py; the booking system arbitrates).
   When nobody is left, or the slot comes too close, it closes unclaimed.

Everything is in the database and each step is atomic, so the pass can be
killed and re-run: an offer claimed for sending and never confirmed is not
sent again (better one offer lost than a citizen told twice).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Awaitable, Callable, List, Set
from zoneinfo import ZoneInfo

from bot.booking import CANCELLED, NOT_SUPPORTED, AppointmentNotFound, BookingError, BookingRefused, BookingSystem
from bot.foundation.aio import in_thread
from bot.foundation.clock import utc_now
from bot.foundation.phone import to_e164
from bot.messaging.rasa_client import RasaUnavailable
from bot.offers import store as offers
from bot.offers.store import FreedSlot, Offer, OfferStore
from bot.offices.settings import for_office
from bot.reminders import states
from bot.reminders.store import ReminderStore

log = logging.getLogger(__name__)

# (phone E.164, offer) -> None once the assistant took it; RasaUnavailable to try again later.
SendOffer = Callable[[str, Offer], Awaitable[None]]
LOOK_AHEAD_DAYS = 14  # cancelled reminders of service days this far ahead are looked at


@dataclass
class RoundSummary:
    freed: int = 0
    offered: int = 0
    expired: int = 0
    closed: List[str] = field(default_factory=list)


class OfferRound:
    def __init__(self, store: OfferStore, reminders: ReminderStore, booking: BookingSystem, send: SendOffer,
                 timezone: ZoneInfo, region: str, clock: Callable[[], datetime] = utc_now):
        self.store = store
        self.reminders = reminders
        self.booking = booking
        self.send = send
        self.timezone = timezone
        self.region = region
        self.clock = clock

    async def run_once(self) -> RoundSummary:
        summary = RoundSummary()
        now = self.clock()
        await self._record_freed_slots(now, summary)
        summary.expired = await in_thread(self.store.expire_due, now)
        for slot in await in_thread(self.store.open_slots):
            try:
                await self._offer(slot, now, summary)
            except BookingRefused as exc:
                if exc.code != NOT_SUPPORTED:
                    log.warning("Freed slot %s not offered this pass: %s", slot.id, exc)
                    continue
                # An adapter without waiting lists: say so once, not every pass.
                if await in_thread(self.store.close_slot, slot.id, offers.NOT_OFFERED,
                                   "booking_system_has_no_waiting_list", now):
                    log.warning("Freed slot %s not offered: the booking system has no waiting lists", slot.id)
            except BookingError as exc:
                log.warning("Freed slot %s not offered this pass: booking system error %s", slot.id, exc)
        return summary

    # --- 1. freed slots ---------------------------------------------------------
    async def _record_freed_slots(self, now: datetime, summary: RoundSummary) -> None:
        today = now.astimezone(self.timezone).date()
        cancelled = await in_thread(self.reminders.answered_between, today,
                                    today + timedelta(days=LOOK_AHEAD_DAYS), states.CANCELLED)
        known = set(await in_thread(self.store.known_appointments, cancelled))
        for appointment_id in cancelled:
            if appointment_id in known:
                continue
            try:
                appointment = await self.booking.get_appointment(appointment_id)
            except AppointmentNotFound:
                continue
            except BookingError as exc:
                log.warning("Cancelled appointment %s not read: %s; next pass", appointment_id, exc)
                return
            if appointment.status != CANCELLED:
                continue  # the cancellation is still queued: its slot is not free yet
            settings = for_office(appointment.office_id).waiting_list
            state, reason = offers.OPEN, None
            if not settings.enabled:
                state, reason = offers.NOT_OFFERED, "office_has_no_waiting_list"
            elif appointment.starts_at - now < settings.min_notice:
                state, reason = offers.NOT_OFFERED, "too_late"
            slot = await in_thread(self.store.record_freed, appointment.id, appointment.office_id,
                                   appointment.procedure_id, appointment.starts_at, state, reason, now)
            if slot is not None and state == offers.OPEN:
                summary.freed += 1
                log.info("Slot of %s (%s) freed: offering it to the waiting list", appointment.id,
                         appointment.starts_at.isoformat())

    # --- 3. offers ----------------------------------------------------------------
    async def _offer(self, slot: FreedSlot, now: datetime, summary: RoundSummary) -> None:
        office = for_office(slot.office_id)
        settings = office.waiting_list
        made = await in_thread(self.store.offers_of, slot.id)
        outstanding = [o for o in made if o.state in offers.OUTSTANDING]
        for offer in outstanding:
            if offer.state == offers.PENDING:  # the assistant was unavailable: try again
                summary.offered += await self._send(offer, now)
        if outstanding:
            return  # wait for their answers, or their expiry
        if slot.starts_at - now < settings.min_notice:
            await self._close(slot, "too_late", now, summary)
            return
        quiet = office.quiet_hours
        if quiet is not None and quiet.contains(now.astimezone(self.timezone).time()):
            return
        chosen = await self._next_people(slot, {o.entry_id for o in made}, now, settings.offers_at_once,
                                         settings.max_offers_per_day)
        if not chosen:
            await self._close(slot, "nobody_left", now, summary)
            return
        expires_at = min(now + settings.offer_valid_for, slot.starts_at - settings.min_notice)
        for entry, phone in chosen:
            offer = await in_thread(self.store.create_offer, slot.id, entry.id, phone, entry.citizen_name,
                                    entry.language, expires_at, now)
            if await self._send(offer, now):
                summary.offered += 1

    async def _next_people(self, slot: FreedSlot, already: Set[str], now: datetime, count: int,
                           daily_cap: int) -> List[tuple]:
        waiting = await self.booking.waiting_list(slot.office_id, slot.procedure_id)
        cancelled_by = await in_thread(self.reminders.get, slot.appointment_id)
        local_midnight = datetime.combine(now.astimezone(self.timezone).date(), time(), self.timezone)
        chosen = []
        for entry in waiting:
            phone = to_e164(entry.phone, self.region)
            if entry.id in already or phone is None:
                continue
            if cancelled_by is not None and phone == cancelled_by.phone:
                continue  # the person who just gave it up
            if await in_thread(self.store.offers_to_since, phone, local_midnight) >= daily_cap:
                continue  # enough offers for today; they stay on the list
            chosen.append((entry, phone))
            if len(chosen) == count:
                break
        return chosen

    async def _send(self, offer: Offer, now: datetime) -> bool:
        if not await in_thread(self.store.move, offer.id, (offers.PENDING,), offers.SENDING, now):
            return False
        try:
            await self.send(offer.phone, offer)
        except RasaUnavailable as exc:
            log.warning("Offer %s not sent, the assistant is unavailable: %s; next pass", offer.id, exc)
            await in_thread(self.store.move, offer.id, (offers.SENDING,), offers.PENDING, now)
            return False
        except ValueError as exc:
            log.error("Offer %s refused by the assistant: %s", offer.id, exc)
            await in_thread(self.store.move, offer.id, (offers.SENDING,), offers.FAILED, now)
            return False
        # False when the channel found the provider refused it (marked failed meanwhile).
        return await in_thread(self.store.move, offer.id, (offers.SENDING,), offers.SENT, now)

    async def _close(self, slot: FreedSlot, reason: str, now: datetime, summary: RoundSummary) -> None:
        if await in_thread(self.store.close_slot, slot.id, offers.UNCLAIMED, reason, now):
            summary.closed.append(reason)
            log.info("Freed slot %s closed unclaimed: %s", slot.id, reason)

