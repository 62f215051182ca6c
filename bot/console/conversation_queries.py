"""Conversations for the staff console, read where they live: Rasa's tracker
store (what the citizen and the assistant said) and the reminder store (what
happened to each reminder). No copies are kept.

    Conversations   the list (summaries, a page of them), the number
                    search, and one transcript with the delivery timeline
                    of the citizen's reminders

The filters are bot.console.conversation_filters, a transcript's entries
bot.console.transcript; no HTTP here: bot.apps.web.console.conversation_pages
turns these into pages.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Dict, FrozenSet, List, Optional, Tuple
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, null, or_, select

from bot.console.citizen_messages import is_citizen_message, is_low_confidence, message_intent
from bot.console.conversation_filters import MAX_SEARCHED_SENDERS, FilterError, Filters, NumberSearch
from bot.console.conversation_keys import ConversationKeys
from bot.console.tracker import TrackerEvent, TrackerEvents, events_table
from bot.console.transcript import ReminderTimeline, Transcript, last_slot_values, timeline, transcript_entries
from bot.reminders.records import Reminder
from bot.reminders.records import reminders as reminders_table
from bot.reminders.store import ReminderStore

PAGE_SIZE = 50
# The slots a list row shows (its language, the flag); the transcript shows all watched ones.
LISTED_SLOTS = ("language", "flagged_for_staff")


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
        engine = self.tracker.engine_if_available()
        if engine is None:
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
        with engine.connect() as conn:
            return [TrackerEvent.from_row(row) for row in conn.execute(query)]

    def _summary(self, sender: str, events: List[TrackerEvent],
                 reminders: List[Reminder]) -> Optional[ConversationSummary]:
        said = [e for e in events if e.type_name in ("user", "bot")]
        if not said:
            return None   # only bookkeeping (a session start): nothing to read
        messages = [e for e in events if is_citizen_message(e)]
        slots = last_slot_values(events)
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
        slots = last_slot_values(events)
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
