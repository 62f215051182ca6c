"""The day-before reminder, sent when the daily job triggers
EXTERNAL_appointment_reminder with the appointment's id."""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import questions, trust
from actions.context import Services, origin, owned_appointment, requested_appointment_id
from bot.booking import BookingError
from bot.foundation.aio import in_thread
from bot.foundation.languages import format_when, normalise_language
from bot.messaging import payloads
from bot.messaging.templates import provider_name, render_body
from bot.reminders.wording import reminder_template

log = logging.getLogger(__name__)


def first_name(full_name: str) -> str:
    return (full_name or "").split(" ")[0] or full_name


class ActionSendReminder(Action):
    def name(self) -> Text:
        return "action_send_reminder"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        if origin(tracker) != trust.RECORDA:
            # Only the daily job, through Rasa's token-protected API, sends reminders.
            trust.log_refusal(tracker, self.name())
            return []
        appointment_id = requested_appointment_id(tracker)
        if not appointment_id:
            log.error("Reminder triggered without an appointment id for %s", tracker.sender_id)
            return []
        booking = Services.booking()
        try:
            appointment = await owned_appointment(tracker, appointment_id)
            if appointment is None or not appointment.is_active:
                # Nothing is sent; the daily job sees it and records why.
                log.info("No reminder for %s: unknown, not the sender's, or no longer active",
                         appointment_id)
                return []
            office = await booking.get_office(appointment.office_id)
            procedure = await booking.get_procedure(appointment.procedure_id)
        except BookingError as exc:
            log.error("No reminder for %s: booking system error %s", appointment_id, exc)
            return []
        language = normalise_language(appointment.language, Services.settings().default_language)
        # The office's touch and the appointment's wording variant choose the template.
        template = reminder_template(await in_thread(Services.reminders().get, appointment.id))
        parameters = [
            first_name(appointment.citizen_name),
            format_when(appointment.starts_at, language, Services.settings().timezone),
            procedure.name(language),
            f"{office.name}, {office.address}",
            office.map_url,
            procedure.documents_url,
        ]
        dispatcher.utter_message(json_message={
            "whatsapp_template": {
                "template": template,
                "appointment_id": appointment.id,
                "language": language,
                "parameters": parameters,
                "quick_replies": [payloads.confirm(appointment.id), payloads.cancel(appointment.id)],
            },
            # What the citizen reads, for transcripts and text-only channels.
            "text": render_body(language, parameters, provider_name(template)),
        })
        # The reminder asks whether they will come: a "sí" or "ok" next answers it.
        return [SlotSet("appointment_id", appointment.id), SlotSet("language", language),
                questions.ask(questions.ATTEND, appointment.id)]
