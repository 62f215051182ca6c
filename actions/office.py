"""Answers about the office and the procedure, with the booking system's own
data: documents, address, opening hours, late arrival, a person."""
from __future__ import annotations

import abc
import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

import bot.foundation.clock
from actions.context import Services, conversation_language, owned_appointment, upcoming_for_sender
from actions.speech import render, say
from bot.booking import Appointment, BookingError, Office
from bot.foundation.languages import format_time_only, format_when
from bot.offices.hours import status_at

log = logging.getLogger(__name__)
_WEEKDAYS = {
    "ca": ["dl", "dt", "dc", "dj", "dv", "ds", "dg"],
    "es": ["lu", "ma", "mi", "ju", "vi", "sá", "do"],
    "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
}


async def current_appointment(tracker: Tracker) -> Optional[Appointment]:
    """The appointment the conversation is about, or the sender's next one."""
    appointment_id = tracker.get_slot("appointment_id")
    if appointment_id:
        appointment = await owned_appointment(tracker, appointment_id)
        if appointment is not None and appointment.is_active:
            return appointment
    upcoming = await upcoming_for_sender(tracker)
    return upcoming[0] if upcoming else None


async def offices_for(tracker: Tracker) -> List[Office]:
    """The office of the citizen's appointment, else every office."""
    booking = Services.booking()
    appointment = await current_appointment(tracker)
    if appointment is not None:
        return [await booking.get_office(appointment.office_id)]
    return await booking.list_offices()


def hours_summary(office: Office, lang: str) -> str:
    days: Dict[str, List[int]] = {}
    for h in office.opening_hours:
        days.setdefault(f"{h.opens}-{h.closes}", []).append(h.weekday)
    parts = []
    for span, weekdays in days.items():
        names = _WEEKDAYS[lang]
        weekdays.sort()
        contiguous = weekdays == list(range(weekdays[0], weekdays[-1] + 1))
        label = (f"{names[weekdays[0]]}-{names[weekdays[-1]]}" if contiguous and len(weekdays) > 2
                 else ", ".join(names[d] for d in weekdays))
        parts.append(f"{label} {span}")
    return "; ".join(parts)


class OfficeAction(Action, abc.ABC):
    """Shared error handling: the booking system down is said, not hidden."""

    @abc.abstractmethod
    def name(self) -> Text: ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        lang = await conversation_language(tracker)
        try:
            return await self.answer(dispatcher, tracker, domain, lang)
        except BookingError as exc:
            log.error("%s: booking system error %s", self.name(), exc)
            say(dispatcher, domain, "utter_booking_unavailable", lang)
            return []

    @abc.abstractmethod
    async def answer(self, dispatcher, tracker, domain, lang) -> List[Dict[Text, Any]]: ...


class ActionTellDocuments(OfficeAction):
    def name(self) -> Text:
        return "action_tell_documents"

    async def answer(self, dispatcher, tracker, domain, lang):
        appointment = await current_appointment(tracker)
        if appointment is None:
            say(dispatcher, domain, "utter_documents_general", lang,
                link=await Services.booking().booking_link(lang))
            return []
        procedure = await Services.booking().get_procedure(appointment.procedure_id)
        say(dispatcher, domain, "utter_documents", lang, procedure=procedure.name(lang),
            documents_url=procedure.documents_url)
        return [SlotSet("appointment_id", appointment.id)]


class ActionTellLocation(OfficeAction):
    def name(self) -> Text:
        return "action_tell_location"

    async def answer(self, dispatcher, tracker, domain, lang):
        for office in await offices_for(tracker):
            say(dispatcher, domain, "utter_location", lang, office=office.name,
                address=office.address, map_url=office.map_url)
        return []


def office_status(domain: Dict[Text, Any], office: Office, lang: str) -> str:
    tz = Services.settings().timezone
    is_open, moment = status_at(office, bot.foundation.clock.now(tz), Services.settings().holidays)
    if is_open and moment is not None:
        return render(domain, "utter_status_open", lang, time=format_time_only(moment, lang, tz))
    if moment is None:
        return ""
    return render(domain, "utter_status_closed", lang, when=format_when(moment, lang, tz))


class ActionTellOpeningHours(OfficeAction):
    def name(self) -> Text:
        return "action_tell_opening_hours"

    async def answer(self, dispatcher, tracker, domain, lang):
        for office in await offices_for(tracker):
            say(dispatcher, domain, "utter_opening_hours", lang, office=office.name,
                status=office_status(domain, office, lang), hours=hours_summary(office, lang))
        return []


class ActionInformLate(OfficeAction):
    def name(self) -> Text:
        return "action_inform_late"

    async def answer(self, dispatcher, tracker, domain, lang):
        offices = await offices_for(tracker)
        office = offices[0] if offices else None
        say(dispatcher, domain, "utter_late", lang,
            minutes=office.late_policy_minutes if office else 10,
            phone=office.phone if office else "", link=await Services.booking().booking_link(lang))
        return []


class ActionRequestHuman(OfficeAction):
    """Flags the conversation for staff (the console lists flagged ones) and
    gives the office's phone and hours."""

    def name(self) -> Text:
        return "action_request_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        # Flagged even when the booking system cannot give the office's phone:
        # staff must still see that the citizen asked for a person.
        lang = await conversation_language(tracker)
        try:
            await self.answer(dispatcher, tracker, domain, lang)
        except BookingError as exc:
            log.error("%s: booking system error %s", self.name(), exc)
            say(dispatcher, domain, "utter_human_flagged", lang)
        return [SlotSet("flagged_for_staff", True)]

    async def answer(self, dispatcher, tracker, domain, lang):
        offices = await offices_for(tracker)
        office = offices[0] if offices else None
        say(dispatcher, domain, "utter_human", lang, phone=office.phone if office else "",
            hours=hours_summary(office, lang) if office else "")
        return []
