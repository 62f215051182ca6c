"""What Rasa's tracker store holds of the console benchmark's town
(bench/console_town.py): per reminder the events Rasa writes (session start,
the EXTERNAL trigger, slots, action_send_reminder, the template), and for
citizens who answered a button tap or a typed answer with NLU parse data;
some ask questions (a share with low confidence), some hit the NLU fallback,
ask for a person (flagged), or send a photo."""
from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from datetime import timedelta
from typing import Dict, List, Optional, Tuple

from bench.console_town_texts import BOT_TEXTS, OTHER_INTENTS, QUESTION_ACTIONS, QUESTIONS, UNCLEAR, varied

MODEL_ID = "5f1c0e2f2d0b4c1c9a8e7f6a5b4c3d2e"
SESSION_EXPIRATION = timedelta(minutes=60)   # domain.yml session_config
FALLBACK_THRESHOLD = 0.45                    # config.yml FallbackClassifier

# Rasa 3.6's SQLTrackerStore table, as it creates it (var/tracker.db of `make run`).
TRACKER_SCHEMA = """
CREATE TABLE events (
    id INTEGER NOT NULL,
    sender_id VARCHAR(255) NOT NULL,
    type_name VARCHAR(255) NOT NULL,
    timestamp FLOAT,
    intent_name VARCHAR(255),
    action_name VARCHAR(255),
    data TEXT,
    PRIMARY KEY (id)
);
CREATE INDEX ix_events_sender_id ON events (sender_id);
"""

class Events:
    """One citizen's tracker events, made as Rasa's SQLTrackerStore writes
    them: (sender_id, type_name, timestamp, intent_name, action_name, data)."""

    def __init__(self, sender: str, rows: List[tuple], last_at: Dict[str, float], slots: Dict[str, dict]):
        self.sender, self.rows, self._last_at, self._slots = sender, rows, last_at, slots

    def _add(self, type_name: str, at: float, data: dict, intent: Optional[str] = None,
             action: Optional[str] = None) -> None:
        body = {"event": type_name, "timestamp": at, "metadata": {"model_id": MODEL_ID, "assistant_id": "recorda"},
                **data}
        self.rows.append((self.sender, type_name, at, intent, action, json.dumps(body)))
        self._last_at[self.sender] = at

    def action(self, at: float, name: str, policy: Optional[str] = "RulePolicy") -> None:
        self._add("action", at, {"name": name, "policy": policy, "confidence": 1.0 if policy else None,
                                 "action_text": None, "hide_rule_turn": name != "action_listen"}, action=name)

    def slot(self, at: float, name: str, value) -> None:
        self._add("slot", at, {"name": name, "value": value}, action=name)
        self._slots.setdefault(self.sender, {})[name] = value

    def turn_start(self, at: float) -> float:
        """A session start first when the last one expired (carrying the
        slots over, as domain.yml asks); the time after it."""
        last = self._last_at.get(self.sender)
        if last is not None and at - last < SESSION_EXPIRATION.total_seconds():
            return at
        self.action(at, "action_session_start", policy=None)
        self._add("session_started", at + 0.0001, {})
        for name, value in self._slots.get(self.sender, {}).items():
            self.slot(at + 0.0002, name, value)
        self.action(at + 0.0003, "action_listen", policy=None)
        return at + 0.0004

    def user(self, at: float, text: str, parse_data: dict, metadata: Optional[dict] = None,
             channel: Optional[str] = "messagebird") -> None:
        data = {"text": text, "parse_data": parse_data, "input_channel": channel,
                "message_id": uuid.UUID(int=random.getrandbits(128)).hex}
        if metadata:
            data["metadata"] = {**metadata, "model_id": MODEL_ID, "assistant_id": "recorda"}
        self._add("user", at, data, intent=parse_data["intent"]["name"])
        self._add("user_featurization", at + 0.09, {"use_text_for_featurization": False})

    def bot(self, at: float, text: Optional[str], **data) -> None:
        self._add("bot", at, {"text": text, "data": {"elements": None, "quick_replies": None, "buttons": None,
                                                     "attachment": None, "image": None, "custom": None, **data}})


def typed_parse_data(text: str, intent: str, confidence: float, language: str,
                     rng: random.Random) -> dict:
    """What the intent classifier, the language detector and the FallbackClassifier make of a typed text."""
    others = rng.sample([i for i in (*QUESTIONS, *OTHER_INTENTS, "confirm_appointment", "cancel_appointment")
                         if i != intent], 9)
    top = FALLBACK_THRESHOLD - 0.05 if intent == "nlu_fallback" else confidence
    rest = 1.0 - top
    ranking = [{"name": intent if intent != "nlu_fallback" else others.pop(0), "confidence": round(top, 6)}]
    for name in others:
        share = rest * rng.uniform(0.2, 0.6)
        rest -= share
        ranking.append({"name": name, "confidence": round(share, 6)})
    if intent == "nlu_fallback":
        ranking.insert(0, {"name": "nlu_fallback", "confidence": FALLBACK_THRESHOLD})
        confidence = FALLBACK_THRESHOLD
    return {"text": text, "intent": {"name": intent, "confidence": confidence},
            "entities": [{"entity": "language", "value": language, "extractor": "LanguageDetector",
                          "start": 0, "end": len(text), "confidence_entity": 0.97}],
            "intent_ranking": ranking, "message_id": None, "metadata": {}}


class Conversations:
    """Writes each reminder's conversation as tracker rows. `rng` is the
    town's, so that the same seed makes the same town."""

    def __init__(self, rng: random.Random, templates: dict, procedures: List[dict], timezone):
        self.rng, self.templates, self.procedures, self.timezone = rng, templates, procedures, timezone
        self.last_at: Dict[str, float] = {}
        self.slots: Dict[str, dict] = {}
        self.low_confidence_texts: List[Tuple[str, str, float, str]] = []  # for the NLU reviews
        # typed_messages, low_confidence_messages, fallback_messages, flagged
        self.counts: Counter = Counter()

    def write(self, sender, aid, language, name, office, appointment, starts_at, story, rows) -> None:
        """What Rasa recorded: the reminder's trigger and template, then what
        the citizen sent and the assistant answered."""
        from bot.foundation.languages import format_when
        from bot.messaging import payloads

        rng = self.rng
        events = Events(sender, rows, self.last_at, self.slots)
        first = name.split()[0]
        when = format_when(starts_at, language, self.timezone)
        procedure = next(p for p in self.procedures if p["id"] == appointment["procedure_id"])
        # The job triggers the reminder a moment before the provider accepts it.
        at = events.turn_start(story.sent_at.timestamp() - 0.6)
        entities = [{"entity": "appointment_id", "value": aid}, {"entity": "language", "value": language}]
        events.user(at, "EXTERNAL: EXTERNAL_appointment_reminder",
                    {"intent": {"name": "EXTERNAL_appointment_reminder"}, "entities": entities,
                     "text": "EXTERNAL: EXTERNAL_appointment_reminder", "message_id": None,
                     "metadata": {"is_external": True}}, metadata={"is_external": True}, channel=None)
        events.slot(at + 0.0001, "language", language)
        events.slot(at + 0.0002, "appointment_id", aid)
        events.action(at + 0.1, "action_send_reminder")
        parameters = [first, when, procedure["name"][language], f"{office['name']}, {office['address']}",
                      office["map_url"], procedure["documents_url"]]
        quick_replies = [payloads.confirm(aid), payloads.cancel(aid)]
        events.bot(at + 0.1001, None, custom={
            "whatsapp_template": {"template": "appointment_reminder", "appointment_id": aid, "language": language,
                                  "parameters": parameters, "quick_replies": quick_replies},
            "text": self.templates[language].render(parameters)})
        events.slot(at + 0.1002, "appointment_id", aid)
        events.slot(at + 0.1003, "language", language)
        events.action(at + 0.19, "action_listen")
        if not story.reached:
            return

        deadline = (story.answered_at or story.sent_at + timedelta(hours=20)).timestamp()
        start = (story.read_at or story.delivered_at).timestamp()
        extra = rng.random()
        if extra < 0.22:   # a question, something unclear, a person, a photo: before answering
            self._extra_message(events, rng.uniform(start, max(start + 1, deadline - 60)), language, first,
                                when, office, extra)
        if story.answer is None:
            return
        at = events.turn_start(story.answered_at.timestamp())
        answer = "confirm_appointment" if story.answer == "confirmed" else "cancel_appointment"
        if story.channel == "button":
            payload = quick_replies[0 if answer == "confirm_appointment" else 1]
            title = self.templates[language].buttons[0 if answer == "confirm_appointment" else 1]
            events.user(at, payload, payloads.parse_data(payload), metadata={"title": title, "kind": "button"})
        else:
            from bot.dev.sandbox.citizen_behaviour import answer_text
            text = varied(answer_text(language, story.answer, rng), rng)
            events.user(at, text, typed_parse_data(text, answer, rng.uniform(0.86, 0.995), language, rng),
                        metadata={"kind": "text"})
            self.counts["typed_messages"] += 1
        events.action(at + 0.1, "action_confirm_appointment" if answer == "confirm_appointment"
                      else "action_cancel_appointment")
        key = "confirmed" if answer == "confirm_appointment" else "cancelled"
        events.bot(at + 0.25, BOT_TEXTS[key][language].format(name=first, when=when, office=office["name"]))
        events.action(at + 0.3, "action_listen")
        if rng.random() < 0.06:   # "thank you" afterwards
            later = at + rng.uniform(30, 600)
            text = varied({"ca": "gràcies", "es": "gracias", "en": "thanks"}[language], rng)
            events.user(later, text, typed_parse_data(text, "thank", rng.uniform(0.9, 0.99), language, rng),
                        metadata={"kind": "text"})
            events.action(later + 0.1, "utter_thank")
            events.bot(later + 0.11, {"ca": "De res!", "es": "¡De nada!", "en": "You're welcome!"}[language])
            events.action(later + 0.2, "action_listen")
            self.counts["typed_messages"] += 1

    def _extra_message(self, events: Events, at: float, language: str, first: str, when: str, office: dict,
                       draw: float) -> None:
        rng = self.rng
        at = events.turn_start(at)
        if draw < 0.12:      # a question, a third of them unsure
            intent = rng.choice(list(QUESTIONS))
            text = varied(rng.choice(QUESTIONS[intent][language]), rng)
            confidence = rng.uniform(0.46, 0.6) if rng.random() < 0.33 else rng.uniform(0.7, 0.99)
            events.user(at, text, typed_parse_data(text, intent, confidence, language, rng), metadata={"kind": "text"})
            events.action(at + 0.1, QUESTION_ACTIONS[intent])
            events.bot(at + 0.2, BOT_TEXTS["question"][language].format(office=office["name"],
                                                                         address=office["address"]))
            low = confidence < 0.6
        elif draw < 0.18:    # the NLU fallback
            text = varied(rng.choice(UNCLEAR[language]), rng)
            events.user(at, text, typed_parse_data(text, "nlu_fallback", 0.0, language, rng), metadata={"kind": "text"})
            events.action(at + 0.1, "action_default_fallback")
            events.bot(at + 0.2, BOT_TEXTS["fallback"][language])
            self.counts["fallback_messages"] += 1
            low, confidence, intent = True, FALLBACK_THRESHOLD, "nlu_fallback"
        elif draw < 0.205:   # asks for a person: flagged for staff
            text = varied({"ca": "vull parlar amb una persona", "es": "quiero hablar con alguien",
                            "en": "I want to talk to a person"}[language], rng)
            events.user(at, text, typed_parse_data(text, "request_human", rng.uniform(0.8, 0.98), language, rng),
                        metadata={"kind": "text"})
            events.action(at + 0.1, "action_request_human")
            events.bot(at + 0.2, BOT_TEXTS["human"][language])
            events.slot(at + 0.21, "flagged_for_staff", True)
            self.counts["flagged"] += 1
            low = False
        else:                # a photo
            payload = '/EXTERNAL_media_message{"media_type":"image"}'
            events.user(at, payload, {"text": payload, "intent": {"name": "EXTERNAL_media_message", "confidence": 1.0},
                                      "intent_ranking": [{"name": "EXTERNAL_media_message", "confidence": 1.0}],
                                      "entities": [{"entity": "media_type", "value": "image"}]},
                        metadata={"kind": "media"})
            events.action(at + 0.1, "action_media_message")
            events.bot(at + 0.2, BOT_TEXTS["media"][language])
            events.action(at + 0.3, "action_listen")
            return
        events.action(at + 0.3, "action_listen")
        self.counts["typed_messages"] += 1
        if low:
            self.counts["low_confidence_messages"] += 1
            self.low_confidence_texts.append((text, intent, confidence, language))

