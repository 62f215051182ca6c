"""Rasa NLU component: marks a message with a `language` entity when it is
clearly Catalan, Spanish or English (bot.nlu.language), so the `language` slot
follows the citizen before any answer is rendered. Messages that say nothing
about their language ("ok", "👍", a button tap) leave the slot alone."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.language import detect

ENTITY = "language"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class LanguageDetector(GraphComponent):
    @classmethod
    def create(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "LanguageDetector":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            language = self.language_of(message)
            if language:
                text = message.get(TEXT) or ""
                entity = {"entity": ENTITY, "value": language, "start": 0, "end": len(text),
                          "confidence": 1.0, "extractor": type(self).__name__}
                message.set(ENTITIES, message.get(ENTITIES, []) + [entity], add_to_output=True)
        return messages

    @staticmethod
    def language_of(message: Message) -> Optional[str]:
        return detect(message.get(TEXT))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
