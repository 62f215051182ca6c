"""How fast the staff console's pages answer for a large town.

A town's worth of data is written in bulk (not through HTTP) into a
temporary directory, by a child process:

* Recorda's database (the reminder store's tables): `--days` (30) past
  service days of `--per-day` (600) reminders over the sandbox's three
  offices (half, 30 % and 20 % of them), each with the history the real
  system records (scheduled, sending, sent, then failed / delivered / read /
  confirmed / cancelled / expired, at their times). Each reminder's story
  comes from the sandbox's realistic citizen profile
  (bot.dev.sandbox.past_reminders), so the shares are the reference town's:
  ~13 % not reached, ~62 % of those sent answer, ~13 % cancel. A few
  landlines fail before sending; a few appointments are cancelled before
  their reminder; some citizens have several appointments.
* Rasa's tracker store (its `events` table, with Rasa's own schema and
  index): per reminder the events Rasa writes (session start, the EXTERNAL
  trigger, slots, action_send_reminder, the template), and for citizens who
  answered a button tap or a typed answer with NLU parse data; some ask
  questions (a share with low confidence), some hit the NLU fallback, ask
  for a person (flagged), or send a photo.
* The sandbox booking service's database: the same appointments, with the
  statuses their stories give (confirmed, cancelled, attended, no-show).
  The real booking service then serves it as a subprocess, so the pages
  read appointments over HTTP as they would in production.
* A few NLU reviews an editor has saved.

Then the console runs in this process (bot.apps.web.app.create_app) on a free
port; a client signs in and requests each page `--repeat` (20) times after
`--warmup` (2) unmeasured requests, one request at a time:

    day            /console/day             the last service day, busiest office
    day_csv        /console/day.csv         the same as CSV
    conversations  /console/conversations   default: the last 7 days
    conversations_low                       ... only low-confidence messages
    conversations_number                    ... search by a full number: the POST
                                            and the list its redirect leads to
    transcript     /console/conversations/<key>   a citizen with two reminders
    figures        /console/figures         every generated day, all offices
    nlu            /console/nlu             default: the last 30 days

    python -m bench.console_pages [--days 30] [--per-day 600] [--repeat 20]

Prints one JSON object on stdout; logs go to stderr. Needs no trained model.
"""
from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import logging
import multiprocessing
import os
import random
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import aiohttp

import bot.foundation.clock
from bench._common import machine, run_benchmark, setup_logging, summary_ms

log = logging.getLogger("bench.console_pages")

TARGET_P95_MS = 1000
TOKEN = "bench-booking-token"
LINK_SECRET = "b" * 64
USERNAME, PASSWORD = "bench-editor", "a long enough bench password"
OFFICE_SHARES = (0.5, 0.3, 0.2)          # of each day's appointments, by office of booking_seed.OFFICES
LANGUAGE_SHARES = (("ca", 0.55), ("es", 0.35), ("en", 0.10))
REPEAT_CITIZEN = 0.08                    # an appointment of someone who had one before
LANDLINE = 0.01                          # no reminder possible: failed as not_mobile
CANCELLED_BEFORE_JOB = 0.02              # in the booking system, never reminded
MODEL_ID = "5f1c0e2f2d0b4c1c9a8e7f6a5b4c3d2e"
SESSION_EXPIRATION = timedelta(minutes=60)   # domain.yml session_config
FALLBACK_THRESHOLD = 0.45                    # config.yml FallbackClassifier


# ============================================================ the town's data

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

FIRST_NAMES = ("Anna", "Jordi", "Marta", "Pau", "Laia", "Marc", "Núria", "Joan", "Carmen", "José",
               "María", "Antonio", "Fatima", "Mohamed", "Elena", "David", "Montserrat", "Xavier",
               "Lucía", "Sergi", "Olga", "Ahmed", "Rosa", "Albert", "Emma", "Pere", "Irene", "Oriol")
LAST_NAMES = ("Puig", "Garcia", "Martínez", "Soler", "Vidal", "López", "Ferrer", "Serra", "Roca",
              "Sánchez", "Pérez", "Font", "Casas", "Rodríguez", "El Amrani", "Costa", "Riera", "Mas")

# What the assistant answers (domain.yml's responses, filled in).
BOT_TEXTS = {
    "confirmed": {"ca": "Gràcies, {name}! La cita queda confirmada: {when}, a {office}. Us hi esperem.",
                  "es": "¡Gracias, {name}! Su cita queda confirmada: {when}, en {office}. Le esperamos.",
                  "en": "Thank you, {name}! Your appointment is confirmed: {when}, at {office}. See you there."},
    "cancelled": {"ca": "Fet: hem anul·lat la cita del {when}. El lloc ja queda lliure per a una altra "
                        "persona. Si voleu demanar una cita nova: https://www.vilademar.cat/cita-previa",
                  "es": "Hecho: hemos anulado su cita del {when}. El hueco ya está libre para otra persona. "
                        "Si quiere pedir una nueva cita: https://www.vilademar.cat/es/cita-previa",
                  "en": "Done: your appointment on {when} is cancelled, and the slot is free for someone "
                        "else. To book a new appointment: https://www.vilademar.cat/en/appointments"},
    "question": {"ca": "{office}: {address}\n🗺️ https://www.openstreetmap.org/#map=18/41.22/1.72",
                 "es": "{office}: {address}\n🗺️ https://www.openstreetmap.org/#map=18/41.22/1.72",
                 "en": "{office}: {address}\n🗺️ https://www.openstreetmap.org/#map=18/41.22/1.72"},
    "fallback": {"ca": "Perdoneu, no us he entès. Podeu confirmar o anul·lar la cita amb els botons, "
                       "o preguntar-me per l'adreça, l'horari o els documents.",
                 "es": "Perdone, no le he entendido. Puede confirmar o anular la cita con los botones, "
                       "o preguntarme por la dirección, el horario o los documentos.",
                 "en": "Sorry, I did not understand. You can confirm or cancel with the buttons, or ask "
                       "me about the address, opening hours or documents."},
    "human": {"ca": "He avisat el personal de l'oficina perquè revisi aquesta conversa. Si ho preferiu, "
                    "truqueu al 938 100 100 (de 9 a 14 h).",
              "es": "He avisado al personal de la oficina para que revise esta conversación. Si lo "
                    "prefiere, llame al 938 100 100 (de 9 a 14 h).",
              "en": "I have flagged this conversation for the office staff. If you prefer, call "
                    "938 100 100 (9 am to 2 pm)."},
    "media": {"ca": "Ho sento, no puc veure fotos ni àudios. Escriviu-me, si us plau.",
              "es": "Lo siento, no puedo ver fotos ni audios. Escríbame, por favor.",
              "en": "Sorry, I cannot see photos or voice notes. Please write to me."},
}

# What citizens type besides their answer: (intent, texts by language).
QUESTIONS = {
    "ask_location": {"ca": ("on és l'oficina", "a quina adreça és", "on heu dit que és la cita"),
                     "es": ("dónde está la oficina", "cuál es la dirección", "dónde es la cita"),
                     "en": ("where is the office", "what is the address", "where do I have to go")},
    "ask_opening_hours": {"ca": ("a quina hora obriu", "quin horari feu"),
                          "es": ("a qué hora abren", "qué horario tienen"),
                          "en": ("when do you open", "what are your opening hours")},
    "ask_documents": {"ca": ("què he de portar", "cal portar el dni"),
                      "es": ("qué tengo que llevar", "hace falta el dni"),
                      "en": ("what do I need to bring", "do I need my passport")},
    "ask_appointment_details": {"ca": ("a quina hora tinc la cita", "quin dia era la cita"),
                                "es": ("a qué hora tengo la cita", "qué día era la cita"),
                                "en": ("what time is my appointment", "which day was it")},
}
# Messages the NLU cannot place (they hit the fallback).
UNCLEAR = {"ca": ("puc enviar el meu fill en lloc meu", "i si arribo amb el cotxet", "el gos pot entrar",
                  "quant costa", "ja us vaig trucar ahir", "la meva mare no sap fer servir el mòbil"),
           "es": ("puede ir mi hijo en mi lugar", "se puede aparcar cerca", "cuánto cuesta",
                  "ya llamé ayer", "mi madre no sabe usar el móvil", "vale pero y lo del otro día"),
           "en": ("can my son come instead", "is there parking", "how much does it cost",
                  "I called yesterday already", "my mother cannot use the phone")}
OTHER_INTENTS = ("greet", "thank", "goodbye", "inform_late", "reschedule_appointment", "out_of_scope",
                 "bot_challenge", "request_new_appointment")


def _varied(text: str, rng: random.Random) -> str:
    """People type the same thing many ways: a typo, a name, a question
    mark, so that messages are not all the same few texts."""
    if rng.random() < 0.5 and len(text) > 6:
        i = rng.randrange(1, len(text) - 1)
        text = text[:i] + text[i + 1:] if rng.random() < 0.5 else text[:i] + text[i] + text[i:]
    suffix = rng.choice(("", "", "?", " ??", " si us plau", " gràcies", " porfa", " please", " 🙏",
                         f" {rng.choice(FIRST_NAMES).lower()}", f" {rng.randrange(1, 31)}"))
    return (text.capitalize() if rng.random() < 0.4 else text) + suffix


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


@dataclass
class Totals:
    appointments: int = 0
    reminders: int = 0
    reminder_events: int = 0
    tracker_events: int = 0
    typed_messages: int = 0
    low_confidence_messages: int = 0
    fallback_messages: int = 0
    flagged: int = 0
    states: Dict[str, int] = field(default_factory=dict)


def _naive_utc(moment: datetime) -> datetime:
    """The booking sandbox stores event times as naive UTC."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


# What the assistant runs for each question (domain.yml).
QUESTION_ACTIONS = {"ask_location": "action_tell_location", "ask_opening_hours": "action_tell_opening_hours",
                    "ask_documents": "action_tell_documents", "ask_appointment_details": "action_appointment_details"}


class TownWriter:
    """Writes the town's days into the three databases, a day at a time."""

    def __init__(self, workdir: Path, today: date, seed: int):
        from sqlalchemy import delete

        from bot.foundation.settings import Settings
        from bot.foundation.db import get_engine
        from bot.dev.sandbox import booking_seed
        from bot.dev.sandbox.citizen_behaviour import Profile
        from bot.messaging.templates import REMINDER_TEMPLATE, find_template, load_templates

        self.workdir, self.today = workdir, today
        self.rng = random.Random(seed)
        random.seed(seed)   # message ids
        self.profile = Profile.realistic(seed=seed)
        self.now = bot.foundation.clock.now()
        self.recorda = get_engine(f"sqlite:///{workdir / 'recorda.db'}")
        self.tracker = sqlite3.connect(workdir / "tracker.db")
        self.tracker.executescript(TRACKER_SCHEMA)
        self.booking = get_engine(f"sqlite:///{workdir / 'booking.db'}")
        # The sandbox's offices, procedures and next service day (so the
        # service does not reseed), without its own past days: ours replace them.
        booking_seed.seed(self.booking, today)
        with self.booking.begin() as conn:
            conn.execute(delete(booking_seed.appointments).where(
                booking_seed.appointments.c.starts_at < datetime.combine(today, datetime.min.time())))
        self.offices = booking_seed.OFFICES
        self.procedures = booking_seed.PROCEDURES
        self.templates = {lang: find_template(load_templates(), REMINDER_TEMPLATE, lang) for lang in ("ca", "es", "en")}
        self.settings = Settings(db_url="", booking_url="", booking_token="", rasa_url="", rasa_token="",
                                 timezone=booking_seed.MADRID, default_region="ES", default_language="ca")
        self.phones: List[str] = []
        self.next_phone = 0
        self.next_reminder_id = 1
        self.last_at: Dict[str, float] = {}
        self.slots: Dict[str, dict] = {}
        self.low_confidence_texts: List[Tuple[str, str, float, str]] = []
        self.totals = Totals()

    # ---- citizens
    def _phone(self) -> Tuple[str, str]:
        """(as typed in the booking system, E.164): mostly new mobiles, some
        returning citizens, a few landlines."""
        if self.phones and self.rng.random() < REPEAT_CITIZEN:
            e164 = self.rng.choice(self.phones)
        elif self.rng.random() < LANDLINE:
            e164 = f"+34938{self.rng.randrange(10 ** 6):06d}"
        else:
            # A permutation of the counter: unique, and not in order.
            e164 = f"+346{(self.next_phone * 7919 + 1234567) % 10 ** 8:08d}"
            self.next_phone += 1
            self.phones.append(e164)
        national = e164[3:]
        return f"{national[:3]} {national[3:5]} {national[5:7]} {national[7:]}", e164

    def _language(self) -> str:
        return self.rng.choices([lang for lang, _ in LANGUAGE_SHARES], [w for _, w in LANGUAGE_SHARES])[0]

    # ---- one day
    def write_day(self, day: date, count: int, is_last: bool) -> None:
        from bot.booking import ATTENDED, BOOKED, CANCELLED, CONFIRMED, NO_SHOW
        from bot.offices.settings import for_office
        from bot.reminders import states
        from bot.reminders.store import reminder_events, reminders
        from bot.dev.sandbox import booking_seed
        from bot.dev.sandbox.past_reminders import (MADRID, OUTCOME_FAILED, answer_deadline, plan_past_reminder,
                                                reminder_sent_at, shows_up)

        appointment_rows, reminder_rows, event_rows, tracker_rows = [], [], [], []
        slots = {o["id"]: booking_seed.office_slots(o, day) for o in self.offices}
        procedures = [p["id"] for p in self.procedures]
        serial = 0

        def appointment(office: dict, local_start: datetime) -> dict:
            nonlocal serial
            serial += 1
            typed_phone, e164 = self._phone()
            name = f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)} {self.rng.choice(LAST_NAMES)}"
            row = {"id": f"VLD-{day:%y%m%d}-{serial:04d}", "office_id": office["id"],
                   "procedure_id": self.rng.choice(procedures), "starts_at": local_start, "duration_minutes": 15,
                   "citizen_name": name, "phone": typed_phone, "phone_e164": e164, "language": self._language(),
                   "status": BOOKED, "confirmed_at": None, "cancelled_at": None, "attended_at": None}
            appointment_rows.append(row)
            return row

        for n in range(count):
            office = self.rng.choices(self.offices, OFFICE_SHARES)[0]
            office_slots = slots[office["id"]]
            local_start = office_slots[n % len(office_slots)]
            sent_at = reminder_sent_at(office["id"], local_start)
            if self.rng.random() < CANCELLED_BEFORE_JOB:
                # Cancelled before the job ran: in the booking system, never reminded.
                appointment(office, local_start).update(status=CANCELLED,
                                                        cancelled_at=_naive_utc(sent_at - timedelta(hours=30)))
            row = appointment(office, local_start)
            aid, e164, language = row["id"], row["phone_e164"], row["language"]
            starts_at = local_start.replace(tzinfo=MADRID)
            rid = self.next_reminder_id
            self.next_reminder_id += 1
            window = for_office(office["id"]).reply_window
            if e164.startswith("+34938"):
                self._unsendable(rid, aid, day, office["id"], e164, language, sent_at, reminder_rows, event_rows)
                outcome = OUTCOME_FAILED
            else:
                story = plan_past_reminder(self.profile, e164, aid, sent_at,
                                           answer_deadline(sent_at, window, starts_at))
                self._reminder(rid, aid, day, office["id"], e164, language, story, window, reminder_rows,
                               event_rows)
                self._conversation(e164, aid, language, row["citizen_name"], office, row, starts_at, story,
                                   tracker_rows)
                outcome = story.outcome
                if story.answer == states.CANCELLED:
                    row.update(status=CANCELLED, cancelled_at=_naive_utc(story.answered_at))
                    continue
                if story.answer == states.CONFIRMED:
                    row.update(status=CONFIRMED, confirmed_at=_naive_utc(story.answered_at))
            if not is_last:   # attendance of the last day is still to be recorded
                came = shows_up(self.profile, aid, outcome)
                row.update(status=ATTENDED if came else NO_SHOW,
                           attended_at=_naive_utc(starts_at + timedelta(minutes=5)) if came else None)

        with self.booking.begin() as conn:
            conn.execute(booking_seed.appointments.insert(), appointment_rows)
        with self.recorda.begin() as conn:
            if reminder_rows:
                conn.execute(reminders.insert(), reminder_rows)
                conn.execute(reminder_events.insert(), event_rows)
        tracker_rows.sort(key=lambda row: row[2])   # Rasa writes them as they happen
        with self.tracker:
            self.tracker.executemany("INSERT INTO events (sender_id, type_name, timestamp, intent_name, "
                                     "action_name, data) VALUES (?, ?, ?, ?, ?, ?)", tracker_rows)
        self.totals.appointments += len(appointment_rows)
        self.totals.reminders += len(reminder_rows)
        self.totals.reminder_events += len(event_rows)
        self.totals.tracker_events += len(tracker_rows)
        for row in reminder_rows:
            self.totals.states[row["state"]] = self.totals.states.get(row["state"], 0) + 1

    # ---- the reminder store
    def _unsendable(self, rid, aid, day, office_id, e164, language, sent_at, reminder_rows, event_rows) -> None:
        at = sent_at - timedelta(seconds=1)
        reminder_rows.append(dict(id=rid, appointment_id=aid, service_date=day, office_id=office_id, phone=e164,
                                  language=language, state="failed", reason="not_mobile", error_code=None,
                                  provider_message_id=None, was_read=False, created_at=at, updated_at=at,
                                  sent_at=None, window_closes_at=None))
        event_rows.append(dict(reminder_id=rid, event="failed", applied=True, at=at, source="job",
                               detail=json.dumps({"reason": "not_mobile"})))

    def _reminder(self, rid, aid, day, office_id, e164, language, story, window, reminder_rows,
                  event_rows) -> None:
        """The reminder's row and history, moved through the real state
        machine in the order the events happen."""
        from bot.reminders import states
        from bot.reminders.provider_status import reason_for_error

        message_id = uuid.UUID(int=self.rng.getrandbits(128)).hex
        created = story.sent_at - timedelta(seconds=1)
        moves = [(story.sent_at, states.SENDING, "connector", None),
                 (story.sent_at, states.SENT, "connector", {"message_id": message_id})]
        reason = code = None
        if story.failed_at is not None:
            code = story.error["code"]
            moves.append((story.failed_at, states.FAILED, "provider", {"status": "failed", "code": code}))
        if story.delivered_at is not None:
            moves.append((story.delivered_at, states.DELIVERED, "provider", {"status": "delivered", "code": None}))
        if story.read_at is not None:
            moves.append((story.read_at, states.READ, "provider", {"status": "read", "code": None}))
        if story.answer is not None:
            moves.append((story.answered_at, story.answer, "citizen", {"channel": story.channel}))
        moves.sort(key=lambda m: m[0])   # stable: "sending" stays before "sent"
        closes = story.sent_at + window
        state, was_read, updated = states.SCHEDULED, False, created
        event_rows.append(dict(reminder_id=rid, event=states.SCHEDULED, applied=True, at=created, source="job",
                               detail=None))
        for at, target, source, detail in moves:
            moved = states.next_state(state, target)
            if moved is not None:
                state, updated = moved, at
                was_read = was_read or moved == states.READ
                if moved == states.FAILED:
                    reason = reason_for_error(code)
            event_rows.append(dict(reminder_id=rid, event=target, applied=moved is not None, at=at, source=source,
                                   detail=json.dumps(detail) if detail else None))
        if state in (states.SENT, states.DELIVERED, states.READ) and closes <= self.now:
            event_rows.append(dict(reminder_id=rid, event=states.EXPIRED, applied=True, at=closes, source="window",
                                   detail=json.dumps({"was_read": was_read})))
            state, updated = states.EXPIRED, closes
        reminder_rows.append(dict(id=rid, appointment_id=aid, service_date=day, office_id=office_id, phone=e164,
                                  language=language, state=state, reason=reason if state == states.FAILED else None,
                                  error_code=code if state == states.FAILED else None,
                                  provider_message_id=message_id, was_read=was_read, created_at=created,
                                  updated_at=updated, sent_at=story.sent_at, window_closes_at=closes))

    # ---- the tracker store
    def _conversation(self, sender, aid, language, name, office, appointment, starts_at, story, rows) -> None:
        """What Rasa recorded: the reminder's trigger and template, then what
        the citizen sent and the assistant answered."""
        from actions import payloads
        from bot.foundation.languages import format_when
        from connectors.messagebird_content import payload_parse_data

        rng = self.rng
        events = Events(sender, rows, self.last_at, self.slots)
        first = name.split()[0]
        when = format_when(starts_at, language, self.settings.timezone)
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
            events.user(at, payload, payload_parse_data(payload), metadata={"title": title, "kind": "button"})
        else:
            from bot.dev.sandbox.citizen_behaviour import answer_text
            text = _varied(answer_text(language, story.answer, rng), rng)
            events.user(at, text, typed_parse_data(text, answer, rng.uniform(0.86, 0.995), language, rng),
                        metadata={"kind": "text"})
            self.totals.typed_messages += 1
        events.action(at + 0.1, "action_confirm_appointment" if answer == "confirm_appointment"
                      else "action_cancel_appointment")
        key = "confirmed" if answer == "confirm_appointment" else "cancelled"
        events.bot(at + 0.25, BOT_TEXTS[key][language].format(name=first, when=when, office=office["name"]))
        events.action(at + 0.3, "action_listen")
        if rng.random() < 0.06:   # "thank you" afterwards
            later = at + rng.uniform(30, 600)
            text = _varied({"ca": "gràcies", "es": "gracias", "en": "thanks"}[language], rng)
            events.user(later, text, typed_parse_data(text, "thank", rng.uniform(0.9, 0.99), language, rng),
                        metadata={"kind": "text"})
            events.action(later + 0.1, "utter_thank")
            events.bot(later + 0.11, {"ca": "De res!", "es": "¡De nada!", "en": "You're welcome!"}[language])
            events.action(later + 0.2, "action_listen")
            self.totals.typed_messages += 1

    def _extra_message(self, events: Events, at: float, language: str, first: str, when: str, office: dict,
                       draw: float) -> None:
        rng = self.rng
        at = events.turn_start(at)
        if draw < 0.12:      # a question, a third of them unsure
            intent = rng.choice(list(QUESTIONS))
            text = _varied(rng.choice(QUESTIONS[intent][language]), rng)
            confidence = rng.uniform(0.46, 0.6) if rng.random() < 0.33 else rng.uniform(0.7, 0.99)
            events.user(at, text, typed_parse_data(text, intent, confidence, language, rng), metadata={"kind": "text"})
            events.action(at + 0.1, QUESTION_ACTIONS[intent])
            events.bot(at + 0.2, BOT_TEXTS["question"][language].format(office=office["name"],
                                                                         address=office["address"]))
            low = confidence < 0.6
        elif draw < 0.18:    # the NLU fallback
            text = _varied(rng.choice(UNCLEAR[language]), rng)
            events.user(at, text, typed_parse_data(text, "nlu_fallback", 0.0, language, rng), metadata={"kind": "text"})
            events.action(at + 0.1, "action_default_fallback")
            events.bot(at + 0.2, BOT_TEXTS["fallback"][language])
            self.totals.fallback_messages += 1
            low, confidence, intent = True, FALLBACK_THRESHOLD, "nlu_fallback"
        elif draw < 0.205:   # asks for a person: flagged for staff
            text = _varied({"ca": "vull parlar amb una persona", "es": "quiero hablar con alguien",
                            "en": "I want to talk to a person"}[language], rng)
            events.user(at, text, typed_parse_data(text, "request_human", rng.uniform(0.8, 0.98), language, rng),
                        metadata={"kind": "text"})
            events.action(at + 0.1, "action_request_human")
            events.bot(at + 0.2, BOT_TEXTS["human"][language])
            events.slot(at + 0.21, "flagged_for_staff", True)
            self.totals.flagged += 1
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
        self.totals.typed_messages += 1
        if low:
            self.totals.low_confidence_messages += 1
            self.low_confidence_texts.append((text, intent, confidence, language))

    # ---- NLU reviews an editor has saved
    def write_reviews(self, count: int) -> int:
        from bot.console.nlu_review import reviews_table, text_key, tidy
        count = min(count, len(self.low_confidence_texts) // 5)   # most are still to review
        chosen, rows = set(), []
        for text, intent, confidence, language in self.rng.sample(self.low_confidence_texts,
                                                                   min(count * 2, len(self.low_confidence_texts))):
            key = text_key(text)
            if key in chosen or len(rows) >= count:
                continue
            chosen.add(key)
            ignored = self.rng.random() < 0.15
            label = intent if intent != "nlu_fallback" else self.rng.choice(("out_of_scope", "ask_documents"))
            rows.append(dict(text_key=key, text="" if ignored else tidy(text), intent=None if ignored else label,
                             ignored=ignored, reviewer=USERNAME, reviewed_at=self.now - timedelta(days=1),
                             predicted_intent=intent, confidence=confidence, language=language,
                             exported_at=None))
        if rows:
            with self.recorda.begin() as conn:
                conn.execute(reviews_table.insert(), rows)
        return len(rows)

    def close(self) -> None:
        self.tracker.close()
        self.recorda.dispose()
        self.booking.dispose()


def generate(workdir: str, days: int, per_day: int, seed: int, reviews: int) -> dict:
    """Writes the town into `workdir`; what was written. Runs in a child
    process, so that this process' memory is the console's alone."""
    from bot.dev.sandbox.booking_seed import MADRID
    from bot.dev.sandbox.history import past_days

    started = time.perf_counter()
    today = bot.foundation.clock.now(MADRID).date()
    writer = TownWriter(Path(workdir), today, seed)
    wanted = past_days(today, days)
    for i, day in enumerate(wanted):
        writer.write_day(day, per_day, is_last=i == len(wanted) - 1)
    reviewed = writer.write_reviews(reviews)
    writer.close()
    with contextlib.closing(sqlite3.connect(Path(workdir) / "tracker.db")) as conn:
        senders = conn.execute("SELECT COUNT(DISTINCT sender_id) FROM events").fetchone()[0]
    totals = writer.totals
    return {"service_days": len(wanted), "first_day": wanted[0].isoformat(), "last_day": wanted[-1].isoformat(),
            "appointments": totals.appointments, "reminders": totals.reminders,
            "reminder_events": totals.reminder_events, "reminder_states": dict(sorted(totals.states.items())),
            "tracker_events": totals.tracker_events, "senders": senders,
            "typed_messages": totals.typed_messages, "low_confidence_messages": totals.low_confidence_messages,
            "fallback_messages": totals.fallback_messages, "flagged_conversations": totals.flagged,
            "nlu_reviews": reviewed,
            "db_mb": {name: round((Path(workdir) / f"{name}.db").stat().st_size / 2 ** 20, 1)
                      for name in ("recorda", "tracker", "booking")},
            "generate_seconds": round(time.perf_counter() - started, 1)}


# ============================================================ the services

@contextlib.contextmanager
def booking_service(db_path: Path, port: int, log_path: Path, timeout: float = 30.0) -> Iterator[str]:
    """The sandbox booking service on the written database; its API URL."""
    env = dict(os.environ, RECORDA_BOOKING_TOKEN=TOKEN, PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "bot.dev.sandbox.booking_service", "--host", "127.0.0.1", "--port", str(port),
           "--db", str(db_path), "--token", TOKEN]
    with log_path.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=Path(__file__).resolve().parent.parent, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the booking service did not start:\n" + log_path.read_text()[-2000:])
            try:
                with urllib.request.urlopen(url + "/sandbox/health", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        yield url + "/api/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb() -> float:
    """This process' resident memory now (Linux /proc)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)   # KiB on Linux


class Client:
    """A signed-in browser: cookies (unsafe=True: kept for 127.0.0.1), the form's CSRF token."""

    def __init__(self, base: str):
        self.base = base
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                             timeout=aiohttp.ClientTimeout(total=120))
        self.csrf = ""          # the session's token, for the forms it sends

    async def sign_in(self, username: str, password: str) -> None:
        async with self.session.get(self.base + "/console/sign-in") as resp:
            html = await resp.text()
        csrf = re.search(r'name="csrf" value="([^"]+)"', html)
        if csrf is None:
            raise RuntimeError("no CSRF token on the sign-in page")
        async with self.session.post(self.base + "/console/sign-in", data={
                "username": username, "password": password, "csrf": csrf.group(1)}) as resp:
            html = await resp.text()
            if resp.status != 200 or "sign-out" not in html:
                raise RuntimeError(f"sign-in failed: HTTP {resp.status}")
        self.csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)

    async def timed(self, page: "PageToTime") -> Tuple[float, int, bytes]:
        return await (self.timed_post(page.path, page.form) if page.form else self.timed_get(page.path))

    async def timed_get(self, path: str) -> Tuple[float, int, bytes]:
        started = time.perf_counter()
        async with self.session.get(self.base + path, allow_redirects=False) as resp:
            body = await resp.read()
            status = resp.status
        return time.perf_counter() - started, status, body

    async def timed_post(self, path: str, form: Dict[str, str]) -> Tuple[float, int, bytes]:
        """A form sent as a browser sends it: the POST, then the page its
        303 leads to (the status is that page's, or the POST's own when it
        did not redirect)."""
        started = time.perf_counter()
        async with self.session.post(self.base + path, data={**form, "csrf": self.csrf},
                                     allow_redirects=True) as resp:
            body = await resp.read()
            status = resp.status
        return time.perf_counter() - started, status, body

    async def close(self) -> None:
        await self.session.close()


# ============================================================ the measurement

@dataclass(frozen=True)
class PageToTime:
    name: str
    path: str
    what: str
    # Forget what the console keeps between requests before each one (the
    # figures page keeps its figures 2 min): the time of a first view.
    cold: bool = True
    form: Optional[Dict[str, str]] = None   # POSTed (then its redirect followed) instead of a GET


def pages_to_time(data: dict, office_id: str, number: str, key: str) -> List[PageToTime]:
    from urllib.parse import urlencode
    day, first = data["last_day"], data["first_day"]
    day_query = urlencode({"date": day, "office": office_id})
    return [
        PageToTime("day", f"/console/day?{day_query}", f"{day}, {office_id} (the busiest office)"),
        PageToTime("day_csv", f"/console/day.csv?{day_query}", f"{day}, {office_id}, masked numbers"),
        PageToTime("conversations", "/console/conversations", "default: the last 7 days"),
        PageToTime("conversations_low", "/console/conversations?low=1", "last 7 days, low confidence only"),
        # The number is POSTed (never in a URL): the time is the POST's plus
        # that of the list its 303 leads to (?who=<the sender's key>).
        PageToTime("conversations_number", "/console/conversations/search",
                   "last 7 days, search by a full number: POST /console/conversations/search "
                   "and the GET /console/conversations?who=<key> it redirects to", form={"number": number}),
        PageToTime("transcript", f"/console/conversations/{key}", "a citizen with two reminders"),
        PageToTime("figures", "/console/figures?" + urlencode({"from": first, "to": day}),
                   f"{first} to {day}, all offices, computed for each request"),
        PageToTime("figures_kept", "/console/figures?" + urlencode({"from": first, "to": day}),
                   "the same, seen again within 2 minutes (or one of its CSVs)", cold=False),
        PageToTime("nlu", "/console/nlu", "default: the last 30 days, to review"),
    ]


def choose_examples(workdir: Path, last_day: str, tz) -> Tuple[str, str, str]:
    """The busiest office of the last day, and a citizen who wrote in the
    last week and has two reminders (number as staff type it, sender)."""
    from bot.reminders.store import reminders
    from sqlalchemy import create_engine, func, select
    engine = create_engine(f"sqlite:///{workdir / 'recorda.db'}", future=True)
    with engine.connect() as conn:
        office = conn.execute(select(reminders.c.office_id).where(
            reminders.c.service_date == date.fromisoformat(last_day)).group_by(reminders.c.office_id)
            .order_by(func.count().desc())).first()[0]
        repeats = [row[0] for row in conn.execute(
            select(reminders.c.phone).where(reminders.c.phone.like("+346%"))
            .group_by(reminders.c.phone).having(func.count() >= 2)
            .order_by(func.max(reminders.c.sent_at).desc()).limit(50))]
    engine.dispose()
    week_ago = (bot.foundation.clock.now(tz) - timedelta(days=6)).timestamp()
    with contextlib.closing(sqlite3.connect(workdir / "tracker.db")) as conn:
        for phone in repeats:
            said = conn.execute("SELECT COUNT(*) FROM events WHERE sender_id = ? AND type_name = 'user' "
                                "AND timestamp >= ?", (phone, week_ago)).fetchone()[0]
            if said >= 2:
                break
        else:
            phone = repeats[0]
    national = phone[3:]
    return office, f"{national[:3]} {national[3:6]} {national[6:]}", phone


# One per row a page lists (the day view: appointments and the follow-up list).
_CONVERSATION_ROW = b'data-test="conversation"'
ROW_MARKERS = {"day": b"<tr data-appointment=", "conversations": _CONVERSATION_ROW,
               "conversations_low": _CONVERSATION_ROW, "conversations_number": _CONVERSATION_ROW,
               "nlu": b'data-test="nlu-row"'}


async def time_page(client: Client, page: PageToTime, warmup: int, repeat: int, kept: dict) -> dict:
    for _ in range(warmup):
        await client.timed(page)
    seconds, statuses, size = [], {}, 0
    for _ in range(repeat):
        if page.cold:
            kept.clear()
        elapsed, status, body = await client.timed(page)
        seconds.append(elapsed)
        statuses[status] = statuses.get(status, 0) + 1
        size = len(body)
    summary = summary_ms(seconds)
    result = {"path": page.path, "what": page.what, "p50_ms": summary["p50_ms"], "p95_ms": summary["p95_ms"],
              "max_ms": summary["max_ms"], "bytes": size, "statuses": {str(k): v for k, v in statuses.items()},
              "meets_target": summary["p95_ms"] is not None and summary["p95_ms"] < TARGET_P95_MS}
    if page.name == "day_csv":
        result["csv_rows"] = body.decode("utf-8-sig").count("\n") - 1
    marker = ROW_MARKERS.get(page.name)
    if marker:   # what the page showed: a check that it read the data
        result["rows_shown"] = body.count(marker)
    log.info("%-22s p50 %7.1f ms  p95 %7.1f ms  max %7.1f ms  %8d bytes  %s", page.name, summary["p50_ms"],
             summary["p95_ms"], summary["max_ms"], size, statuses)
    return result


async def measure(args: argparse.Namespace, workdir: Path, data: dict) -> dict:
    from bot.booking.rest import RestBookingSystem
    from bot.foundation.settings import Settings
    from bot.console.accounts import Accounts
    from bot.console.conversations import ConversationKeys
    from bot.dev.sandbox.booking_seed import MADRID, OFFICES
    from bot.apps.web.app import create_app

    office, number, sender = choose_examples(workdir, data["last_day"], MADRID)
    with booking_service(workdir / "booking.db", free_port(), workdir / "booking.log") as booking_url:
        port = free_port()
        settings = Settings(db_url=f"sqlite:///{workdir / 'recorda.db'}", booking_url=booking_url,
                            booking_token=TOKEN, rasa_url="", rasa_token="", timezone=MADRID,
                            default_region="ES", default_language="ca", offices=tuple(o["id"] for o in OFFICES),
                            link_secret=LINK_SECRET, public_url=f"http://127.0.0.1:{port}",
                            tracker_db_url=f"sqlite:///{workdir / 'tracker.db'}")
        Accounts.from_settings(settings).create_user(USERNAME, "Bench Editor", PASSWORD, "editor", "ca")
        booking = RestBookingSystem(settings.booking_url, settings.booking_token)
        app = create_app(settings, booking, name=f"console_bench_{os.getpid()}")
        server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True,
                                         access_log=False)
        await server.startup()
        await server.start_serving()
        rss_before = rss_mb()
        client = Client(f"http://127.0.0.1:{port}")
        try:
            await client.sign_in(USERNAME, PASSWORD)
            key = ConversationKeys(LINK_SECRET).key(sender)
            pages = {}
            for page in pages_to_time(data, office, number, key):
                if args.only and page.name not in args.only:
                    continue
                pages[page.name] = await time_page(client, page, args.warmup, args.repeat,
                                                   app.ctx.console.kept)
        finally:
            await client.close()
            server.close()
            await server.wait_closed()
            await booking.close()
    return {"pages": pages, "rss_mb_before_pages": rss_before, "rss_mb_after_pages": rss_mb()}


async def run(args: argparse.Namespace) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="recorda-console-bench-"))
    try:
        log.info("Writing %d service days x %d reminders into %s", args.days, args.per_day, workdir)
        # A child process writes the data: its memory is not this one's.
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            data = await asyncio.get_running_loop().run_in_executor(
                pool, generate, str(workdir), args.days, args.per_day, args.seed, args.reviews)
        log.info("Data: %s", json.dumps(data))
        before = machine()
        measured = await measure(args, workdir, data)
    finally:
        if args.keep_data:
            log.info("Kept %s", workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    pages = measured["pages"]
    errors = sum(n for p in pages.values() for status, n in p["statuses"].items() if status != "200")
    slowest = max(pages, key=lambda name: pages[name]["p95_ms"]) if pages else None
    return {
        "benchmark": "console_pages",
        "target_p95_ms": TARGET_P95_MS,
        "meets_target": all(p["meets_target"] for p in pages.values()),
        "slowest_page": slowest,
        "errors": errors,
        "pages": pages,
        "requests_per_page": args.repeat, "warmup_per_page": args.warmup,
        "data": data,
        "booking_system": "the sandbox booking service as a subprocess, on a database written in bulk",
        "web_process_peak_rss_mb": peak_rss_mb(),
        "web_process_rss_mb": {"before_pages": measured["rss_mb_before_pages"],
                               "after_pages": measured["rss_mb_after_pages"]},
        "rss_note": "this process: the console served in-process plus the aiohttp client; the data were "
                    "written by a child process and the booking service is another process",
        "machine": before,
    }


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.console_pages", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30, help="past service days of data (30)")
    parser.add_argument("--per-day", type=int, default=600, help="appointments per service day, 3 offices (600)")
    parser.add_argument("--repeat", type=int, default=20, help="measured requests per page (20)")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured requests per page first (2)")
    parser.add_argument("--reviews", type=int, default=150, help="NLU reviews already saved (150)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated town (7)")
    parser.add_argument("--only", nargs="+", metavar="PAGE", help="time only these pages (names as in the output)")
    parser.add_argument("--keep-data", action="store_true", help="keep the temporary directory with the databases")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.days < 1 or args.per_day < 10 or args.repeat < 1 or args.warmup < 0:
        parser.error("--days >= 1, --per-day >= 10, --repeat >= 1, --warmup >= 0")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    result = run_benchmark("console_pages", lambda: run(args))
    if result is None:
        return 2
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
