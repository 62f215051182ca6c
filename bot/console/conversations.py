"""Conversations for the staff console, read where they live: Rasa's tracker
store (what the citizen and the assistant said) and the reminder store (what
happened to each reminder). No copies are kept.

    ConversationKeys   an opaque key per conversation, for URLs
    NumberSearch       a number as staff type it, whole or its last digits
    Filters            what staff narrow the list by, parsed from a query
                       (a number search arrives as the keys it found: `who`)
    Conversations      the list (summaries) and one transcript with the
                       delivery timeline of the citizen's reminders

No HTTP here: bot.apps.web.console.conversation_pages turns these into pages.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Tuple
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import and_, case, null, or_, select

from bot.console.domain import DOMAIN_PATH, typed_intents
from bot.console.query_values import DayOutOfRange, MAX_PAGE, page_number, query_day
from bot.console.tracker import FALLBACK_INTENT, TrackerEvent, TrackerEvents, events_table
from bot.foundation.phone import to_e164
from bot.reminders import states
from bot.reminders.store import Reminder, ReminderEvent, ReminderStore, reminders as reminders_table
from bot.messaging.templates import REMINDER_TEMPLATE, find_template, load_templates
from bot.foundation.languages import LANGUAGES

log = logging.getLogger(__name__)

KEY_LENGTH = 20                   # hex characters of a conversation key
PAGE_SIZE = 50
DEFAULT_RANGE_DAYS = 7            # the list opens on the last week, today included
MAX_RANGE_DAYS = 92               # a longer range would read too much at once
MIN_SEARCH_DIGITS = 3
WATCHED_SLOTS = ("language", "flagged_for_staff", "appointment_id")
# The slots a list row shows (its language, the flag); the transcript shows all watched ones.
LISTED_SLOTS = ("language", "flagged_for_staff")
# A number search travels to the list as the keys of the senders it found
# (who=<key>.<key>..., never the number): 21 characters a sender. More than
# this many would make a URL longer than servers and proxies accept (8 KB is
# a common limit, Sanic's own included), and is no search for one citizen:
# staff are asked for more digits.
MAX_SEARCHED_SENDERS = 100
NO_MATCH = "none"                 # who= of a search that found no sender
SKIPPED_ACTIONS = ("action_listen",)   # after every bot turn: noise to a reader
MEDIA_INTENT = "EXTERNAL_media_message"
WORD_JOINER = "\u2060"            # the connector's prefix for typed text starting with "/"
# Reminder history events a reader does not need: "sending" is the moment
# between claiming and the provider's answer.
HIDDEN_REMINDER_EVENTS = (states.SENDING,)
_PAYLOAD = re.compile(r"^/(?P<intent>[A-Za-z0-9_/\-]+)(?P<entities>\{.*\})?$", re.DOTALL)
_KEY = re.compile(r"^[0-9a-f]{%d}$" % KEY_LENGTH)


# ------------------------------------------------------------------ keys

class ConversationKeys:
    """The key that stands for a conversation in console URLs, instead of
    the citizen's number (URLs end up in logs and browser history): the
    first 20 hex characters of HMAC-SHA256(secret, sender).

    The secret is derived from the link secret, so it survives restarts;
    without one (a development set-up) a random one is used and keys change
    when the console restarts.

    Finding the sender of a key means computing the key of every sender in
    the tracker store (TrackerEvents.senders()): an HMAC is a microsecond,
    and a city hall has some thousands of senders within the retention
    period, so this costs milliseconds and needs no table of keys to keep
    in step with Rasa's store. It is done once per request that needs it.
    """

    def __init__(self, link_secret: str):
        if link_secret:
            self._secret = hmac.new(link_secret.encode(), b"recorda console conversation key",
                                    hashlib.sha256).digest()
        else:
            log.warning("No link secret set: conversation links in the console change at each restart")
            self._secret = secrets.token_bytes(32)

    def key(self, sender: str) -> str:
        return hmac.new(self._secret, sender.encode(), hashlib.sha256).hexdigest()[:KEY_LENGTH]

    @staticmethod
    def looks_valid(key: str) -> bool:
        return bool(_KEY.fullmatch(key or ""))   # fullmatch: "$" would let a final newline by

    def find(self, key: str, senders: Iterable[str]) -> Optional[str]:
        if not self.looks_valid(key):
            return None
        for sender in senders:
            if hmac.compare_digest(self.key(sender), key):
                return sender
        return None


# --------------------------------------------------------------- filters

class FilterError(ValueError):
    """A filter staff typed that cannot be used; `code` names the text that explains it."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class NumberSearch:
    """A number as staff type it: in full in any spelling ("612 34 56 78",
    "+34612345678", "0034 612...") or its last digits ("5678")."""
    text: str
    e164: Optional[str]
    digits: str

    @classmethod
    def parse(cls, text: str, region: str) -> "NumberSearch":
        digits = re.sub(r"[^0-9]", "", text)   # ASCII only: senders are E.164
        if len(digits) < MIN_SEARCH_DIGITS:
            raise FilterError("conversations_error_number",
                              f"Type at least {MIN_SEARCH_DIGITS} digits of the number")
        # A whole number in any spelling becomes E.164 (as Rasa's sender ids
        # are); anything shorter is matched as the number's last digits.
        return cls(text.strip(), to_e164(text, region), digits)

    def matches(self, sender: str) -> bool:
        if self.e164 and sender == self.e164:
            return True
        return re.sub(r"[^0-9]", "", sender).endswith(self.digits)


def parse_who(text: str) -> Optional[FrozenSet[str]]:
    """The conversation keys of a number search, as its redirect wrote them
    into the list's URL: None without a search, an empty set when it found
    no sender; FilterError for anything a search cannot have written."""
    if not text:
        return None
    if text == NO_MATCH:
        return frozenset()
    keys = text.split(".", MAX_SEARCHED_SENDERS)   # one more piece than allowed: too many
    if len(keys) > MAX_SEARCHED_SENDERS or not all(ConversationKeys.looks_valid(k) for k in keys):
        raise FilterError("conversations_error_who", "Not a number search's link: search again")
    return frozenset(keys)


def who_value(keys: Iterable[str]) -> str:
    """The who= of these keys (the inverse of parse_who)."""
    return ".".join(sorted(set(keys))) or NO_MATCH


@dataclass(frozen=True)
class Filters:
    first_day: date
    last_day: date
    office: str = ""
    state: str = ""
    intent: str = ""
    language: str = ""
    flagged: bool = False
    low_confidence: bool = False
    who: Optional[FrozenSet[str]] = None   # a number search's conversation keys
    page: int = 1

    @classmethod
    def from_query(cls, query: Mapping[str, str], today: date, region: str,
                   intents: Sequence[str]) -> "Filters":
        """The filters of a list request (query parameters as strings);
        FilterError for anything that cannot be used as typed."""
        def text(name: str) -> str:
            return str(query.get(name) or "").strip()

        last_day = _parse_day(text("to"), today)
        first_day = _parse_day(text("from"), last_day - timedelta(days=DEFAULT_RANGE_DAYS - 1))
        if first_day > last_day:
            raise FilterError("conversations_error_range_order", "The first day is after the last day")
        if (last_day - first_day).days + 1 > MAX_RANGE_DAYS:
            raise FilterError("conversations_error_range_long",
                              f"Choose at most {MAX_RANGE_DAYS} days at once")
        state, intent, language = text("state"), text("intent"), text("language")
        if state and state not in states.ALL_STATES:
            raise FilterError("conversations_error_filter", f"Unknown reminder state {state!r}")
        if intent and intent not in intents:
            raise FilterError("conversations_error_filter", f"Unknown intent {intent!r}")
        if language and language not in LANGUAGES:
            raise FilterError("conversations_error_filter", f"Unknown language {language!r}")
        page = page_number(text("page") or "1")
        if page is None:
            raise FilterError("conversations_error_filter", f"Not a page number 1-{MAX_PAGE}")
        # No number here: it would be in the URL (history, logs). A search
        # POSTs it and comes back with the keys it found.
        who = parse_who(text("who"))
        return cls(first_day, last_day, office=text("office")[:64], state=state, intent=intent,
                   language=language, flagged=_checked(query.get("flagged")),
                   low_confidence=_checked(query.get("low")), who=who, page=page)

    def start(self, tz: ZoneInfo) -> datetime:
        return datetime.combine(self.first_day, time(0), tz)

    def end(self, tz: ZoneInfo) -> datetime:
        """The first moment after the range (midnight after its last day)."""
        return datetime.combine(self.last_day + timedelta(days=1), time(0), tz)


def _parse_day(text: str, default: date) -> date:
    try:
        day = query_day(text)
    except DayOutOfRange:
        raise FilterError("error_date_out_of_range", f"Too far off: {text!r}") from None
    except ValueError:
        raise FilterError("conversations_error_date", f"Not a date (YYYY-MM-DD): {text!r}") from None
    return default if day is None else day


def _checked(value: Any) -> bool:
    return str(value or "").lower() in ("1", "on", "true", "yes")


@functools.lru_cache(maxsize=4)
def domain_intents(domain_path: str = str(DOMAIN_PATH)) -> Tuple[str, ...]:
    """The intents a citizen's message can be predicted as: domain.yml's,
    without Recorda's own EXTERNAL_ ones, plus the NLU fallback."""
    return tuple(typed_intents(Path(domain_path))) + (FALLBACK_INTENT,)


def base_intent(name: Optional[str]) -> Optional[str]:
    """A retrieval intent "faq/ask_documents" counts as "ask_documents"."""
    return name.split("/", 1)[1] if name and "/" in name else name


# -------------------------------------------------------- citizen messages

def _payload(text: str) -> Tuple[Optional[str], Dict[str, Any]]:
    """("confirm_appointment", {"appointment_id": ...}) of a button payload."""
    match = _PAYLOAD.match(text.strip())
    if not match:
        return None, {}
    try:
        entities = json.loads(match.group("entities")) if match.group("entities") else {}
    except ValueError:
        entities = {}
    return match.group("intent"), entities if isinstance(entities, dict) else {}


def is_recorda_trigger(event: TrackerEvent) -> bool:
    """A "user" event that Recorda itself sent through Rasa's trigger_intent
    (the reminder, a booking update), not something the citizen wrote."""
    metadata = event.data.get("metadata") or {}
    return event.type_name == "user" and (
        bool(metadata.get("is_external")) or event.text.startswith("EXTERNAL:")
        or ((event.intent or "").startswith("EXTERNAL_") and not is_media(event)))


def is_media(event: TrackerEvent) -> bool:
    """A photo, voice note, location...: the connector sends it as this payload."""
    return event.type_name == "user" and event.text.startswith("/" + MEDIA_INTENT)


def is_citizen_message(event: TrackerEvent) -> bool:
    """Something the citizen sent: typed text, a button tap, a photo..."""
    return event.type_name == "user" and bool(event.text) and not is_recorda_trigger(event)


def is_low_confidence(event: TrackerEvent, threshold: float) -> bool:
    """A typed message the NLU was unsure of (or that hit the fallback)."""
    if not event.is_typed_message or is_recorda_trigger(event):
        return False
    return event.intent == FALLBACK_INTENT or (event.confidence is not None and event.confidence < threshold)


def message_intent(event: TrackerEvent) -> Optional[str]:
    """What the citizen's message asked for; None for a photo and the like."""
    if is_media(event):
        return None
    if event.is_button_payload:
        return base_intent(_payload(event.text)[0] or event.intent)
    return base_intent(event.intent)


# ------------------------------------------------------------- summaries

@dataclass(frozen=True)
class ConversationSummary:
    sender: str
    key: str
    reminders: Tuple[Reminder, ...]    # of the range, newest first
    language: Optional[str]
    last_at: datetime
    citizen_messages: int
    last_intent: Optional[str]
    flagged: bool
    low_confidence: bool
    intents: frozenset = field(default_factory=frozenset)

    @property
    def office_ids(self) -> Tuple[str, ...]:
        return tuple(dict.fromkeys(r.office_id for r in self.reminders if r.office_id))

    @property
    def states(self) -> Tuple[str, ...]:
        return tuple(r.state for r in self.reminders)


@dataclass(frozen=True)
class Page:
    items: List[ConversationSummary]
    number: int
    pages: int
    total: int


# ------------------------------------------------------------ transcript

@dataclass(frozen=True)
class Button:
    title: str
    payload: str
    intent: Optional[str]


@dataclass(frozen=True)
class Entry:
    """One line of a transcript. `kind` is one of:
    citizen (typed text), tap (a button), media (photo, audio...), trigger
    (Recorda started a turn), bot (an answer), template (the reminder
    template), action, slot."""
    kind: str
    at: datetime
    text: str = ""
    intent: Optional[str] = None
    confidence: Optional[float] = None
    low_confidence: bool = False
    language: Optional[str] = None
    buttons: Tuple[Button, ...] = ()
    template: Optional[str] = None
    parameters: Tuple[str, ...] = ()
    name: Optional[str] = None
    value: Any = None
    details: Tuple[Tuple[str, str], ...] = ()


@dataclass(frozen=True)
class TimelineStep:
    event: str               # a reminder state, or e.g. "sms_sent"
    at: datetime
    applied: bool            # False: recorded, but it did not change the state
    channel: Optional[str] = None
    reason: Optional[str] = None
    error_code: Optional[int] = None
    was_read: Optional[bool] = None    # of an expiry: read but not answered, or never read


@dataclass(frozen=True)
class ReminderTimeline:
    reminder: Reminder
    steps: Tuple[TimelineStep, ...]


@dataclass(frozen=True)
class Transcript:
    sender: str
    key: str
    entries: Tuple[Entry, ...]
    reminders: Tuple[ReminderTimeline, ...]
    language: Optional[str]
    flagged: bool


def timeline(history: Sequence[ReminderEvent], reminder: Optional[Reminder] = None) -> Tuple[TimelineStep, ...]:
    """A reminder's history as a reader wants it: in time order, without the
    internal "sending" step, and without reports that repeat a stage already
    shown (a provider's "sent" after ours). A late report that tells
    something new (read after the answer) stays, marked as not applied."""
    # Which reports to keep is decided in the order they were recorded (a
    # provider's report replayed after our own "sent" is the repeat), then
    # the kept ones are shown in time order.
    seen, kept = set(), []
    for item in history:
        if item.event in HIDDEN_REMINDER_EVENTS or (not item.applied and item.event in seen):
            continue
        seen.add(item.event)
        kept.append(item)
    steps = []
    for item in sorted(kept, key=lambda e: e.at):   # stable: equal times keep recording order
        detail = item.detail or {}
        reason = detail.get("reason")
        if item.event == states.FAILED and not reason and reminder is not None and item.applied:
            reason = reminder.reason
        code = detail.get("code")
        was_read = detail.get("was_read")
        steps.append(TimelineStep(item.event, item.at, item.applied, detail.get("channel"),
                                  reason, code if isinstance(code, int) else None,
                                  was_read if isinstance(was_read, bool) else None))
    return tuple(steps)


# ---------------------------------------------------------- the service

class Conversations:
    def __init__(self, tracker: TrackerEvents, reminders: ReminderStore, keys: ConversationKeys,
                 tz: ZoneInfo, low_confidence: float):
        self.tracker, self.reminders, self.keys = tracker, reminders, keys
        self.engine = reminders.engine
        self.tz, self.low_confidence = tz, low_confidence

    @classmethod
    def from_settings(cls, settings, reminders: Optional[ReminderStore] = None) -> "Conversations":
        return cls(TrackerEvents(settings.tracker_db_url), reminders or ReminderStore(settings.db_url),
                   ConversationKeys(settings.link_secret), settings.timezone,
                   settings.low_confidence)

    # ------------------------------------------------------- the list
    def page(self, filters: Filters) -> Page:
        found = self.summaries(filters)
        pages = max(1, -(-len(found) // PAGE_SIZE))
        start = (filters.page - 1) * PAGE_SIZE
        return Page(found[start:start + PAGE_SIZE], filters.page, pages, len(found))

    def summaries(self, filters: Filters) -> List[ConversationSummary]:
        """Every conversation with something said in the range that passes
        the filters, the most recent first."""
        start, end = filters.start(self.tz), filters.end(self.tz)
        senders = None
        if filters.who is not None:
            # A number search: read only the events of the senders it found.
            senders = self.senders_of(filters.who)
            if not senders:
                return []
        by_sender: Dict[str, List[TrackerEvent]] = {}
        for event in self._listed_events(start, end, senders):
            by_sender.setdefault(event.sender_id, []).append(event)
        reminders = self.reminders_in_range(start, end, filters.first_day, set(by_sender))
        found = []
        for sender, events in by_sender.items():
            summary = self._summary(sender, events, reminders.get(sender, []))
            if summary is not None and self._passes(summary, filters):
                found.append(summary)
        found.sort(key=lambda s: s.last_at, reverse=True)
        return found

    def _listed_events(self, start: datetime, end: datetime,
                       senders: Optional[List[str]] = None) -> List[TrackerEvent]:
        """The events of the range that a summary reads, oldest first: the
        messages, the assistant's answers without their data (only their
        time counts; the reminder template is the largest event of all) and
        the LISTED_SLOTS; no actions. A town's week is some 35,000 events:
        decoding every one's JSON was most of the list's time (measured by
        bench/console_pages.py)."""
        if not self.tracker.available():
            return []
        c = events_table.c
        query = (select(c.id, c.sender_id, c.type_name, c.timestamp, c.intent_name, c.action_name,
                        case((c.type_name == "bot", null()), else_=c.data).label("data"))
                 .where(c.timestamp >= start.timestamp())
                 .where(c.timestamp < end.timestamp())
                 # Rasa's tracker store keeps a slot's name in action_name.
                 .where(or_(c.type_name.in_(("user", "bot")),
                            and_(c.type_name == "slot", c.action_name.in_(LISTED_SLOTS))))
                 .order_by(c.timestamp, c.id))
        if senders is not None:
            query = query.where(c.sender_id.in_(senders))
        with self.tracker.engine.connect() as conn:
            return [TrackerEvent.from_row(row) for row in conn.execute(query)]

    def _summary(self, sender: str, events: List[TrackerEvent],
                 reminders: List[Reminder]) -> Optional[ConversationSummary]:
        said = [e for e in events if e.type_name in ("user", "bot")]
        if not said:
            return None   # only bookkeeping (a session start): nothing to read
        messages = [e for e in events if is_citizen_message(e)]
        slots = _last_slot_values(events)
        language = slots.get("language") or next((r.language for r in reminders if r.language), None)
        intents = frozenset(i for i in (message_intent(e) for e in messages) if i)
        return ConversationSummary(
            sender=sender, key=self.keys.key(sender), reminders=tuple(reminders),
            language=language, last_at=said[-1].at, citizen_messages=len(messages),
            last_intent=message_intent(messages[-1]) if messages else None,
            flagged=slots.get("flagged_for_staff") is True,
            low_confidence=any(is_low_confidence(e, self.low_confidence) for e in messages),
            intents=intents)

    @staticmethod
    def _passes(summary: ConversationSummary, filters: Filters) -> bool:
        return ((not filters.office or filters.office in summary.office_ids)
                and (not filters.state or filters.state in summary.states)
                and (not filters.intent or filters.intent in summary.intents)
                and (not filters.language or summary.language == filters.language)
                and (not filters.flagged or summary.flagged)
                and (not filters.low_confidence or summary.low_confidence))

    def reminders_in_range(self, start: datetime, end: datetime, first_day: date,
                           phones: set) -> Dict[str, List[Reminder]]:
        """The reminders of these phones that were alive during the range,
        newest first: created before its end, and for a service day not
        before its first day (a reminder lives from its scheduling until its
        appointment). One without a service day counts when it was created
        in the range."""
        if not phones:
            return {}
        alive = and_(reminders_table.c.created_at < _utc(end),
                     or_(reminders_table.c.service_date >= first_day,
                         and_(reminders_table.c.service_date.is_(None),
                              reminders_table.c.created_at >= _utc(start))))
        with self.engine.connect() as conn:
            rows = conn.execute(select(reminders_table).where(alive)
                                .order_by(reminders_table.c.created_at.desc(),
                                          reminders_table.c.id.desc())).all()
        found: Dict[str, List[Reminder]] = {}
        for row in rows:
            if row.phone in phones:
                found.setdefault(row.phone, []).append(Reminder.from_row(row))
        return found

    def office_ids_in_range(self, filters: Filters) -> List[str]:
        """The offices that had reminders alive in the range, for the office filter."""
        alive = and_(reminders_table.c.created_at < _utc(filters.end(self.tz)),
                     reminders_table.c.service_date >= filters.first_day,
                     reminders_table.c.office_id.isnot(None))
        with self.engine.connect() as conn:
            rows = conn.execute(select(reminders_table.c.office_id).where(alive).distinct()).all()
        return sorted(row[0] for row in rows)

    # ------------------------------------------------------ number search
    def search(self, number: NumberSearch) -> List[str]:
        """The keys of the conversations whose number matches (for the list's
        URL, which must not carry the number); FilterError when too many
        match for the keys to fit in a URL."""
        senders = [s for s in self.tracker.senders() if number.matches(s)]
        if len(senders) > MAX_SEARCHED_SENDERS:
            raise FilterError("conversations_error_too_many",
                              f"More than {MAX_SEARCHED_SENDERS} numbers match: type more digits")
        return sorted(self.keys.key(s) for s in senders)

    def senders_of(self, keys: FrozenSet[str]) -> List[str]:
        """The senders of these keys: every sender's key is computed once
        (see ConversationKeys) and kept when it is one of them."""
        if not keys:
            return []
        return [s for s in self.tracker.senders() if self.keys.key(s) in keys]

    # ------------------------------------------------------ one conversation
    def find_sender(self, key: str) -> Optional[str]:
        if not self.keys.looks_valid(key):
            return None
        return self.keys.find(key, self.tracker.senders())

    def transcript(self, sender: str) -> Transcript:
        events = self.tracker.for_sender(sender)
        slots = _last_slot_values(events)
        return Transcript(sender=sender, key=self.keys.key(sender), entries=tuple(transcript_entries(
            events, self.low_confidence)), reminders=tuple(self.reminder_timelines(sender)),
            language=slots.get("language"), flagged=slots.get("flagged_for_staff") is True)

    def reminders_of(self, phone: str) -> List[Reminder]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(reminders_table).where(reminders_table.c.phone == phone)
                                .order_by(reminders_table.c.created_at.desc(),
                                          reminders_table.c.id.desc())).all()
        return [Reminder.from_row(row) for row in rows]

    def reminder_timelines(self, phone: str) -> List[ReminderTimeline]:
        return [ReminderTimeline(r, timeline(self.reminders.history(r.appointment_id), r))
                for r in self.reminders_of(phone)]


def _utc(value: datetime) -> datetime:
    """The reminder store keeps UTC times (SQLite stores them without offset)."""
    return value.astimezone(timezone.utc)


def _last_slot_values(events: Iterable[TrackerEvent]) -> Dict[str, Any]:
    values: Dict[str, Any] = {}
    for event in events:
        if event.type_name == "slot" and event.slot_name in WATCHED_SLOTS:
            values[event.slot_name] = event.slot_value
    return values


# ------------------------------------------------------ transcript entries

@functools.lru_cache(maxsize=1)
def _templates() -> dict:
    try:
        return load_templates()
    except (OSError, ValueError, KeyError, yaml.YAMLError) as exc:
        log.warning("Cannot read the WhatsApp templates for button titles: %s", exc)
        return {}


def _template_button_titles(name: str, language: str) -> Tuple[str, ...]:
    """The titles of a template's quick-reply buttons, from whatsapp_templates/.
    The assistant names the reminder template "appointment_reminder"; the
    file names it as approved (REMINDER_TEMPLATE)."""
    for candidate in (name, REMINDER_TEMPLATE if name == "appointment_reminder" else None):
        found = find_template(_templates(), candidate, language or "") if candidate else None
        if found is not None:
            return found.buttons
    return ()


def _buttons(items: Any) -> Tuple[Button, ...]:
    buttons = []
    for item in items or []:
        if isinstance(item, dict) and (item.get("title") or item.get("payload")):
            payload = str(item.get("payload") or "")
            buttons.append(Button(str(item.get("title") or payload), payload,
                                  base_intent(_payload(payload)[0])))
    return tuple(buttons)


def transcript_entries(events: Iterable[TrackerEvent], low_confidence: float) -> List[Entry]:
    """The events of one conversation as a person reads them."""
    entries: List[Entry] = []
    titles: Dict[str, str] = {}          # payload -> title of the button the assistant sent
    # A conversation starts unflagged (the slot's initial value has no event).
    shown_slots: Dict[str, Any] = {"flagged_for_staff": False}
    for event in events:
        if event.type_name == "user":
            entry = _user_entry(event, titles, low_confidence)
        elif event.type_name == "bot":
            entry = _bot_entry(event)
            for button in entry.buttons:
                titles[button.payload] = button.title
        elif event.type_name == "action":
            name = event.action_name or event.data.get("name")
            entry = Entry("action", event.at, name=name) if name and name not in SKIPPED_ACTIONS else None
        elif event.type_name == "slot" and event.slot_name in WATCHED_SLOTS:
            # Only changes: the reminder sets the same language twice.
            if event.slot_name in shown_slots and shown_slots[event.slot_name] == event.slot_value:
                continue
            shown_slots[event.slot_name] = event.slot_value
            entry = Entry("slot", event.at, name=event.slot_name, value=event.slot_value)
        else:
            entry = None
        if entry is not None:
            entries.append(entry)
    return entries


def _user_entry(event: TrackerEvent, titles: Dict[str, str], low_confidence: float) -> Optional[Entry]:
    if not event.text:
        return None
    language = next((str(e.get("value")) for e in event.entities
                     if e.get("entity") == "language" and e.get("value")), None)
    if is_recorda_trigger(event):
        details = tuple((str(e.get("entity")), str(e.get("value"))) for e in event.entities
                        if e.get("entity") and e.get("value") is not None)
        return Entry("trigger", event.at, intent=event.intent, details=details)
    if event.is_button_payload:
        intent, entities = _payload(event.text)
        if is_media(event):
            return Entry("media", event.at, value=str(entities.get("media_type") or "other"))
        title = (event.data.get("metadata") or {}).get("title") or titles.get(event.text.strip())
        details = tuple((str(k), str(v)) for k, v in entities.items())
        return Entry("tap", event.at, text=str(title or ""), intent=base_intent(intent or event.intent),
                     details=details)
    return Entry("citizen", event.at, text=event.text.lstrip(WORD_JOINER), intent=base_intent(event.intent),
                 confidence=event.confidence, low_confidence=is_low_confidence(event, low_confidence),
                 language=language)


def _bot_entry(event: TrackerEvent) -> Entry:
    data = event.bot_data
    custom = data.get("custom") if isinstance(data.get("custom"), dict) else {}
    template = custom.get("whatsapp_template") if isinstance(custom.get("whatsapp_template"), dict) else None
    if template is not None:
        name, language = str(template.get("template") or ""), str(template.get("language") or "")
        titles = _template_button_titles(name, language)
        payloads = [str(p) for p in template.get("quick_replies") or []]
        buttons = tuple(Button(titles[i] if i < len(titles) else p, p, base_intent(_payload(p)[0]))
                        for i, p in enumerate(payloads))
        return Entry("template", event.at, text=event.bot_text or str(custom.get("text") or ""),
                     template=name, parameters=tuple(str(p) for p in template.get("parameters") or []),
                     buttons=buttons, language=language or None,
                     details=(("appointment_id", str(template["appointment_id"])),)
                     if template.get("appointment_id") else ())
    buttons = _buttons(data.get("buttons")) + _buttons(data.get("quick_replies"))
    text = event.bot_text or str(custom.get("text") or "")
    return Entry("bot", event.at, text=text, buttons=buttons)
