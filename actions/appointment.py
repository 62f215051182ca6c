"""Confirming and cancelling an appointment, telling its details, and the
links to book or change one.

Which appointment: the one a button names, else the one the conversation is
about (the reminder's), else the sender's only upcoming one; with several,
the citizen picks with buttons. Nothing is done on an appointment of another
number. When the booking system is down, the operation is queued and the
citizen told it is being processed, never that it is done.
"""
from __future__ import annotations

import abc
import logging
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import payloads
from actions.context import (Services, conversation_language, in_thread, owned_appointment,
                             requested_appointment_id, sender_phone, upcoming_for_sender)
from actions.speech import render, say
from bot.booking import (CANCELLED, CONFIRMED, Appointment, BookingRefused, BookingUnavailable)
from bot.i18n import format_short_date, format_when
from bot.phone import mask
from bot.reminders import states

log = logging.getLogger(__name__)


def when(appointment: Appointment, lang: str) -> str:
    return format_when(appointment.starts_at, lang, Services.settings().timezone)


def short_date(appointment: Appointment) -> str:
    """"1/12 10:30": fits a WhatsApp button title (20 characters) with a verb."""
    local = appointment.starts_at.astimezone(Services.settings().timezone)
    return f"{local.day}/{local.month} {local:%H:%M}"


def button_date(appointment: Appointment, lang: str) -> str:
    """"dt. 1/12 10:30": a weekday too, for choosing between appointments."""
    return format_short_date(appointment.starts_at, lang, Services.settings().timezone)


@dataclass
class Target:
    """The appointment an answer is about; `appointment` is None when only its
    id is known (the booking system is down but the reminder store vouches
    that it is the sender's)."""
    appointment_id: str
    appointment: Optional[Appointment]


async def _vouched_by_reminder(tracker: Tracker, appointment_id: str) -> bool:
    reminder = await in_thread(Services.reminders().get, appointment_id)
    return reminder is not None and reminder.phone == sender_phone(tracker)


async def choose_target(dispatcher: CollectingDispatcher, tracker: Tracker,
                        domain: Dict[Text, Any], intent: str) -> Optional[Target]:
    """The appointment to act on, or None after telling the citizen why not
    (no appointment, several to choose from, not theirs)."""
    lang = await conversation_language(tracker)
    link = await _booking_link(lang)
    appointment_id = requested_appointment_id(tracker)
    if appointment_id:
        try:
            appointment = await owned_appointment(tracker, appointment_id)
        except BookingUnavailable:
            if await _vouched_by_reminder(tracker, appointment_id):
                return Target(appointment_id, None)
            raise
        if appointment is None:
            say(dispatcher, domain, "utter_no_appointment", lang, link=link)
            return None
        return Target(appointment.id, appointment)
    upcoming = await upcoming_for_sender(tracker)
    if not upcoming:
        say(dispatcher, domain, "utter_no_appointment", lang, link=link)
        return None
    if len(upcoming) == 1:
        return Target(upcoming[0].id, upcoming[0])
    verb = render(domain, "utter_verb_cancel" if intent == "cancel_appointment" else "utter_verb_confirm", lang)
    buttons = [{"title": button_date(a, lang),
                "payload": payloads.payload(intent, a.id)} for a in upcoming[:10]]
    say(dispatcher, domain, "utter_which_appointment", lang, buttons=buttons, verb=verb)
    return None


async def _booking_link(lang: str) -> str:
    try:
        return await Services.booking().booking_link(lang)
    except Exception:  # the link is a courtesy; never fail an answer for it
        return ""


def refusal_reason(domain: Dict[Text, Any], lang: str, code: str) -> str:
    name = {"not_cancellable": "utter_reason_not_cancellable",
            "not_confirmable": "utter_reason_not_confirmable"}.get(code, "utter_reason_other")
    return render(domain, name, lang)


async def office_phone(appointment: Optional[Appointment]) -> str:
    if appointment is None:
        return ""
    try:
        return (await Services.booking().get_office(appointment.office_id)).phone
    except Exception:
        return ""


async def tell_outcome(dispatcher: CollectingDispatcher, domain: Dict[Text, Any], lang: str,
                       operation: str, appointment: Appointment, already: bool = False) -> None:
    """The citizen's confirmation that the booking system did it."""
    if operation == "cancel":
        say(dispatcher, domain, "utter_already_cancelled" if already else "utter_cancelled", lang,
            when=when(appointment, lang), link=await _booking_link(lang))
        return
    if already:
        say(dispatcher, domain, "utter_already_confirmed", lang, when=when(appointment, lang))
        return
    office = await Services.booking().get_office(appointment.office_id)
    name = appointment.citizen_name.split(" ")[0]
    say(dispatcher, domain, "utter_confirmed", lang, name=name, when=when(appointment, lang),
        office=f"{office.name} ({office.address})")


def ask_before_cancelling(dispatcher: CollectingDispatcher, domain: Dict[Text, Any], lang: str,
                          appointment: Appointment) -> None:
    buttons = [
        {"title": render(domain, "utter_button_cancel_it", lang, date=short_date(appointment)),
         "payload": payloads.cancel(appointment.id)},
        {"title": render(domain, "utter_button_keep_it", lang), "payload": payloads.confirm(appointment.id)},
    ]
    say(dispatcher, domain, "utter_ask_cancel", lang, buttons=buttons, when=when(appointment, lang))


def answer_channel(tracker: Tracker) -> str:
    """How the citizen answered: a button tap arrives as an intent payload."""
    return "button" if (tracker.latest_message.get("text") or "").startswith("/") else "text"


async def record_answer(appointment_id: str, operation: str, channel: str) -> None:
    answer = states.CANCELLED if operation == "cancel" else states.CONFIRMED
    await in_thread(Services.reminders().record_answer, appointment_id, answer, channel)


class AnswerAction(Action, abc.ABC):
    """Confirm or cancel: the same steps, a different booking call."""
    operation = ""
    intent = ""
    done_status = ""

    @abc.abstractmethod
    def name(self) -> Text: ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        lang = await conversation_language(tracker)
        try:
            target = await choose_target(dispatcher, tracker, domain, self.intent)
        except BookingUnavailable:
            # We do not even know which appointment: nothing can be queued.
            log.error("Booking system down; cannot tell which appointment %s means",
                      mask(tracker.sender_id))
            say(dispatcher, domain, "utter_booking_unavailable", lang)
            return []
        if target is None:
            return []
        events = [SlotSet("appointment_id", target.appointment_id)]
        appointment = target.appointment
        if appointment is not None and appointment.status == self.done_status:
            await tell_outcome(dispatcher, domain, lang, self.operation, appointment, already=True)
            return events
        if appointment is not None and self.needs_confirmation(tracker):
            ask_before_cancelling(dispatcher, domain, lang, appointment)
            return events
        outbox = Services.outbox()
        if appointment is None or await in_thread(outbox.pending_for, target.appointment_id):
            return events + await self._queue(dispatcher, domain, tracker, target.appointment_id, lang)
        call = Services.booking().cancel if self.operation == "cancel" else Services.booking().confirm
        try:
            updated = await call(appointment.id)
        except BookingUnavailable as exc:
            log.warning("Booking system unavailable for %s of %s: %s", self.operation, appointment.id, exc)
            return events + await self._queue(dispatcher, domain, tracker, appointment.id, lang)
        except BookingRefused as exc:
            say(dispatcher, domain, "utter_operation_refused", lang,
                reason=refusal_reason(domain, lang, exc.code), phone=await office_phone(appointment))
            return events
        await record_answer(updated.id, self.operation, answer_channel(tracker))
        await tell_outcome(dispatcher, domain, lang, self.operation, updated)
        return events

    def needs_confirmation(self, tracker: Tracker) -> bool:
        """A cancellation understood from words with little confidence is
        asked back, never done on a guess. A button tap is never a guess."""
        if self.operation != "cancel" or answer_channel(tracker) == "button":
            return False
        confidence = (tracker.latest_message.get("intent") or {}).get("confidence") or 0.0
        return confidence < Services.settings().cancel_confidence

    async def _queue(self, dispatcher, domain, tracker, appointment_id: str, lang: str) -> List:
        await in_thread(Services.outbox().enqueue, appointment_id, self.operation,
                        tracker.sender_id, lang)
        say(dispatcher, domain, "utter_operation_queued", lang)
        return []


class ActionConfirmAppointment(AnswerAction):
    operation, intent, done_status = "confirm", "confirm_appointment", CONFIRMED

    def name(self) -> Text:
        return "action_confirm_appointment"


class ActionCancelAppointment(AnswerAction):
    operation, intent, done_status = "cancel", "cancel_appointment", CANCELLED

    def name(self) -> Text:
        return "action_cancel_appointment"


class ActionAppointmentDetails(Action):
    def name(self) -> Text:
        return "action_appointment_details"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        lang = await conversation_language(tracker)
        booking = Services.booking()
        try:
            upcoming = await upcoming_for_sender(tracker)
        except BookingUnavailable:
            say(dispatcher, domain, "utter_booking_unavailable", lang)
            return []
        if not upcoming:
            say(dispatcher, domain, "utter_no_appointment", lang, link=await _booking_link(lang))
            return []
        for appointment in upcoming[:3]:
            office = await booking.get_office(appointment.office_id)
            procedure = await booking.get_procedure(appointment.procedure_id)
            say(dispatcher, domain, "utter_appointment_details", lang, when=when(appointment, lang),
                procedure=procedure.name(lang), office=office.name, address=office.address,
                map_url=office.map_url)
        return [SlotSet("appointment_id", upcoming[0].id)] if len(upcoming) == 1 else []


class ActionBookingLink(Action):
    """A new appointment: the public booking page. A change of date: the same
    page, and the offer to cancel the current appointment so its slot is freed."""

    def name(self) -> Text:
        return "action_booking_link"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        lang = await conversation_language(tracker)
        link = await _booking_link(lang)
        if tracker.get_intent_of_latest_message() != "reschedule_appointment":
            say(dispatcher, domain, "utter_booking_link", lang, link=link)
            return []
        current = None
        try:
            appointment_id = tracker.get_slot("appointment_id")
            if appointment_id:
                current = await owned_appointment(tracker, appointment_id)
            if current is None or not current.is_active:
                upcoming = await upcoming_for_sender(tracker)
                current = upcoming[0] if len(upcoming) == 1 else None
        except BookingUnavailable:
            current = None
        if current is None:
            say(dispatcher, domain, "utter_booking_link", lang, link=link)
            return []
        buttons = [
            {"title": render(domain, "utter_button_cancel_it", lang, date=short_date(current)),
             "payload": payloads.cancel(current.id)},
            {"title": render(domain, "utter_button_keep_it", lang),
             "payload": payloads.confirm(current.id)},
        ]
        say(dispatcher, domain, "utter_reschedule", lang, buttons=buttons, link=link,
            when=when(current, lang))
        return [SlotSet("appointment_id", current.id)]
