"""Tells the citizen how a queued confirm/cancel ended, once the booking
system has taken it (triggered by the retry worker)."""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import trust
from actions.appointment import office_phone, record_answer, refusal_reason, tell_outcome
from actions.context import conversation_language, origin, owned_appointment
from actions.speech import say
from bot.booking import BookingError

log = logging.getLogger(__name__)


class ActionBookingUpdateResult(Action):
    def name(self) -> Text:
        return "action_booking_update_result"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        if origin(tracker) != trust.RECORDA:
            # Only the retry worker, through Rasa's token-protected API, reports these.
            trust.log_refusal(tracker, self.name())
            return []
        lang = await conversation_language(tracker)
        appointment_id = next(tracker.get_latest_entity_values("appointment_id"), None)
        operation = next(tracker.get_latest_entity_values("operation"), None)
        outcome = next(tracker.get_latest_entity_values("outcome"), None)
        if not appointment_id or operation not in ("confirm", "cancel"):
            log.error("Booking update without appointment or operation for %s", tracker.sender_id)
            return []
        try:
            appointment = await owned_appointment(tracker, appointment_id)
        except BookingError as exc:
            raise RuntimeError(f"booking system unavailable again: {exc}") from exc
        if appointment is None:
            return []
        if outcome == "done":
            await record_answer(appointment.id, operation, "queued")
            await tell_outcome(dispatcher, domain, lang, operation, appointment)
        else:
            say(dispatcher, domain, "utter_operation_refused", lang,
                reason=refusal_reason(domain, lang, "not_cancellable" if operation == "cancel" else "not_confirmable"),
                phone=await office_phone(appointment))
        return []
