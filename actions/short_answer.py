"""Short answers — "sí", "vale", "ok", "d'acord", "👍", "yes", "no" — read
against the question the assistant's last turn asked (actions/questions.py).

After the reminder, a yes confirms the appointment (a typed answer in the
figures); a bare no cancels nothing and asks which they mean, with buttons.
After "do you want to cancel…?", a no keeps the appointment and a typed yes
points to the button: only a tap cancels. With no question open, a short
answer is acknowledged and nothing is done.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import questions
from actions.appointment import (
    cancel_question_buttons,
    confirm_or_cancel,
    keep_or_cancel_buttons,
    refuse_unverified,
    when,
)
from actions.context import conversation_language, owned_appointment
from actions.keep import say_kept
from actions.speech import say
from bot.booking import BookingUnavailable

AFFIRM, DENY = "affirm", "deny"


class ActionShortAnswer(Action):
    def name(self) -> Text:
        return "action_short_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        lang = await conversation_language(tracker)
        question = questions.open_question(tracker)
        if question is None:
            say(dispatcher, domain, "utter_noted", lang)
            return [questions.close()]
        if refuse_unverified(dispatcher, tracker, domain, lang, self.name()):
            return []
        yes = tracker.get_intent_of_latest_message() == AFFIRM
        if question.kind == questions.ATTEND and yes:
            return await confirm_or_cancel(dispatcher, tracker, domain, "confirm", question.appointment_id)
        if question.kind == questions.CANCEL and not yes:
            return await say_kept(dispatcher, tracker, domain, lang, question.appointment_id)
        # A "no" to the reminder, a typed "yes" to a cancellation question, or
        # either to "keep or cancel?": the buttons decide.
        try:
            appointment = await owned_appointment(tracker, question.appointment_id)
        except BookingUnavailable:
            say(dispatcher, domain, "utter_booking_unavailable", lang)
            return []
        if appointment is None or not appointment.is_active:
            say(dispatcher, domain, "utter_noted", lang)
            return [questions.close()]
        if question.kind == questions.CANCEL:
            say(dispatcher, domain, "utter_tap_to_cancel", lang, when=when(appointment, lang),
                buttons=cancel_question_buttons(domain, lang, appointment.id))
            return [questions.ask(questions.CANCEL, appointment.id)]
        say(dispatcher, domain, "utter_keep_or_cancel", lang, when=when(appointment, lang),
            buttons=keep_or_cancel_buttons(domain, lang, appointment.id))
        return [questions.ask(questions.KEEP_OR_CANCEL, appointment.id)]
