"""Confirming and cancelling an appointment, telling its details, and the
links to book or change one.

Which appointment: the one a button names, else the one the conversation is
about (the reminder's), else the sender's only upcoming one; with several,
the citizen picks with buttons. Nothing is done on an appointment of another
number, nor for a message that did not come from the citizen's own signed
WhatsApp (actions/trust.py). A cancellation is done only by a tap on a
button that names the appointment: typed words get the question, with
[Yes, cancel it] [No, keep it], and the question lapses when the appointment
starts. When the booking system is down, the operation is queued and the
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

from actions import questions, trust
from actions.context import (
    Services,
    conversation_language,
    is_tap,
    is_verified,
    owned_appointment,
    requested_appointment_id,
    sender_phone,
    upcoming_for_sender,
)
from actions.speech import render, say
from bot.booking import CANCELLED, CONFIRMED, Appointment, BookingError, BookingRefused, BookingUnavailable
from bot.foundation import clock
from bot.foundation.aio import in_thread
from bot.foundation.languages import format_short_date, format_when
from bot.foundation.phone import mask
from bot.messaging import payloads
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


def refuse_unverified(dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any],
                      lang: str, action: str) -> bool:
    """True (after saying why and logging it) when the latest message did not
    come from the citizen's own signed WhatsApp or from Recorda itself."""
    if is_verified(tracker):
        return False
    trust.log_refusal(tracker, action)
    say(dispatcher, domain, "utter_only_own_whatsapp", lang)
    return True


async def choose_target(dispatcher: CollectingDispatcher, tracker: Tracker,
                        domain: Dict[Text, Any], intent: str,
                        appointment_id: Optional[str] = None) -> Optional[Target]:
    """The appointment to act on (`appointment_id` if given), or None after
    telling the citizen why not (no appointment, several to choose from, not
    theirs)."""
    lang = await conversation_language(tracker)
    link = await _booking_link(lang)
    appointment_id = appointment_id or requested_appointment_id(tracker)
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
    name = appointment.citizen_name.split(" ")[0]
    try:
        office = await Services.booking().get_office(appointment.office_id)
    except BookingError as exc:
        # It is confirmed: say so, without the office the booking system cannot give now.
        log.warning("Confirmed %s; its office could not be read: %s", appointment.id, exc)
        say(dispatcher, domain, "utter_confirmed_no_office", lang, name=name, when=when(appointment, lang))
        return
    say(dispatcher, domain, "utter_confirmed", lang, name=name, when=when(appointment, lang),
        office=f"{office.name} ({office.address})")


async def ask_before_cancelling(dispatcher: CollectingDispatcher, domain: Dict[Text, Any],
                               lang: str, appointment: Appointment) -> List[Dict[Text, Any]]:
    """The question a typed cancellation gets; only its button cancels."""
    office = ""
    try:
        office = render(domain, "utter_at_office", lang,
                        office=(await Services.booking().get_office(appointment.office_id)).name)
    except BookingError:
        pass  # the date and time name the appointment well enough
    say(dispatcher, domain, "utter_ask_cancel", lang, buttons=cancel_question_buttons(domain, lang, appointment.id),
        when=when(appointment, lang), office=office)
    return [questions.ask(questions.CANCEL, appointment.id)]


def cancel_question_buttons(domain: Dict[Text, Any], lang: str, appointment_id: str) -> List[Dict[str, str]]:
    """[Yes, cancel it] [No, keep it], both naming the appointment."""
    return [{"title": render(domain, "utter_button_yes_cancel", lang), "payload": payloads.cancel(appointment_id)},
            {"title": render(domain, "utter_button_keep_it", lang), "payload": payloads.keep(appointment_id)}]


def keep_or_cancel_buttons(domain: Dict[Text, Any], lang: str, appointment_id: str) -> List[Dict[str, str]]:
    return [{"title": render(domain, "utter_button_keep", lang), "payload": payloads.keep(appointment_id)},
            {"title": render(domain, "utter_button_cancel", lang), "payload": payloads.cancel(appointment_id)}]


def has_started(appointment: Appointment) -> bool:
    return appointment.starts_at <= clock.now()


def answer_channel(tracker: Tracker) -> str:
    """How the citizen answered: "button" for a real tap, else "text"."""
    return "button" if is_tap(tracker) else "text"


async def record_answer(appointment_id: str, operation: str, channel: str) -> None:
    answer = states.CANCELLED if operation == "cancel" else states.CONFIRMED
    await in_thread(Services.reminders().record_answer, appointment_id, answer, channel)


async def confirm_or_cancel(dispatcher: CollectingDispatcher, tracker: Tracker,
                            domain: Dict[Text, Any], operation: str,
                            appointment_id: Optional[str] = None) -> List[Dict[Text, Any]]:
    """Confirms or cancels the appointment the citizen means (`appointment_id`
    when the caller knows it). The caller has checked the message is the
    citizen's own (refuse_unverified)."""
    intent, done_status = (("cancel_appointment", CANCELLED) if operation == "cancel"
                           else ("confirm_appointment", CONFIRMED))
    lang = await conversation_language(tracker)
    try:
        target = await choose_target(dispatcher, tracker, domain, intent, appointment_id)
    except BookingUnavailable:
        # We do not even know which appointment: nothing can be queued.
        log.error("Booking system down; cannot tell which appointment %s means", mask(tracker.sender_id))
        say(dispatcher, domain, "utter_booking_unavailable", lang)
        return []
    if target is None:
        return []
    events = [SlotSet("appointment_id", target.appointment_id), questions.close()]
    appointment = target.appointment
    if appointment is not None and appointment.status == done_status:
        await tell_outcome(dispatcher, domain, lang, operation, appointment, already=True)
        return events
    if operation == "cancel":
        if appointment is not None and has_started(appointment):
            # A question asked earlier lapses when the appointment starts.
            say(dispatcher, domain, "utter_operation_refused", lang,
                reason=refusal_reason(domain, lang, "not_cancellable"), phone=await office_phone(appointment))
            return events
        if not is_tap(tracker):
            if appointment is None:
                # The question must name the appointment; without the booking
                # system it cannot, and words alone never cancel.
                say(dispatcher, domain, "utter_booking_unavailable", lang)
                return events
            return events[:1] + await ask_before_cancelling(dispatcher, domain, lang, appointment)
    outbox = Services.outbox()
    if appointment is None or bool(await in_thread(outbox.pending_for, target.appointment_id)):
        return events + await queue(dispatcher, domain, tracker, operation, target.appointment_id, lang)
    call = Services.booking().cancel if operation == "cancel" else Services.booking().confirm
    try:
        updated = await call(appointment.id)
    except BookingUnavailable as exc:
        log.warning("Booking system unavailable for %s of %s: %s", operation, appointment.id, exc)
        return events + await queue(dispatcher, domain, tracker, operation, appointment.id, lang)
    except BookingRefused as exc:
        say(dispatcher, domain, "utter_operation_refused", lang,
            reason=refusal_reason(domain, lang, exc.code), phone=await office_phone(appointment))
        return events
    await record_answer(updated.id, operation, answer_channel(tracker))
    await tell_outcome(dispatcher, domain, lang, operation, updated)
    return events


async def queue(dispatcher, domain, tracker, operation: str, appointment_id: str, lang: str) -> List:
    await in_thread(Services.outbox().enqueue, appointment_id, operation, tracker.sender_id, lang)
    say(dispatcher, domain, "utter_operation_queued", lang)
    return []


class AnswerAction(Action, abc.ABC):
    """Confirm or cancel: the same steps, a different booking call."""
    operation = ""

    @abc.abstractmethod
    def name(self) -> Text: ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        if refuse_unverified(dispatcher, tracker, domain, await conversation_language(tracker), self.name()):
            return []
        return await confirm_or_cancel(dispatcher, tracker, domain, self.operation)


class ActionConfirmAppointment(AnswerAction):
    operation = "confirm"

    def name(self) -> Text:
        return "action_confirm_appointment"


class ActionCancelAppointment(AnswerAction):
    operation = "cancel"

    def name(self) -> Text:
        return "action_cancel_appointment"


class ActionAppointmentDetails(Action):
    def name(self) -> Text:
        return "action_appointment_details"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        lang = await conversation_language(tracker)
        if refuse_unverified(dispatcher, tracker, domain, lang, self.name()):
            return []
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
             "payload": payloads.keep(current.id)},
        ]
        say(dispatcher, domain, "utter_reschedule", lang, buttons=buttons, link=link,
            when=when(current, lang))
        return [SlotSet("appointment_id", current.id), questions.ask(questions.CANCEL, current.id)]
