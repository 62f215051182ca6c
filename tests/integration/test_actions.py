"""The custom actions as rasa-sdk runs them: a real `Tracker`, a
`CollectingDispatcher` and the domain of domain.yml, against the real sandbox
booking service (one per module, fresh database) and a temporary SQLite
reminder store and outbox (one per test).

The seeded appointments are shared by the whole module, so every test that
changes one takes its own citizen from `cast` (never used by another test);
tests that only read use the per-language `reader`s, which nothing changes.
"""
from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
import yaml
from babel.dates import get_day_names, get_month_names
from rasa.shared.core.domain import Domain
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

import bot.foundation.clock
from actions.appointment import (
    ActionAppointmentDetails,
    ActionCancelAppointment,
    ActionConfirmAppointment,
)
from actions.booking_update import ActionBookingUpdateResult
from actions.context import Services
from actions.keep import ActionKeepAppointment
from actions.media import ActionMediaMessage
from actions.office import (
    ActionRequestHuman,
    ActionTellDocuments,
    ActionTellLocation,
    ActionTellOpeningHours,
)
from actions.reminder import ActionSendReminder
from actions.session import ActionSessionStart
from actions.short_answer import ActionShortAnswer
from actions.trust import RECORDA, TAP, TEXT, UNVERIFIED, origin
from bot.booking import BOOKED, CANCELLED, CONFIRMED, Appointment, BookingUnavailable
from bot.booking.outbox import (
    DONE,
    PENDING,
    BookingOutbox,
    OutboxWorker,
    backoff_seconds,
)
from bot.booking.rest import RestBookingSystem
from bot.dev.sandbox.booking_seed import (
    MADRID,
    OFFICES,
    PROCEDURES,
    booking_link,
    is_service_day,
    next_service_day,
    service_days_after,
)
from bot.foundation.languages import LANGUAGES, format_short_date, format_when
from bot.foundation.phone import check_for_whatsapp
from bot.foundation.settings import WHATSAPP_CHANNELS
from bot.messaging import seal as channel_seal
from bot.reminders import states
from bot.reminders.store import ReminderStore
from tests.support import ROOT
from tests.support.booking_sandbox import SandboxBooking, madrid_today

# Each test that changes an appointment takes a citizen of its own.
BOOKING_EXTRA_CITIZENS = 60
TODAY = madrid_today()
NEXT_DAY = next_service_day(TODAY)
BABEL_LOCALES = {"ca": "ca_ES", "es": "es_ES", "en": "en_GB"}
# A valid Spanish mobile that has no appointment in the seed.
STRANGER = "+34699999999"
# A word that only the "done" answers use, per language (domain.yml).
CANCELLED_WORD = {"ca": "anul·lat", "es": "anulado", "en": "cancelled"}
CONFIRMED_WORD = {"ca": "confirmada", "es": "confirmada", "en": "confirmed"}
OFFICE = {o["id"]: o for o in OFFICES}
PROCEDURE = {p["id"]: p for p in PROCEDURES}
RAW_DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


# --- what the citizen should read ---------------------------------------------------------

def response_text(response: str, lang: str, /, **values: Any) -> str:
    """A response of domain.yml in one language with its placeholders filled:
    the variation whose condition names the language, else the default one."""
    variations = RAW_DOMAIN["responses"][response]
    chosen = next((v for v in variations
                   if any(c.get("value") == lang for c in v.get("condition") or [])), None)
    chosen = chosen or next(v for v in variations if not v.get("condition"))
    text = chosen["text"]
    for key, value in values.items():
        text = text.replace("{" + key + "}", str(value))
    return text


def when(appointment: Appointment, lang: str) -> str:
    return format_when(appointment.starts_at, lang, MADRID)


def date_words(appointment: Appointment, lang: str) -> list[str]:
    """Weekday, day, month and time of an appointment as CLDR writes them in
    the language: what "written out in the citizen's language" must contain."""
    local = appointment.starts_at.astimezone(MADRID)
    locale = BABEL_LOCALES[lang]
    return [get_day_names("wide", locale=locale)[local.weekday()],
            str(local.day),
            get_month_names("wide", context="stand-alone", locale=locale)[local.month],
            f"{local.hour}:{local.minute:02d}"]


def assert_written_out(text: str, appointment: Appointment, lang: str) -> None:
    for word in date_words(appointment, lang):
        assert word in text, f"{word!r} ({lang}) missing from {text!r}"
    others = [w for other in LANGUAGES if other != lang for w in date_words(appointment, other)[:1]]
    for word in others:
        assert word not in text, f"weekday {word!r} of another language in {text!r}"


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["text"] for m in messages]


# --- the seeded citizens ---------------------------------------------------------------------

@dataclass(frozen=True)
class Person:
    name: str
    phone: str                    # E.164: the WhatsApp conversation id
    language: str
    appointment: Appointment      # booked, on the next service day
    active: list[Appointment]     # every active one from today on, in time order

    @property
    def upcoming(self) -> list[Appointment]:
        """The active ones not started yet, by the clock the actions read."""
        return [a for a in self.active if a.starts_at > bot.foundation.clock.now()]

    @property
    def first_name(self) -> str:
        return self.name.split(" ")[0]


class Cast:
    """The seed's citizens with a usable mobile, handed out so that no two
    tests change the same citizen's appointments."""

    def __init__(self, appointments: list[Appointment]):
        by_phone: dict[str, list[Appointment]] = defaultdict(list)
        for appointment in appointments:
            check = check_for_whatsapp(appointment.phone)
            if check.usable:
                by_phone[check.e164].append(appointment)
        self.people: list[Person] = []
        for phone, found in sorted(by_phone.items()):
            found.sort(key=lambda a: (a.starts_at, a.id))
            next_day = [a for a in found if a.starts_at.date() == NEXT_DAY and a.status == BOOKED]
            if next_day:
                self.people.append(Person(next_day[0].citizen_name, phone, next_day[0].language,
                                          next_day[0], [a for a in found if a.is_active]))
        self._taken: set = set()
        self._readers: dict[str, Person] = {}

    def take(self, language: str | None = None, several: bool = False) -> Person:
        """A citizen no other test has; `several`: one with two or more
        upcoming appointments (kept back from the other tests when possible)."""
        free = [p for p in self.people if p.phone not in self._taken
                and (language is None or p.language == language)]
        if several:
            free = [p for p in free if len(p.upcoming) >= 2]
        else:
            free.sort(key=lambda p: len(p.upcoming))
        assert free, f"no citizen left in the seed (language={language}, several={several})"
        self._taken.add(free[0].phone)
        return free[0]

    def reader(self, language: str) -> Person:
        """The citizen of a language whose appointments no test changes."""
        if language not in self._readers:
            self._readers[language] = self.take(language)
        return self._readers[language]


def _seeded_appointments(service: SandboxBooking) -> list[Appointment]:
    days = ([TODAY] if is_service_day(TODAY) else []) + service_days_after(TODAY, 5)
    found = []
    for day in days:
        for office in OFFICES:
            status, body = service.request(
                "GET", f"/api/v1/appointments?date={day.isoformat()}&office_id={office['id']}")
            assert status == 200, body
            found += [Appointment.from_dict(a) for a in body]
    return found


@pytest.fixture(scope="module")
def cast(booking_service) -> Cast:
    return Cast(_seeded_appointments(booking_service))


def fetch(service: SandboxBooking, appointment_id: str) -> Appointment:
    """The appointment as the booking service has it now."""
    status, body = service.request("GET", f"/api/v1/appointments/{appointment_id}")
    assert status == 200, body
    return Appointment.from_dict(body)


# --- the action server's environment ------------------------------------------------------

@pytest.fixture(scope="module")
def domain() -> dict[str, Any]:
    return Domain.load(str(ROOT / "domain.yml")).as_dict()


@dataclass
class Env:
    db_url: str
    reminders: ReminderStore
    outbox: BookingOutbox


@pytest_asyncio.fixture
async def env(booking_service, db_url, monkeypatch) -> Env:
    """The actions pointed at the sandbox and at a fresh SQLite database."""
    monkeypatch.setenv("RECORDA_BOOKING_URL", booking_service.api_url)
    monkeypatch.setenv("RECORDA_BOOKING_TOKEN", booking_service.token)
    monkeypatch.setenv("RECORDA_DB_URL", db_url)
    monkeypatch.setenv("RECORDA_ACTION_TOKEN", ACTION_TOKEN)
    for name in ("RECORDA_TIMEZONE", "RECORDA_DEFAULT_REGION", "RECORDA_DEFAULT_LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    # The adapter's own retries, shortened: an outage answers in milliseconds.
    monkeypatch.setattr(RestBookingSystem, "BACKOFF_SECONDS", 0.01)
    Services.reset()
    yield Env(db_url, ReminderStore(db_url), BookingOutbox(db_url))
    if Services._booking is not None:
        await Services._booking.close()
    Services.reset()


def schedule_reminder(env: Env, person: Person, appointment: Appointment | None = None) -> None:
    """The reminder row the daily job leaves before sending (E.164 phone)."""
    appointment = appointment or person.appointment
    env.reminders.schedule(appointment.id, appointment.starts_at.date(), appointment.office_id,
                           person.phone, person.language)


# --- trackers as Rasa sends them to the action server -----------------------------------------

ACTION_TOKEN = "test-action-token-for-the-seal"


def make_tracker(sender: str, intent: str, text: str, entities: dict[str, str] | None = None,
                 slots: dict[str, Any] | None = None, kind: str = "text",
                 channel: str | None = "messagebird", sealed: bool = True,
                 earlier: list[dict[str, Any]] | None = None) -> Tracker:
    """The tracker Rasa sends for a message that came in as `kind` ("text",
    "button", "media": through the signed WhatsApp channel, sealed as the
    connector seals it; "external": Recorda's own trigger_intent). `earlier`:
    events before this message (e.g. the reminder's turn)."""
    latest = {
        "intent": {"name": intent, "confidence": 1.0},
        "entities": [{"entity": k, "value": v, "start": None, "end": None}
                     for k, v in (entities or {}).items()],
        "text": text,
        "intent_ranking": [{"name": intent, "confidence": 1.0}],
    }
    all_slots = {"language": None, "appointment_id": None, "flagged_for_staff": False,
                 "open_question": None}
    all_slots.update(slots or {})
    message_id = f"wamid-{abs(hash((sender, text, kind))) % 10**9}"
    if kind == "external":
        metadata: dict[str, Any] = {"is_external": True}
    else:
        metadata = {"kind": kind, "provider_message_id": message_id}
        if sealed:
            metadata[channel_seal.METADATA_KEY] = channel_seal.seal(
                ACTION_TOKEN, channel or "", sender, message_id, kind, text)
    events = [{"event": "action", "name": "action_session_start"},
              {"event": "action", "name": "action_listen"},
              *(earlier or []),
              {"event": "user", "text": text, "parse_data": latest, "input_channel": channel,
               "message_id": message_id, "metadata": metadata}]
    return Tracker(sender, all_slots, latest, events, False, None, {}, "action_listen")


def tap(sender: str, intent: str, appointment_id: str, language: str,
        slots: dict[str, Any] | None = None, **options: Any) -> Tracker:
    """A quick-reply button: the connector hands Rasa the button's payload."""
    text = "/" + intent + json.dumps({"appointment_id": appointment_id}, separators=(",", ":"))
    return make_tracker(sender, intent, text, {"appointment_id": appointment_id},
                        {"language": language, **(slots or {})}, kind="button", **options)


def typed(sender: str, intent: str, text: str, language: str,
          slots: dict[str, Any] | None = None, **options: Any) -> Tracker:
    return make_tracker(sender, intent, text, None, {"language": language, **(slots or {})}, **options)


def external(sender: str, intent: str, entities: dict[str, str],
             slots: dict[str, Any] | None = None) -> Tracker:
    """What `trigger_intent` (daily job, retry worker) puts in the tracker."""
    return make_tracker(sender, intent, f"EXTERNAL: {intent}", entities, slots, kind="external")


async def run(action, tracker: Tracker, domain: dict[str, Any]):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, domain)
    return dispatcher.messages, events


# --- 1. ownership ----------------------------------------------------------------------------

@pytest.mark.parametrize("action", [ActionCancelAppointment, ActionConfirmAppointment])
async def test_another_numbers_appointment_is_refused_and_left_alone(
        action, env, domain, cast, booking_service):
    victim = cast.take()
    intruder = cast.reader("es")
    schedule_reminder(env, victim)
    intent = "cancel_appointment" if action is ActionCancelAppointment else "confirm_appointment"

    messages, events = await run(action(), tap(intruder.phone, intent, victim.appointment.id, "es"),
                                 domain)

    assert texts(messages) == [response_text("utter_no_appointment", "es", link=booking_link("es"))]
    assert all(not m["buttons"] for m in messages)
    assert events == []
    after = fetch(booking_service, victim.appointment.id)
    assert (after.status, after.confirmed_at, after.cancelled_at) == (BOOKED, None, None)
    reminder = env.reminders.get(victim.appointment.id)
    assert reminder.state == states.SCHEDULED
    assert [e.event for e in env.reminders.history(victim.appointment.id)] == [states.SCHEDULED]
    assert env.reminders.get(intruder.appointment.id) is None
    assert env.outbox.all() == []
    assert fetch(booking_service, intruder.appointment.id).status == BOOKED


async def test_another_numbers_appointment_is_not_queued_while_booking_is_down(
        env, domain, cast, outage):
    victim = cast.take()
    intruder = cast.reader("ca")
    schedule_reminder(env, victim)  # vouches for the victim's number, not the intruder's
    outage.set_outage(True)

    messages, _ = await run(ActionCancelAppointment(),
                            tap(intruder.phone, "cancel_appointment", victim.appointment.id, "ca"),
                            domain)

    assert env.outbox.all() == []
    assert response_text("utter_operation_queued", "ca") not in texts(messages)
    assert not any(CANCELLED_WORD["ca"] in t for t in texts(messages))
    assert len(messages) == 1  # told something, never silence
    outage.set_outage(False)
    assert fetch(outage, victim.appointment.id).status == BOOKED
    assert [e.event for e in env.reminders.history(victim.appointment.id)] == [states.SCHEDULED]


# --- 2. cancel by button ------------------------------------------------------------------

async def test_cancel_by_button_frees_the_slot_once_and_says_so_in_catalan(
        env, domain, cast, booking_service):
    person = cast.take("ca")
    appointment = person.appointment
    schedule_reminder(env, person)

    messages, events = await run(ActionCancelAppointment(),
                                 tap(person.phone, "cancel_appointment", appointment.id, "ca"), domain)

    cancelled = fetch(booking_service, appointment.id)
    assert cancelled.status == CANCELLED and cancelled.cancelled_at is not None
    assert texts(messages) == [response_text("utter_cancelled", "ca", when=when(appointment, "ca"),
                                             link=booking_link("ca"))]
    assert_written_out(messages[0]["text"], appointment, "ca")
    assert "https://www.vilademar.cat/cita-previa" in messages[0]["text"]
    assert events == [SlotSet("appointment_id", appointment.id), SlotSet("open_question", None)]
    assert env.reminders.get(appointment.id).state == states.CANCELLED
    answer = env.reminders.history(appointment.id)[-1]
    assert (answer.event, answer.applied, answer.source, answer.detail) == (
        states.CANCELLED, True, "citizen", {"channel": "button"})

    # The same button again (a double tap, or the reminder scrolled back to).
    messages, events = await run(ActionCancelAppointment(),
                                 tap(person.phone, "cancel_appointment", appointment.id, "ca"), domain)

    again = fetch(booking_service, appointment.id)
    assert (again.status, again.cancelled_at) == (CANCELLED, cancelled.cancelled_at)
    assert texts(messages) == [response_text("utter_already_cancelled", "ca",
                                             when=when(appointment, "ca"), link=booking_link("ca"))]
    assert events == [SlotSet("appointment_id", appointment.id), SlotSet("open_question", None)]
    assert [e.event for e in env.reminders.history(appointment.id)].count(states.CANCELLED) == 1

    # Then the old reminder's confirm button: refused, with the office phone.
    messages, _ = await run(ActionConfirmAppointment(),
                            tap(person.phone, "confirm_appointment", appointment.id, "ca"), domain)
    assert texts(messages) == [response_text(
        "utter_operation_refused", "ca",
        reason=response_text("utter_reason_not_confirmable", "ca"),
        phone=OFFICE[appointment.office_id]["phone"])]
    assert fetch(booking_service, appointment.id).status == CANCELLED
    assert env.reminders.get(appointment.id).state == states.CANCELLED


# --- 3. confirm by button ------------------------------------------------------------------

async def test_confirm_by_button_then_again_says_already_confirmed(env, domain, cast, booking_service):
    person = cast.take()
    lang = person.language
    appointment = person.appointment
    office = OFFICE[appointment.office_id]
    schedule_reminder(env, person)

    messages, events = await run(ActionConfirmAppointment(),
                                 tap(person.phone, "confirm_appointment", appointment.id, lang), domain)

    confirmed = fetch(booking_service, appointment.id)
    assert confirmed.status == CONFIRMED and confirmed.confirmed_at is not None
    assert texts(messages) == [response_text(
        "utter_confirmed", lang, name=person.first_name, when=when(appointment, lang),
        office=f"{office['name']} ({office['address']})")]
    assert_written_out(messages[0]["text"], appointment, lang)
    assert events == [SlotSet("appointment_id", appointment.id), SlotSet("open_question", None)]
    assert env.reminders.get(appointment.id).state == states.CONFIRMED

    messages, events = await run(ActionConfirmAppointment(),
                                 tap(person.phone, "confirm_appointment", appointment.id, lang), domain)

    again = fetch(booking_service, appointment.id)
    assert (again.status, again.confirmed_at) == (CONFIRMED, confirmed.confirmed_at)
    assert texts(messages) == [response_text("utter_already_confirmed", lang,
                                             when=when(appointment, lang))]
    assert events == [SlotSet("appointment_id", appointment.id), SlotSet("open_question", None)]
    assert [e.event for e in env.reminders.history(appointment.id)].count(states.CONFIRMED) == 1


async def test_a_confirmation_is_told_even_if_the_office_cannot_be_read_right_after(
        env, domain, cast, booking_service, monkeypatch):
    # The booking system confirmed, then went down before the office's address
    # could be read: the citizen still hears that it is confirmed.
    person = cast.take()
    lang = person.language
    appointment = person.appointment
    schedule_reminder(env, person)

    async def office_unavailable(office_id):
        raise BookingUnavailable("down right after the confirmation")
    monkeypatch.setattr(Services.booking(), "get_office", office_unavailable)

    messages, _ = await run(ActionConfirmAppointment(),
                            tap(person.phone, "confirm_appointment", appointment.id, lang), domain)

    assert fetch(booking_service, appointment.id).status == CONFIRMED
    assert texts(messages) == [response_text("utter_confirmed_no_office", lang, name=person.first_name,
                                             when=when(appointment, lang))]
    assert env.reminders.get(appointment.id).state == states.CONFIRMED


# --- 4. the citizen's language -------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGUAGES)
async def test_confirm_and_cancel_answer_in_the_citizens_language(
        lang, env, domain, cast, booking_service):
    person = cast.take(lang)
    appointment = person.appointment
    office = OFFICE[appointment.office_id]

    messages, _ = await run(ActionConfirmAppointment(),
                            tap(person.phone, "confirm_appointment", appointment.id, lang), domain)
    [confirmed] = texts(messages)
    assert confirmed == response_text("utter_confirmed", lang, name=person.first_name,
                                      when=when(appointment, lang),
                                      office=f"{office['name']} ({office['address']})")
    assert CONFIRMED_WORD[lang] in confirmed
    assert_written_out(confirmed, appointment, lang)

    messages, _ = await run(ActionCancelAppointment(),
                            tap(person.phone, "cancel_appointment", appointment.id, lang), domain)
    [cancelled] = texts(messages)
    assert cancelled == response_text("utter_cancelled", lang, when=when(appointment, lang),
                                      link=booking_link(lang))
    assert CANCELLED_WORD[lang] in cancelled
    assert all(CANCELLED_WORD[other] not in cancelled for other in LANGUAGES if other != lang)
    assert_written_out(cancelled, appointment, lang)
    assert booking_link(lang) in cancelled
    assert fetch(booking_service, appointment.id).status == CANCELLED


# --- 5. booking system down, then back ------------------------------------------------------

async def test_booking_down_queues_the_cancel_once_and_the_worker_finishes_it(
        env, domain, cast, outage, booking):
    person = cast.take()
    lang = person.language
    appointment = person.appointment
    schedule_reminder(env, person)
    outage.set_outage(True)

    for attempt in range(2):  # the citizen taps, gets no "done", taps again
        messages, _ = await run(ActionCancelAppointment(),
                                tap(person.phone, "cancel_appointment", appointment.id, lang), domain)
        assert texts(messages) == [response_text("utter_operation_queued", lang)], attempt
        assert CANCELLED_WORD[lang] not in messages[0]["text"]
        [op] = env.outbox.all()
        assert (op.appointment_id, op.operation, op.state, op.sender_id, op.language, op.attempts) == (
            appointment.id, "cancel", PENDING, person.phone, lang, 0)
    assert env.reminders.get(appointment.id).state == states.SCHEDULED

    notified = []

    async def notify(operation):
        notified.append(operation)

    worker = OutboxWorker(BookingOutbox(env.db_url), booking, notify)

    # Still down: the operation waits, with one more attempt and a backoff.
    assert await worker.run_once() == 0
    [op] = env.outbox.all()
    assert (op.state, op.attempts, op.notified) == (PENDING, 1, False)
    assert op.last_error
    assert notified == []

    outage.set_outage(False)
    assert fetch(outage, appointment.id).status == BOOKED  # the action did not pretend
    assert await worker.run_once() == 0  # backoff: not due yet
    assert fetch(outage, appointment.id).status == BOOKED

    # Back up, but the queued cancel has not run yet: another tap joins it
    # instead of racing it, so the citizen is told "done" once, by the worker.
    messages, _ = await run(ActionCancelAppointment(),
                            tap(person.phone, "cancel_appointment", appointment.id, lang), domain)
    assert texts(messages) == [response_text("utter_operation_queued", lang)]
    assert len(env.outbox.all()) == 1

    await asyncio.sleep(backoff_seconds(1) + 0.2)
    assert await worker.run_once() == 1
    cancelled = fetch(outage, appointment.id)
    assert cancelled.status == CANCELLED
    assert [(n.appointment_id, n.operation, n.state, n.sender_id) for n in notified] == [
        (appointment.id, "cancel", DONE, person.phone)]
    [op] = env.outbox.all()
    assert (op.state, op.notified) == (DONE, True)

    assert await worker.run_once() == 0
    assert len(notified) == 1
    assert fetch(outage, appointment.id).cancelled_at == cancelled.cancelled_at

    # The notification's turn: the citizen is told it is done, in their language.
    messages, _ = await run(ActionBookingUpdateResult(), external(
        person.phone, "EXTERNAL_booking_update",
        {"appointment_id": appointment.id, "operation": "cancel", "outcome": "done"},
        {"language": lang, "appointment_id": appointment.id}), domain)
    assert texts(messages) == [response_text("utter_cancelled", lang, when=when(appointment, lang),
                                             link=booking_link(lang))]
    assert env.reminders.get(appointment.id).state == states.CANCELLED
    assert env.reminders.history(appointment.id)[-1].detail == {"channel": "queued"}


# --- 6. several appointments, no id -----------------------------------------------------------

async def test_cancel_by_text_with_several_appointments_asks_which(env, domain, cast, booking_service, clock):
    person = cast.take(several=True)
    lang = person.language
    texts_by_lang = {"ca": "vull anul·lar la cita", "es": "quiero anular la cita",
                     "en": "I want to cancel my appointment"}

    messages, events = await run(ActionCancelAppointment(),
                                 typed(person.phone, "cancel_appointment", texts_by_lang[lang], lang),
                                 domain)

    [question] = messages
    assert question["text"] == response_text("utter_which_appointment", lang,
                                             verb=response_text("utter_verb_cancel", lang))
    assert [b["payload"] for b in question["buttons"]] == [
        f'/cancel_appointment{{"appointment_id":"{a.id}"}}' for a in person.upcoming]
    assert len(question["buttons"]) >= 2
    assert [b["title"] for b in question["buttons"]] == [
        format_short_date(a.starts_at, lang, MADRID) for a in person.upcoming]
    assert events == []
    for appointment in person.upcoming:
        assert fetch(booking_service, appointment.id).status == appointment.status
    assert env.outbox.all() == []


# --- 7. the reminder -------------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGUAGES)
async def test_reminder_template_in_the_citizens_language(lang, env, domain, cast):
    person = cast.reader(lang)
    appointment = person.appointment
    office = OFFICE[appointment.office_id]
    procedure = PROCEDURE[appointment.procedure_id]

    # The language slot is not set yet: the booking record decides.
    messages, events = await run(ActionSendReminder(), external(
        person.phone, "EXTERNAL_appointment_reminder", {"appointment_id": appointment.id}), domain)

    [message] = messages
    template = message["custom"]["whatsapp_template"]
    assert template["template"] == "appointment_reminder"
    assert template["appointment_id"] == appointment.id
    assert template["language"] == lang
    parameters = template["parameters"]
    assert len(parameters) == 6
    assert parameters[0] == person.first_name
    assert parameters[1] == when(appointment, lang)
    assert_written_out(parameters[1], appointment, lang)
    assert parameters[2] == procedure["name"][lang]
    assert parameters[3] == f"{office['name']}, {office['address']}"
    assert parameters[4] == office["map_url"]
    assert parameters[5] == procedure["documents_url"]
    assert template["quick_replies"] == [
        f'/confirm_appointment{{"appointment_id":"{appointment.id}"}}',
        f'/cancel_appointment{{"appointment_id":"{appointment.id}"}}']
    body = message["custom"]["text"]
    assert all(p in body for p in parameters)
    assert events == [SlotSet("appointment_id", appointment.id), SlotSet("language", lang),
                      SlotSet("open_question", f"attend:{appointment.id}")]


async def test_reminder_names_the_weekday_in_catalan(env, domain, cast):
    person = cast.reader("ca")
    messages, _ = await run(ActionSendReminder(), external(
        person.phone, "EXTERNAL_appointment_reminder", {"appointment_id": person.appointment.id}),
        domain)
    catalan_weekdays = ["dilluns", "dimarts", "dimecres", "dijous", "divendres"]
    weekday = catalan_weekdays[person.appointment.starts_at.astimezone(MADRID).weekday()]
    assert messages[0]["custom"]["whatsapp_template"]["parameters"][1].startswith(weekday + ", ")


async def test_reminder_is_not_sent_for_another_number_or_a_cancelled_appointment(
        env, domain, cast, booking_service):
    owner = cast.reader("es")
    for sender in (cast.reader("en").phone, STRANGER):
        messages, events = await run(ActionSendReminder(), external(
            sender, "EXTERNAL_appointment_reminder", {"appointment_id": owner.appointment.id}),
            domain)
        assert (messages, events) == ([], [])

    person = cast.take()
    status, _ = booking_service.request("POST", f"/api/v1/appointments/{person.appointment.id}/cancel")
    assert status == 200
    messages, events = await run(ActionSendReminder(), external(
        person.phone, "EXTERNAL_appointment_reminder", {"appointment_id": person.appointment.id}),
        domain)
    assert (messages, events) == ([], [])


# --- 8. questions ------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGUAGES)
async def test_appointment_details(lang, env, domain, cast, clock):
    person = cast.reader(lang)
    messages, events = await run(ActionAppointmentDetails(), typed(
        person.phone, "ask_appointment_details", "?", lang), domain)

    shown = person.upcoming[:3]
    assert len(messages) == len(shown)
    for message, appointment in zip(messages, shown):
        office = OFFICE[appointment.office_id]
        assert message["text"] == response_text(
            "utter_appointment_details", lang, when=when(appointment, lang),
            procedure=PROCEDURE[appointment.procedure_id]["name"][lang], office=office["name"],
            address=office["address"], map_url=office["map_url"])
        assert_written_out(message["text"], appointment, lang)
    assert events == ([SlotSet("appointment_id", person.appointment.id)]
                      if len(person.upcoming) == 1 else [])


async def test_appointment_details_for_a_number_without_appointments(env, domain):
    messages, events = await run(ActionAppointmentDetails(), typed(
        STRANGER, "ask_appointment_details", "when is my appointment?", "en"), domain)
    assert texts(messages) == [response_text("utter_no_appointment", "en", link=booking_link("en"))]
    assert events == []


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_documents_link_of_the_appointments_procedure(lang, env, domain, cast):
    person = cast.reader(lang)
    appointment = person.appointment
    procedure = PROCEDURE[appointment.procedure_id]
    messages, events = await run(ActionTellDocuments(), typed(
        person.phone, "ask_documents", "?", lang, {"appointment_id": appointment.id}), domain)
    assert texts(messages) == [response_text("utter_documents", lang, procedure=procedure["name"][lang],
                                             documents_url=procedure["documents_url"])]
    assert procedure["documents_url"] in messages[0]["text"]
    assert events == [SlotSet("appointment_id", appointment.id)]


async def test_location_of_the_appointments_office(env, domain, cast):
    person = cast.reader("es")
    office = OFFICE[person.appointment.office_id]
    messages, events = await run(ActionTellLocation(), typed(
        person.phone, "ask_location", "¿dónde es?", "es", {"appointment_id": person.appointment.id}),
        domain)
    assert texts(messages) == [f"{office['name']}: {office['address']}\n🗺️ {office['map_url']}"]
    assert events == []


async def test_location_without_an_appointment_lists_every_office(env, domain):
    messages, _ = await run(ActionTellLocation(), typed(STRANGER, "ask_location", "where?", "en"),
                            domain)
    assert sorted(texts(messages)) == sorted(
        f"{o['name']}: {o['address']}\n🗺️ {o['map_url']}" for o in OFFICES)


def _open_now(office: dict) -> bool:
    now = bot.foundation.clock.now(MADRID)
    clock = f"{now:%H:%M}"
    return any(h["weekday"] == now.weekday() and h["opens"] <= clock < h["closes"]
               for h in office["opening_hours"])


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_opening_hours_of_the_appointments_office(lang, env, domain, cast, clock):
    person = cast.reader(lang)
    office = OFFICE[person.appointment.office_id]
    messages, events = await run(ActionTellOpeningHours(), typed(
        person.phone, "ask_opening_hours", "?", lang, {"appointment_id": person.appointment.id}),
        domain)

    [text] = texts(messages)
    assert text.startswith(office["name"] + ": ")
    assert {"ca": "Horari: ", "es": "Horario: ", "en": "Opening hours: "}[lang] in text
    for hours in office["opening_hours"]:
        assert f"{hours['opens']}-{hours['closes']}" in text
    # Day names in the citizen's language, not in another one.
    assert ("Mon" in text and "Fri" in text) == (lang == "en")
    status_word = {"ca": ("oberta ara", "tancada ara"), "es": ("abierta ahora", "cerrada ahora"),
                   "en": ("open now", "closed now")}[lang]
    assert status_word[0 if _open_now(office) else 1] in text
    assert events == []


async def test_request_human_flags_the_conversation_and_gives_the_office_phone(env, domain, cast):
    person = cast.reader("en")
    office = OFFICE[person.appointment.office_id]
    messages, events = await run(ActionRequestHuman(), typed(
        person.phone, "request_human", "can I talk to a person?", "en",
        {"appointment_id": person.appointment.id}), domain)

    [text] = texts(messages)
    assert text.startswith("I have flagged this conversation for the office staff.")
    assert office["phone"] in text
    assert "09:00-" in text
    assert events == [SlotSet("flagged_for_staff", True)]


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_media_message_asks_for_text_in_the_trackers_language(lang, env, domain):
    tracker = external(STRANGER, "EXTERNAL_media_message", {"media_type": "audio"}, {"language": lang})
    messages, events = await run(ActionMediaMessage(), tracker, domain)
    assert texts(messages) == [response_text("utter_text_only", lang)]
    assert {"ca": "Només puc llegir", "es": "Solo puedo leer", "en": "I can only read"}[lang] \
        in messages[0]["text"]
    assert events == []


async def test_opening_hours_say_closed_on_a_public_holiday(env, domain, cast, monkeypatch):
    """Today and the next service day are holidays: the office is closed now
    (whatever the time) and opens again on the service day after."""
    monkeypatch.setenv("RECORDA_HOLIDAYS", f"{TODAY.isoformat()},{NEXT_DAY.isoformat()}")
    Services.reset()
    person = cast.reader("ca")
    office = OFFICE[person.appointment.office_id]
    reopening_day = next_service_day(NEXT_DAY)
    opens = min(h["opens"] for h in office["opening_hours"] if h["weekday"] == reopening_day.weekday())
    reopens = datetime.combine(reopening_day, datetime.strptime(opens, "%H:%M").time(), MADRID)

    messages, _ = await run(ActionTellOpeningHours(), typed(
        person.phone, "ask_opening_hours", "és obert?", "ca", {"appointment_id": person.appointment.id}),
        domain)

    [text] = texts(messages)
    assert response_text("utter_status_closed", "ca", when=format_when(reopens, "ca", MADRID)) in text
    assert "oberta ara" not in text


async def test_request_human_still_flags_the_conversation_when_booking_is_down(env, domain, cast, outage):
    person = cast.reader("es")
    outage.set_outage(True)
    messages, events = await run(ActionRequestHuman(), typed(
        person.phone, "request_human", "quiero hablar con una persona", "es",
        {"appointment_id": person.appointment.id}), domain)
    assert events == [SlotSet("flagged_for_staff", True)]
    assert len(messages) == 1  # told something, never silence


# --- a typed cancellation is asked back; only the tap cancels ------------------------------------

TYPED_CANCEL = {"ca": "Hola, no podré venir demà, tinc febre", "es": "anulela porfa, no puedo ir",
                "en": "can't make it tomorrow sorry, please cancel"}


def payloads_of(message: dict[str, Any]) -> list[str]:
    return [b["payload"] for b in message["buttons"]]


def cancel_and_keep(appointment: Appointment) -> list[str]:
    return [f'/cancel_appointment{{"appointment_id":"{appointment.id}"}}',
            f'/keep_appointment{{"appointment_id":"{appointment.id}"}}']


def reminder_turn(appointment: Appointment) -> list[dict[str, Any]]:
    """The events the daily reminder leaves in the tracker: Recorda's
    trigger, the reminder action and its question."""
    return [{"event": "user", "text": "EXTERNAL: EXTERNAL_appointment_reminder",
             "parse_data": {"intent": {"name": "EXTERNAL_appointment_reminder"}},
             "metadata": {"is_external": True}, "input_channel": "messagebird"},
            {"event": "action", "name": "action_send_reminder"},
            {"event": "slot", "name": "appointment_id", "value": appointment.id},
            {"event": "slot", "name": "open_question", "value": f"attend:{appointment.id}"},
            {"event": "action", "name": "action_listen"}]


def after_reminder(appointment: Appointment) -> dict[str, Any]:
    return {"appointment_id": appointment.id, "open_question": f"attend:{appointment.id}"}


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_a_typed_cancellation_is_asked_with_buttons_and_only_the_tap_cancels(
        lang, env, domain, cast, booking_service):
    person = cast.take(lang)
    appointment = person.appointment
    schedule_reminder(env, person)
    office = OFFICE[appointment.office_id]
    # However sure the model is, words are asked back.
    tracker = typed(person.phone, "cancel_appointment", TYPED_CANCEL[lang], lang,
                    slots=after_reminder(appointment), earlier=reminder_turn(appointment))

    messages, events = await run(ActionCancelAppointment(), tracker, domain)

    [question] = messages
    assert question["text"] == response_text(
        "utter_ask_cancel", lang, when=when(appointment, lang),
        office=response_text("utter_at_office", lang, office=office["name"]))
    assert office["name"] in question["text"]
    assert_written_out(question["text"], appointment, lang)
    assert payloads_of(question) == cancel_and_keep(appointment)
    assert [b["title"] for b in question["buttons"]] == [
        response_text("utter_button_yes_cancel", lang), response_text("utter_button_keep_it", lang)]
    assert all(len(b["title"]) <= 20 for b in question["buttons"])
    assert SlotSet("open_question", f"cancel:{appointment.id}") in events
    assert fetch(booking_service, appointment.id).status == BOOKED
    assert env.reminders.get(appointment.id).state == states.SCHEDULED

    messages, _ = await run(ActionCancelAppointment(),
                            tap(person.phone, "cancel_appointment", appointment.id, lang), domain)

    assert fetch(booking_service, appointment.id).status == CANCELLED
    assert texts(messages) == [response_text("utter_cancelled", lang, when=when(appointment, lang),
                                             link=booking_link(lang))]
    assert env.reminders.history(appointment.id)[-1].detail == {"channel": "button"}


async def test_typed_slash_payload_is_text_and_never_a_tap(env, domain, cast, booking_service):
    """What a citizen types, even a payload, is not a button: asked back."""
    person = cast.take("es")
    appointment = person.appointment
    payload = f'/cancel_appointment{{"appointment_id":"{appointment.id}"}}'
    tracker = make_tracker(person.phone, "cancel_appointment", payload, {"appointment_id": appointment.id},
                           {"language": "es"}, kind="text")

    messages, _ = await run(ActionCancelAppointment(), tracker, domain)

    assert payloads_of(messages[0]) == cancel_and_keep(appointment)
    assert fetch(booking_service, appointment.id).status == BOOKED


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_no_keep_it_button_keeps_the_appointment_untouched(lang, env, domain, cast, booking_service):
    person = cast.take(lang)
    appointment = person.appointment
    schedule_reminder(env, person)

    messages, events = await run(ActionKeepAppointment(),
                                 tap(person.phone, "keep_appointment", appointment.id, lang), domain)

    assert texts(messages) == [response_text("utter_kept", lang, when=when(appointment, lang))]
    after = fetch(booking_service, appointment.id)
    assert (after.status, after.confirmed_at, after.cancelled_at) == (BOOKED, None, None)
    assert env.reminders.get(appointment.id).state == states.SCHEDULED
    assert SlotSet("open_question", None) in events


async def test_the_cancel_question_lapses_when_the_appointment_starts(env, domain, cast, booking_service,
                                                                     clock):
    person = cast.take("ca")
    appointment = person.appointment
    clock.set(appointment.starts_at + timedelta(minutes=1))

    messages, _ = await run(ActionCancelAppointment(),
                            tap(person.phone, "cancel_appointment", appointment.id, "ca"), domain)

    assert fetch(booking_service, appointment.id).status == BOOKED
    assert messages[0]["text"].startswith(response_text("utter_operation_refused", "ca", reason="", phone="")
                                          .split("{")[0][:20])
    assert response_text("utter_reason_not_cancellable", "ca") in messages[0]["text"]


# --- short answers read in context -------------------------------------------------------------

# Which words are a short yes is the NLU's part (intent affirm: tests/nlu,
# tests/stories); the action reads the intent against the open question.
@pytest.mark.parametrize("lang,text", [("ca", "d'acord"), ("es", "vale"), ("en", "👍")])
async def test_a_short_yes_right_after_the_reminder_confirms_as_a_typed_answer(
        lang, text, env, domain, cast, booking_service):
    person = cast.take(lang)
    appointment = person.appointment
    schedule_reminder(env, person)
    tracker = typed(person.phone, "affirm", text, lang, slots=after_reminder(appointment),
                    earlier=reminder_turn(appointment))

    messages, events = await run(ActionShortAnswer(), tracker, domain)

    assert fetch(booking_service, appointment.id).status == CONFIRMED
    assert messages[0]["text"].startswith(response_text("utter_confirmed", lang, name=person.first_name,
                                                        when="", office="").split(",")[0])
    assert env.reminders.get(appointment.id).state == states.CONFIRMED
    assert env.reminders.history(appointment.id)[-1].detail == {"channel": "text"}
    assert SlotSet("open_question", None) in events


async def test_a_short_yes_after_another_exchange_confirms_nothing(env, domain, cast, booking_service):
    person = cast.take("ca")
    appointment = person.appointment
    earlier = reminder_turn(appointment) + [
        {"event": "user", "text": "on és l'oficina?", "parse_data": {"intent": {"name": "ask_location"}}},
        {"event": "action", "name": "action_tell_location"},
        {"event": "action", "name": "action_listen"}]
    tracker = typed(person.phone, "affirm", "ok", "ca", slots=after_reminder(appointment), earlier=earlier)

    messages, _ = await run(ActionShortAnswer(), tracker, domain)

    assert texts(messages) == [response_text("utter_noted", "ca")]
    assert fetch(booking_service, appointment.id).status == BOOKED


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_a_bare_no_after_the_reminder_asks_keep_or_cancel_and_cancels_nothing(
        lang, env, domain, cast, booking_service):
    person = cast.take(lang)
    appointment = person.appointment
    tracker = typed(person.phone, "deny", "no", lang, slots=after_reminder(appointment),
                    earlier=reminder_turn(appointment))

    messages, events = await run(ActionShortAnswer(), tracker, domain)

    [question] = messages
    assert question["text"] == response_text("utter_keep_or_cancel", lang, when=when(appointment, lang))
    assert payloads_of(question) == list(reversed(cancel_and_keep(appointment)))
    assert SlotSet("open_question", f"keep_or_cancel:{appointment.id}") in events
    assert fetch(booking_service, appointment.id).status == BOOKED


def cancel_question_turn(appointment: Appointment) -> list[dict[str, Any]]:
    return [{"event": "user", "text": "vull anul·lar", "parse_data": {"intent": {"name": "cancel_appointment"}}},
            {"event": "action", "name": "action_cancel_appointment"},
            {"event": "slot", "name": "open_question", "value": f"cancel:{appointment.id}"},
            {"event": "action", "name": "action_listen"}]


async def test_a_typed_yes_to_the_cancel_question_points_to_the_button(env, domain, cast, booking_service):
    person = cast.take("ca")
    appointment = person.appointment
    tracker = typed(person.phone, "affirm", "sí", "ca",
                    slots={"appointment_id": appointment.id, "open_question": f"cancel:{appointment.id}"},
                    earlier=cancel_question_turn(appointment))

    messages, events = await run(ActionShortAnswer(), tracker, domain)

    assert messages[0]["text"] == response_text("utter_tap_to_cancel", "ca", when=when(appointment, "ca"))
    assert payloads_of(messages[0]) == cancel_and_keep(appointment)
    assert fetch(booking_service, appointment.id).status == BOOKED
    assert SlotSet("open_question", f"cancel:{appointment.id}") in events


async def test_a_typed_no_to_the_cancel_question_keeps_the_appointment(env, domain, cast, booking_service):
    person = cast.take("es")
    appointment = person.appointment
    tracker = typed(person.phone, "deny", "no", "es",
                    slots={"appointment_id": appointment.id, "open_question": f"cancel:{appointment.id}"},
                    earlier=cancel_question_turn(appointment))

    messages, _ = await run(ActionShortAnswer(), tracker, domain)

    assert texts(messages) == [response_text("utter_kept", "es", when=when(appointment, "es"))]
    assert fetch(booking_service, appointment.id).status == BOOKED


def session_events(tracker: Tracker) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in tracker.events if e.get("event") == "slot"}


async def test_a_new_session_carries_an_open_question_and_drops_a_stale_one(env, domain, cast):
    appointment = cast.reader("ca").appointment
    slots = {"language": "ca", **after_reminder(appointment)}
    open_tracker = Tracker("+34600000000", {**slots}, {}, [
        {"event": "action", "name": "action_session_start"}, *reminder_turn(appointment)],
        False, None, {}, "action_listen")
    stale_tracker = Tracker("+34600000000", {**slots}, {}, [
        {"event": "action", "name": "action_session_start"}, *reminder_turn(appointment),
        {"event": "user", "text": "gràcies", "parse_data": {"intent": {"name": "thank"}}},
        {"event": "action", "name": "utter_thank"}, {"event": "action", "name": "action_listen"}],
        False, None, {}, "action_listen")

    _, carried = await run(ActionSessionStart(), open_tracker, domain)
    _, dropped = await run(ActionSessionStart(), stale_tracker, domain)

    assert carried[0]["event"] == "session_started" and carried[-1]["name"] == "action_listen"
    assert SlotSet("open_question", f"attend:{appointment.id}") in carried
    assert SlotSet("language", "ca") in carried and SlotSet("language", "ca") in dropped
    assert not any(e.get("name") == "open_question" for e in dropped)


# --- only the citizen's own signed WhatsApp acts ---------------------------------------------------

FORGERIES = {
    "Rasa's REST channel": {"channel": "rest", "sealed": False},
    "Rasa's HTTP API (no channel)": {"channel": None, "sealed": False},
    "WhatsApp channel name, no seal": {"channel": "messagebird", "sealed": False},
    "WhatsApp Cloud channel name, no seal": {"channel": "whatsapp_cloud", "sealed": False},
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
@pytest.mark.parametrize("action,intent", [(ActionCancelAppointment, "cancel_appointment"),
                                           (ActionConfirmAppointment, "confirm_appointment"),
                                           (ActionKeepAppointment, "keep_appointment")])
async def test_a_tap_that_did_not_come_through_the_signed_channel_changes_nothing(
        forgery, action, intent, env, domain, cast, booking_service):
    victim = cast.reader("ca")
    appointment = victim.appointment

    messages, events = await run(action(), tap(victim.phone, intent, appointment.id, "ca",
                                               **FORGERIES[forgery]), domain)

    assert texts(messages) == [response_text("utter_only_own_whatsapp", "ca")]
    assert events == []
    after = fetch(booking_service, appointment.id)
    assert (after.status, after.confirmed_at, after.cancelled_at) == (BOOKED, None, None)
    assert env.outbox.all() == []


async def test_a_seal_made_with_another_secret_is_refused(env, domain, cast, booking_service):
    victim = cast.reader("es")
    appointment = victim.appointment
    tracker = tap(victim.phone, "cancel_appointment", appointment.id, "es")
    user = tracker.events[-1]
    user["metadata"][channel_seal.METADATA_KEY] = channel_seal.seal(
        "a-guessed-secret-of-some-length", "messagebird", victim.phone, user["message_id"], "button",
        user["text"])

    messages, _ = await run(ActionCancelAppointment(), tracker, domain)

    assert texts(messages) == [response_text("utter_only_own_whatsapp", "es")]
    assert fetch(booking_service, appointment.id).status == BOOKED


async def test_a_seal_of_another_sender_is_refused(env, domain, cast, booking_service):
    """A sealed tap replayed into another citizen's conversation."""
    victim, attacker = cast.reader("en"), cast.take("en")
    tracker = tap(victim.phone, "cancel_appointment", victim.appointment.id, "en")
    user = tracker.events[-1]
    user["metadata"][channel_seal.METADATA_KEY] = channel_seal.seal(
        ACTION_TOKEN, "messagebird", attacker.phone, user["message_id"], "button", user["text"])

    await run(ActionCancelAppointment(), tracker, domain)

    assert fetch(booking_service, victim.appointment.id).status == BOOKED


@pytest.mark.parametrize("channel", WHATSAPP_CHANNELS)
def test_both_whatsapp_channels_seal_what_the_actions_trust(channel):
    """MessageBird and the WhatsApp Cloud API are trusted alike; only
    Recorda's own trigger counts without a seal."""
    sender = "+34612000001"
    assert origin(tap(sender, "cancel_appointment", "A1", "ca", channel=channel), ACTION_TOKEN) == TAP
    assert origin(typed(sender, "greet", "hola", "ca", channel=channel), ACTION_TOKEN) == TEXT
    assert origin(external(sender, "EXTERNAL_appointment_reminder", {}), ACTION_TOKEN) == RECORDA
    unsealed = tap(sender, "cancel_appointment", "A1", "ca", channel=channel, sealed=False)
    assert origin(unsealed, ACTION_TOKEN) == UNVERIFIED


@pytest.mark.parametrize("sealed_by,arrived_on", [("messagebird", "whatsapp_cloud"),
                                                  ("whatsapp_cloud", "messagebird")])
def test_a_seal_is_only_good_on_the_channel_that_made_it(sealed_by, arrived_on):
    sender = "+34612000001"
    tracker = tap(sender, "cancel_appointment", "A1", "ca", channel=arrived_on)
    user = tracker.events[-1]
    user["metadata"][channel_seal.METADATA_KEY] = channel_seal.seal(
        ACTION_TOKEN, sealed_by, sender, user["message_id"], "button", user["text"])
    assert origin(tracker, ACTION_TOKEN) == UNVERIFIED


async def test_a_tap_through_whatsapp_cloud_cancels_like_one_through_messagebird(
        env, domain, cast, booking_service):
    person = cast.take("es")
    appointment = person.appointment
    schedule_reminder(env, person)

    messages, events = await run(ActionCancelAppointment(), tap(
        person.phone, "cancel_appointment", appointment.id, "es", channel="whatsapp_cloud"), domain)

    assert fetch(booking_service, appointment.id).status == CANCELLED
    assert texts(messages) == [response_text("utter_cancelled", "es", when=when(appointment, "es"),
                                             link=booking_link("es"))]
    assert events == [SlotSet("appointment_id", appointment.id), SlotSet("open_question", None)]
    answer = env.reminders.history(appointment.id)[-1]
    assert (answer.event, answer.detail) == (states.CANCELLED, {"channel": "button"})


@pytest.mark.parametrize("forgery", list(FORGERIES))
async def test_appointment_details_are_not_told_outside_the_signed_channel(forgery, env, domain, cast):
    person = cast.reader("es")
    tracker = typed(person.phone, "ask_appointment_details", "cuando es mi cita", "es",
                    **FORGERIES[forgery])

    messages, _ = await run(ActionAppointmentDetails(), tracker, domain)

    assert texts(messages) == [response_text("utter_only_own_whatsapp", "es")]


async def test_the_reminder_is_sent_only_on_recordas_own_trigger(env, domain, cast):
    person = cast.reader("ca")
    tracker = typed(person.phone, "EXTERNAL_appointment_reminder", "EXTERNAL: reminder", "ca",
                    channel=None, sealed=False)
    tracker.latest_message["entities"] = [{"entity": "appointment_id", "value": person.appointment.id}]

    messages, events = await run(ActionSendReminder(), tracker, domain)

    assert (messages, events) == ([], [])


async def test_a_citizen_who_writes_first_is_answered_in_the_language_of_their_booking(env, domain, cast):
    person = cast.reader("es")
    # No reminder yet, and nothing in the message tells the language.
    tracker = make_tracker(person.phone, "ask_appointment_details", "??", None, {"language": None})

    messages, _ = await run(ActionAppointmentDetails(), tracker, domain)

    assert messages[0]["text"].startswith("Su cita:")
