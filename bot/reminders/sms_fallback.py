"""SMS fallback: when WhatsApp cannot reach a citizen for good (no WhatsApp
account, or not delivered), one SMS with the essentials and a personal link
to confirm or cancel on a web page (bot.apps.web). Off by default; on per office
with `sms_fallback: true` in offices.yml. Run by the worker every pass.

A reminder qualifies when it is `failed` with one of FALLBACK_REASONS, its
office has the fallback on, its appointment is still active and in the
future, and it has had no SMS yet. Exactly one SMS per appointment, whatever
the number of workers or restarts: a row in `sms_fallbacks` (unique
appointment id) is claimed atomically before sending. A send that failed on
the provider's side (unreachable, 5xx, 429) is tried again at a later pass,
up to MAX_ATTEMPTS; a refusal (bad number, bad key) is final. A worker that
dies in the middle of a send leaves its claim `sending`: never sent again,
since it may have gone out (one SMS too few rather than two).

Each SMS sent is an event "sms_sent" in the reminder's history (its state
stays `failed`: the failure of WhatsApp is what happened).

Answers given through the page that had to wait for the booking system are
queued in the outbox with the sender id "sms:<E.164>"; `SmsOutcomeNotifier`
tells those citizens the outcome by SMS when the worker has done them.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Callable, List, Optional

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    exists,
    insert,
    not_,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError

from bot.booking import Appointment, AppointmentNotFound, BookingError, BookingSystem, BookingUnavailable, Office
from bot.booking.outbox import DONE, Operation
from bot.citizens.links import CitizenLinks
from bot.citizens.texts import text, variants
from bot.foundation.aio import in_thread
from bot.foundation.clock import stored_utc as _aware
from bot.foundation.clock import utc_now as _now
from bot.foundation.db import engine_with_tables
from bot.foundation.languages import format_when, normalise_language
from bot.foundation.phone import mask, to_e164
from bot.messaging.sms import ProviderError, SmsSender
from bot.messaging.sms_text import sms_parts, to_gsm7
from bot.offices.settings import configured_offices, for_office
from bot.reminders import states
from bot.reminders.provider_status import NO_WHATSAPP, NOT_DELIVERED
from bot.reminders.records import Reminder, reminders
from bot.reminders.store import ReminderStore

log = logging.getLogger(__name__)

FALLBACK_REASONS = (NO_WHATSAPP, NOT_DELIVERED)
MAX_PARTS = 2
MAX_ATTEMPTS = 5
BATCH = 20
SMS_SENDER_PREFIX = "sms:"
_POSTCODE_AND_TOWN = re.compile(r",\s*\d{5}\b[^,]*$")

# States of an SMS fallback row.
SENDING, SENT, RETRY, FAILED, SKIPPED = "sending", "sent", "retry", "failed", "skipped"

# This store's tables, created by the store itself (bot/foundation/db.py knows none).
SCHEMA = MetaData()

sms_fallbacks = Table(
    "sms_fallbacks", SCHEMA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("appointment_id", String(64), nullable=False, unique=True),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("provider_message_id", String(64), nullable=True),
    Column("parts", Integer, nullable=True),
    Column("detail", String(200), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


def sms_sender_id(phone_e164: str) -> str:
    """The outbox's sender id of an answer given through an SMS link."""
    return SMS_SENDER_PREFIX + phone_e164


def is_sms_sender(sender_id: str) -> bool:
    return sender_id.startswith(SMS_SENDER_PREFIX)


@dataclass(frozen=True)
class FallbackRecord:
    appointment_id: str
    state: str
    attempts: int
    next_attempt_at: Optional[datetime]
    provider_message_id: Optional[str]
    parts: Optional[int]
    detail: Optional[str]

    @classmethod
    def from_row(cls, row) -> "FallbackRecord":
        return cls(row.appointment_id, row.state, row.attempts, _aware(row.next_attempt_at),
                   row.provider_message_id, row.parts, row.detail)


class SmsFallbackStore:
    """Which appointments had their SMS (or will never get one), and the claims."""

    def __init__(self, db_url: str):
        self.engine = engine_with_tables(db_url, SCHEMA)

    def get(self, appointment_id: str) -> Optional[FallbackRecord]:
        with self.engine.connect() as conn:
            row = conn.execute(select(sms_fallbacks).where(
                sms_fallbacks.c.appointment_id == appointment_id)).first()
        return FallbackRecord.from_row(row) if row else None

    def candidates(self, today: date, limit: int = BATCH) -> List[Reminder]:
        """Failed reminders that may need an SMS: a fallback reason, an
        office with the fallback on, an appointment not before `today`, and
        no SMS row yet or one whose retry is due."""
        office_rule = _office_rule()
        if office_rule is None:
            return []
        now = _now()
        no_row = not_(exists().where(sms_fallbacks.c.appointment_id == reminders.c.appointment_id))
        retry_due = exists().where(and_(sms_fallbacks.c.appointment_id == reminders.c.appointment_id,
                                        sms_fallbacks.c.state == RETRY,
                                        sms_fallbacks.c.next_attempt_at <= now))
        query = (select(reminders).where(and_(
            reminders.c.state == states.FAILED,
            reminders.c.reason.in_(FALLBACK_REASONS),
            or_(reminders.c.service_date.is_(None), reminders.c.service_date >= today),
            office_rule,
            or_(no_row, retry_due))).order_by(reminders.c.id).limit(limit))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [Reminder.from_row(r) for r in rows]

    def claim(self, appointment_id: str) -> bool:
        """True for the one caller that may send this appointment's SMS now:
        a new row, or a due retry moved back to `sending` (guarded on its
        attempt count, so two workers cannot both take it)."""
        now = _now()
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(sms_fallbacks).values(
                    appointment_id=appointment_id, state=SENDING, attempts=1, created_at=now,
                    updated_at=now))
            return True
        except IntegrityError:
            pass
        with self.engine.begin() as conn:
            row = conn.execute(select(sms_fallbacks).where(
                sms_fallbacks.c.appointment_id == appointment_id)).first()
            if row is None or row.state != RETRY or _aware(row.next_attempt_at) > now:
                return False
            result = conn.execute(update(sms_fallbacks).where(and_(
                sms_fallbacks.c.id == row.id, sms_fallbacks.c.state == RETRY,
                sms_fallbacks.c.attempts == row.attempts)).values(
                state=SENDING, attempts=row.attempts + 1, updated_at=now))
            return result.rowcount == 1

    def skip(self, appointment_id: str, why: str) -> None:
        """No SMS will ever be sent for this appointment (cancelled, past...)."""
        now = _now()
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(sms_fallbacks).values(
                    appointment_id=appointment_id, state=SKIPPED, attempts=0, detail=why[:200],
                    created_at=now, updated_at=now))
        except IntegrityError:
            with self.engine.begin() as conn:
                conn.execute(update(sms_fallbacks).where(and_(
                    sms_fallbacks.c.appointment_id == appointment_id,
                    sms_fallbacks.c.state == RETRY)).values(state=SKIPPED, detail=why[:200],
                                                            updated_at=now))

    def _finish(self, appointment_id: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(sms_fallbacks).where(
                sms_fallbacks.c.appointment_id == appointment_id).values(updated_at=_now(), **values))

    def mark_sent(self, appointment_id: str, message_id: str, parts: int) -> None:
        self._finish(appointment_id, state=SENT, provider_message_id=message_id, parts=parts,
                     detail=None, next_attempt_at=None)

    def mark_failed(self, appointment_id: str, error: str) -> None:
        self._finish(appointment_id, state=FAILED, detail=error[:200], next_attempt_at=None)

    def retry_later(self, appointment_id: str, error: str, attempts: int) -> None:
        delay = timedelta(seconds=min(30 * 2 ** (attempts - 1), 1800))
        self._finish(appointment_id, state=RETRY, detail=error[:200],
                     next_attempt_at=_now() + delay)


def _office_rule():
    """The SQL condition "the reminder's office has the fallback on", or None
    when no office has it (then there is nothing to query)."""
    named = configured_offices()
    if for_office(None).sms_fallback:
        off = [o for o in named if not for_office(o).sms_fallback]
        return or_(reminders.c.office_id.is_(None), reminders.c.office_id.notin_(off)) if off else true()
    on = [o for o in named if for_office(o).sms_fallback]
    return reminders.c.office_id.in_(on) if on else None


def street(address: str) -> str:
    """"Plaça de la Vila, 1, 08800 Vilademar" -> "Plaça de la Vila, 1"."""
    return _POSTCODE_AND_TOWN.sub("", address).strip() or address


def compose(appointment: Appointment, office: Office, link: str, language: str, tz) -> str:
    """The SMS text, in the SMS alphabet: the first version of sms_reminder
    (texts/sms_fallback.yml) that fits in MAX_PARTS, else the last one."""
    versions = [to_gsm7(v) for v in variants(
        "sms_reminder", language, when=format_when(appointment.starts_at, language, tz),
        office=office.name, address=office.address, street=street(office.address), link=link)]
    for body in versions:
        if sms_parts(body) <= MAX_PARTS:
            return body
    log.warning("The SMS for %s takes %d parts (more than %d): shorten the last sms_reminder "
                "in texts/sms_fallback.yml", appointment.id, sms_parts(versions[-1]), MAX_PARTS)
    return versions[-1]


class SmsFallback:
    """The worker's duty: `await fallback.run_once()` each pass."""

    def __init__(self, store: SmsFallbackStore, reminders_store: ReminderStore,
                 booking: BookingSystem, client: SmsSender, links: CitizenLinks,
                 timezone_, default_language: str = "ca", region: str = "ES",
                 clock: Callable[[], datetime] = _now):
        self.store = store
        self.reminders = reminders_store
        self.booking = booking
        self.client = client
        self.links = links
        self.tz = timezone_
        self.default_language = default_language
        self.region = region
        self.clock = clock

    @classmethod
    def from_settings(cls, settings, booking: BookingSystem,
                      client: SmsSender) -> "SmsFallback":
        return cls(SmsFallbackStore(settings.db_url), ReminderStore(settings.db_url), booking,
                   client,
                   CitizenLinks.from_settings(settings), settings.timezone,
                   settings.default_language, settings.default_region)

    async def run_once(self) -> int:
        """One pass; returns how many SMS were sent."""
        today = self.clock().astimezone(self.tz).date()
        sent = 0
        for reminder in await in_thread(self.store.candidates, today):
            try:
                sent += await self._handle(reminder)
            except BookingUnavailable as exc:
                log.warning("Booking system unavailable; SMS fallback of %s waits: %s",
                            reminder.appointment_id, exc)
                break  # the others would wait too
        return sent

    async def _handle(self, reminder: Reminder) -> int:
        aid = reminder.appointment_id
        try:
            appointment = await self.booking.get_appointment(aid)
        except AppointmentNotFound:
            await in_thread(self.store.skip, aid, "appointment not found")
            return 0
        except BookingUnavailable:
            raise
        except BookingError as exc:
            log.error("Booking system error for SMS fallback of %s: %s", aid, exc)
            return 0
        phone = to_e164(appointment.phone, self.region)
        why = self._not_eligible(appointment, reminder, phone)
        if why:
            log.info("No SMS fallback for %s: %s", aid, why)
            await in_thread(self.store.skip, aid, why)
            return 0
        assert phone is not None  # _not_eligible refuses a missing number
        office = await self.booking.get_office(appointment.office_id)
        language = normalise_language(appointment.language or reminder.language or "",
                                      self.default_language)
        body = compose(appointment, office, self.links.link(aid, phone, appointment.starts_at),
                       language, self.tz)
        if not await in_thread(self.store.claim, aid):
            return 0  # another worker has it, or it was done meanwhile
        validity = max(60, int((appointment.starts_at - self.clock()).total_seconds()))
        claimed = await in_thread(self.store.get, aid)
        attempts = claimed.attempts if claimed is not None else 0
        try:
            sms = await self.client.send(phone, body, reference=aid, validity=validity)
        except ProviderError as exc:
            await self._send_failed(aid, phone, exc, attempts)
            return 0
        parts = sms_parts(body)
        await in_thread(self.store.mark_sent, aid, sms.id, parts)
        await in_thread(self.reminders.record_event, aid, "sms_sent", "sms_fallback",
                         {"message_id": sms.id, "parts": parts, "language": language})
        log.info("SMS fallback sent for %s to %s (%d parts)", aid, mask(phone), parts)
        return 1

    def _not_eligible(self, appointment: Appointment, reminder: Reminder,
                      phone: Optional[str]) -> Optional[str]:
        if not appointment.is_active:
            return f"appointment {appointment.status}"
        if appointment.starts_at <= self.clock():
            return "appointment has started"
        if phone is None:
            return "no valid phone number"
        if reminder.phone and reminder.phone != phone:
            # The booking record's number changed after the reminder: the
            # failure was about another number; the new one gets WhatsApp
            # next time, not an SMS now.
            return "phone number changed since the reminder"
        if not for_office(appointment.office_id).sms_fallback:
            return "office has no SMS fallback"
        return None

    async def _send_failed(self, aid: str, phone: str, exc: ProviderError, attempts: int) -> None:
        if exc.retryable and attempts < MAX_ATTEMPTS:
            log.warning("SMS to %s for %s failed (%s); trying again later", mask(phone), aid, exc)
            await in_thread(self.store.retry_later, aid, str(exc), attempts)
            return
        log.error("SMS to %s for %s failed for good: %s", mask(phone), aid, exc)
        await in_thread(self.store.mark_failed, aid, str(exc))
        await in_thread(self.reminders.record_event, aid, "sms_failed", "sms_fallback",
                         {"status": exc.status, "code": exc.code, "error": exc.description[:200]})


class SmsOutcomeNotifier:
    """Tells a citizen who answered through an SMS link, and had to wait for
    the booking system, how it ended; records the answer once it is done."""

    def __init__(self, client: SmsSender, booking: BookingSystem,
                 reminders_store: ReminderStore, timezone_, default_language: str = "ca"):
        self.client = client
        self.booking = booking
        self.reminders = reminders_store
        self.tz = timezone_
        self.default_language = default_language

    async def __call__(self, op: Operation) -> None:
        phone = op.sender_id[len(SMS_SENDER_PREFIX):]
        appointment = await self.booking.get_appointment(op.appointment_id)
        language = normalise_language(op.language or appointment.language or "", self.default_language)
        when = format_when(appointment.starts_at, language, self.tz)
        if op.state == DONE:
            answer = states.CANCELLED if op.operation == "cancel" else states.CONFIRMED
            reminder = await in_thread(self.reminders.get, op.appointment_id)
            if reminder is None or reminder.state != answer:  # not twice if the SMS is retried
                await in_thread(self.reminders.record_answer, op.appointment_id, answer, "sms")
            body = text("sms_done_cancel" if op.operation == "cancel" else "sms_done_confirm",
                        language, when=when)
        else:
            office = await self.booking.get_office(appointment.office_id)
            body = text("sms_refused", language, when=when, phone=office.phone)
        await self.client.send(phone, to_gsm7(body), reference=op.appointment_id)
        log.info("Told %s by SMS how the queued %s of %s ended", mask(phone), op.operation,
                 op.appointment_id)
