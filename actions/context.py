"""What every action needs: the settings, one booking-system client and the
stores (created once per action-server process), the sender's number when
the message really came from it (actions/trust.py), the conversation's
language, and the ownership rule."""
from __future__ import annotations

import logging
from typing import List, Optional

from rasa_sdk import Tracker

import bot.foundation.clock
from actions import trust
from bot.booking import Appointment, AppointmentNotFound, BookingError, BookingSystem
from bot.booking.outbox import BookingOutbox
from bot.booking.reference_cache import ReferenceDataCache
from bot.booking.rest import booking_system_from_settings
from bot.foundation.languages import normalise_language
from bot.foundation.phone import mask, to_e164
from bot.foundation.settings import Settings
from bot.offers.store import OfferStore
from bot.reminders.store import ReminderStore

log = logging.getLogger(__name__)


class Services:
    """Lazily built, shared by all actions of the process."""
    _settings: Optional[Settings] = None
    _booking: Optional[BookingSystem] = None
    _reminders: Optional[ReminderStore] = None
    _outbox: Optional[BookingOutbox] = None
    _offers: Optional[OfferStore] = None

    @classmethod
    def settings(cls) -> Settings:
        if cls._settings is None:
            cls._settings = Settings.from_env()
        return cls._settings

    @classmethod
    def booking(cls) -> BookingSystem:
        if cls._booking is None:
            # Offices and procedures are read for every reminder and answer:
            # kept for a while instead of one HTTP round trip each time.
            settings = cls.settings()
            cls._booking = ReferenceDataCache(booking_system_from_settings(settings),
                                              ttl=settings.booking_reference_ttl)
        return cls._booking

    @classmethod
    def reminders(cls) -> ReminderStore:
        if cls._reminders is None:
            cls._reminders = ReminderStore(cls.settings().db_url)
        return cls._reminders

    @classmethod
    def outbox(cls) -> BookingOutbox:
        if cls._outbox is None:
            cls._outbox = BookingOutbox(cls.settings().db_url)
        return cls._outbox

    @classmethod
    def offers(cls) -> OfferStore:
        if cls._offers is None:
            cls._offers = OfferStore(cls.settings().db_url)
        return cls._offers

    @classmethod
    def reset(cls) -> None:
        """For tests that change the environment between cases."""
        cls._settings = cls._booking = cls._reminders = cls._outbox = cls._offers = None


def origin(tracker: Tracker) -> str:
    """Who sent the latest message: trust.TAP, TEXT, MEDIA, RECORDA or UNVERIFIED."""
    return trust.origin(tracker, Services.settings().action_token)


def is_tap(tracker: Tracker) -> bool:
    """A real button reply: the only way a citizen's message is read as a
    payload (typed text never is)."""
    return origin(tracker) == trust.TAP


def sender_phone(tracker: Tracker) -> Optional[str]:
    """The citizen's E.164 number (the conversation id on WhatsApp), when the
    latest message came from that number's own signed channel or from
    Recorda's own trigger; None otherwise, so nothing is read or changed."""
    if origin(tracker) == trust.UNVERIFIED:
        return None
    return to_e164(tracker.sender_id, Services.settings().default_region)


def is_verified(tracker: Tracker) -> bool:
    return sender_phone(tracker) is not None


def language(tracker: Tracker) -> str:
    return normalise_language(tracker.get_slot("language") or "", Services.settings().default_language)


def requested_appointment_id(tracker: Tracker) -> Optional[str]:
    """The appointment named by the latest message (a button's payload), else
    the one the conversation is about (set by the reminder)."""
    entity = next(tracker.get_latest_entity_values("appointment_id"), None)
    return str(entity) if entity else tracker.get_slot("appointment_id")


def owns(appointment: Appointment, tracker: Tracker) -> bool:
    """Security rule: an action acts only on the sender's own appointments."""
    phone = sender_phone(tracker)
    if phone is None:
        trust.log_refusal(tracker, f"access to appointment {appointment.id}")
        return False
    owner = to_e164(appointment.phone, Services.settings().default_region)
    if owner != phone:
        log.warning("Refused: %s asked about appointment %s, which belongs to another number",
                    mask(tracker.sender_id), appointment.id)
        return False
    return True


async def owned_appointment(tracker: Tracker, appointment_id: str) -> Optional[Appointment]:
    """The appointment if it exists and belongs to the sender; None otherwise.
    Raises BookingUnavailable when the booking system cannot answer."""
    try:
        appointment = await Services.booking().get_appointment(appointment_id)
    except AppointmentNotFound:
        log.warning("%s referred to unknown appointment %s", mask(tracker.sender_id), appointment_id)
        return None
    return appointment if owns(appointment, tracker) else None


async def upcoming_for_sender(tracker: Tracker) -> List[Appointment]:
    """The sender's active appointments that have not started yet."""
    phone = sender_phone(tracker)
    if phone is None:
        return []
    now = bot.foundation.clock.now(Services.settings().timezone)
    found = await Services.booking().upcoming_appointments(phone, now.date())
    # The booking system answers by day: this morning's are not upcoming.
    return [a for a in found if a.is_active and a.starts_at > now and owns(a, tracker)]


async def conversation_language(tracker: Tracker) -> str:
    """The conversation's language: the slot (set by the reminder, or by what
    the citizen wrote); for a citizen who writes first and says nothing that
    tells (e.g. "ok"), the language of their booking record."""
    if tracker.get_slot("language"):
        return language(tracker)
    try:
        upcoming = await upcoming_for_sender(tracker)
    except BookingError:
        upcoming = []
    if upcoming:
        return normalise_language(upcoming[0].language, Services.settings().default_language)
    return language(tracker)
