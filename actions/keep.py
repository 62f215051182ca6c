"""[No, keep it]: the citizen keeps an appointment they had been asked
about cancelling. Nothing changes in the booking system."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import questions
from actions.appointment import refuse_unverified, tell_outcome, when
from actions.context import conversation_language, owned_appointment, requested_appointment_id
from actions.speech import say
from bot.booking import CANCELLED, BookingUnavailable


async def say_kept(dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any],
                   lang: str, appointment_id: str) -> List[Dict[Text, Any]]:
    try:
        appointment = await owned_appointment(tracker, appointment_id)
    except BookingUnavailable:
        appointment = None
    if appointment is None:
        # Unknown, not theirs, or the booking system down: nothing changes
        # anyway, and the answer names no appointment.
        say(dispatcher, domain, "utter_noted", lang)
        return [questions.close()]
    if appointment.status == CANCELLED:
        await tell_outcome(dispatcher, domain, lang, "cancel", appointment, already=True)
    else:
        say(dispatcher, domain, "utter_kept", lang, when=when(appointment, lang))
    return [SlotSet("appointment_id", appointment.id), questions.close()]


class ActionKeepAppointment(Action):
    def name(self) -> Text:
        return "action_keep_appointment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        lang = await conversation_language(tracker)
        if refuse_unverified(dispatcher, tracker, domain, lang, self.name()):
            return []
        appointment_id = requested_appointment_id(tracker)
        if not appointment_id:
            say(dispatcher, domain, "utter_noted", lang)
            return [questions.close()]
        return await say_kept(dispatcher, tracker, domain, lang, appointment_id)
