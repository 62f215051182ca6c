"""A new conversation session (after 60 minutes of silence, domain.yml)
keeps the slots, as Rasa's own session start does, except a question that
was no longer open: a reminder answered with "ok" three hours later is still
an answer, an "ok" after an unrelated chat is not."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import questions


class ActionSessionStart(Action):
    def name(self) -> Text:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        events: List[Dict[Text, Any]] = [SessionStarted()]
        for name, value in (tracker.slots or {}).items():
            if value is None or name == questions.SLOT:
                continue
            events.append(SlotSet(name, value))
        value = tracker.get_slot(questions.SLOT)
        # The old session's events end with the assistant's last turn.
        if value and questions.asked_since_last_user_message(list(tracker.events or []), value):
            events.append(SlotSet(questions.SLOT, value))
        events.append(ActionExecuted("action_listen"))
        return events
