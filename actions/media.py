"""Photos, voice notes, stickers and locations: the assistant reads text only."""
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.context import conversation_language
from actions.speech import say


class ActionMediaMessage(Action):
    def name(self) -> Text:
        return "action_media_message"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        say(dispatcher, domain, "utter_text_only", await conversation_language(tracker))
        return []
