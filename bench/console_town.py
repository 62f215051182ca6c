"""The console benchmark's town, written in bulk (not through HTTP) into a
directory, by a child process (bench/console_pages.py):

* Recorda's database (the reminder store's tables): past service days of
  reminders over the sandbox's three offices (half, 30 % and 20 % of them),
  each with the history the real system records (scheduled, sending, sent,
  then failed / delivered / read / confirmed / cancelled / expired, at their
  times). Each reminder's story comes from the sandbox's realistic citizen
  profile (bot.dev.sandbox.past_reminders), so the shares are the reference
  town's. A few landlines fail before sending; a few appointments are
  cancelled before their reminder; some citizens have several appointments.
* Rasa's tracker store: what each conversation recorded
  (bench/console_town_conversations.py).
* The sandbox booking service's database: the same appointments, with the
  statuses their stories give (confirmed, cancelled, attended, no-show).
* A few NLU reviews an editor has saved.
"""
from __future__ import annotations

import contextlib
import json
import random
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Dict, List, Tuple

import bot.foundation.clock
from bench.console_town_conversations import TRACKER_SCHEMA, Conversations
from bench.console_town_texts import FIRST_NAMES, LAST_NAMES

REVIEWER = "bench-editor"                # the console user of bench/console_pages.py
OFFICE_SHARES = (0.5, 0.3, 0.2)          # of each day's appointments, by office of booking_seed.OFFICES
LANGUAGE_SHARES = (("ca", 0.55), ("es", 0.35), ("en", 0.10))
REPEAT_CITIZEN = 0.08                    # an appointment of someone who had one before
LANDLINE = 0.01                          # no reminder possible: failed as not_mobile
CANCELLED_BEFORE_JOB = 0.02              # in the booking system, never reminded


@dataclass
class Totals:
    appointments: int = 0
    reminders: int = 0
    reminder_events: int = 0
    tracker_events: int = 0
    states: Dict[str, int] = field(default_factory=dict)


def _naive_utc(moment: datetime) -> datetime:
    """The booking sandbox stores event times as naive UTC."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


class TownWriter:
    """Writes the town's days into the three databases, a day at a time."""

    def __init__(self, workdir: Path, today: date, seed: int):
        from sqlalchemy import delete

        from bot.console.nlu_review_table import SCHEMA as REVIEWS_SCHEMA
        from bot.dev.sandbox import booking_seed
        from bot.dev.sandbox.citizen_behaviour import Profile
        from bot.foundation.db import engine_with_tables, get_engine
        from bot.messaging.templates import REMINDER_TEMPLATE, find_template, load_templates
        from bot.reminders.records import SCHEMA as REMINDERS_SCHEMA

        self.workdir, self.today = workdir, today
        self.rng = random.Random(seed)
        random.seed(seed)   # message ids
        self.profile = Profile.realistic(seed=seed)
        self.now = bot.foundation.clock.now()
        # The tables the console reads that the writer fills; the console's
        # own stores create the others.
        self.recorda = engine_with_tables(f"sqlite:///{workdir / 'recorda.db'}", REMINDERS_SCHEMA, REVIEWS_SCHEMA)
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
        self.phones: List[str] = []
        self.next_phone = 0
        self.next_reminder_id = 1
        self.conversations = Conversations(self.rng, self.templates, self.procedures, booking_seed.MADRID)
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
        from bot.dev.sandbox import booking_seed
        from bot.dev.sandbox.past_reminders import (
            MADRID,
            OUTCOME_FAILED,
            answer_deadline,
            plan_past_reminder,
            reminder_sent_at,
            shows_up,
        )
        from bot.offices.settings import for_office
        from bot.reminders import states
        from bot.reminders.records import reminder_events, reminders

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
                self.conversations.write(e164, aid, language, row["citizen_name"], office, row, starts_at, story,
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

    # ---- NLU reviews an editor has saved
    def write_reviews(self, count: int) -> int:
        from bot.console.nlu_review_table import reviews_table
        from bot.console.nlu_review_texts import text_key, tidy
        unsure = self.conversations.low_confidence_texts
        count = min(count, len(unsure) // 5)   # most are still to review
        chosen, rows = set(), []
        for text, intent, confidence, language in self.rng.sample(unsure, min(count * 2, len(unsure))):
            key = text_key(text)
            if key in chosen or len(rows) >= count:
                continue
            chosen.add(key)
            ignored = self.rng.random() < 0.15
            label = intent if intent != "nlu_fallback" else self.rng.choice(("out_of_scope", "ask_documents"))
            rows.append(dict(text_key=key, text="" if ignored else tidy(text), intent=None if ignored else label,
                             ignored=ignored, reviewer=REVIEWER, reviewed_at=self.now - timedelta(days=1),
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
    totals, counts = writer.totals, writer.conversations.counts
    return {"service_days": len(wanted), "first_day": wanted[0].isoformat(), "last_day": wanted[-1].isoformat(),
            "appointments": totals.appointments, "reminders": totals.reminders,
            "reminder_events": totals.reminder_events, "reminder_states": dict(sorted(totals.states.items())),
            "tracker_events": totals.tracker_events, "senders": senders,
            "typed_messages": counts["typed_messages"],
            "low_confidence_messages": counts["low_confidence_messages"],
            "fallback_messages": counts["fallback_messages"], "flagged_conversations": counts["flagged"],
            "nlu_reviews": reviewed,
            "db_mb": {name: round((Path(workdir) / f"{name}.db").stat().st_size / 2 ** 20, 1)
                      for name in ("recorda", "tracker", "booking")},
            "generate_seconds": round(time.perf_counter() - started, 1)}
