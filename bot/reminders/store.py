"""The reminder store: one row per appointment reminder with its current
state, and an append-only history of every event that reached it.

Used by several processes at once (the daily job, the Rasa connector, the
action server), so every change is a short transaction and the moves that
must happen once (claiming a reminder for sending) are atomic updates.
"""
from __future__ import annotations

import json
import logging
from datetime import date, datetime
from typing import Any, Dict, List, Optional, Sequence, Tuple

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from bot.foundation import metrics
from bot.foundation.clock import stored_utc as _aware
from bot.foundation.clock import utc_now as _now
from bot.foundation.db import engine_with_tables
from bot.offices.settings import for_office
from bot.reminders import statements, states
from bot.reminders.records import (
    REMINDER_COLUMNS,
    REMINDER_FIELDS,
    SCHEMA,
    Reminder,
    ReminderEvent,
    as_utc,
    decoded_detail,
    earlier_messages,
    in_period,
    reminder_events,
    reminder_of_values,
    reminders,
    unmatched_statuses,
)

log = logging.getLogger(__name__)

# States a later touch re-arms: the earlier send went out unanswered, or
# never went out (held by quiet hours, the assistant unavailable).
REARMABLE = (states.SCHEDULED, states.SENT, states.DELIVERED, states.READ, states.EXPIRED)


class ReminderStore:
    def __init__(self, db_url: str):
        self.engine = engine_with_tables(db_url, SCHEMA)

    # --- reading ----------------------------------------------------------
    def get(self, appointment_id: str) -> Optional[Reminder]:
        with self.engine.connect() as conn:
            row = conn.execute(statements.BY_APPOINTMENT, {"b_appointment": appointment_id}).first()
        return Reminder.from_row(row) if row else None

    def for_day(self, service_date: date) -> List[Reminder]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(reminders).where(
                reminders.c.service_date == service_date).order_by(reminders.c.id)).all()
        return [Reminder.from_row(r) for r in rows]

    def history(self, appointment_id: str) -> List[ReminderEvent]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(reminder_events).join(reminders, reminders.c.id == reminder_events.c.reminder_id)
                .where(reminders.c.appointment_id == appointment_id)
                .order_by(reminder_events.c.id)).all()
        return [ReminderEvent.from_row(r) for r in rows]

    def between(self, first_day: date, last_day: date,
                office_id: Optional[str] = None) -> List[Reminder]:
        """The reminders of the service days first_day..last_day (both
        included), of one office or of every office. Reminders created
        without a service day (triggered outside the job) are not included."""
        query = (select(*REMINDER_COLUMNS).where(in_period(first_day, last_day, office_id))
                 .order_by(reminders.c.id))
        with self.engine.connect() as conn:
            # Row by row, not .all(): a month is 18,000 rows, no need to hold
            # them all at once.
            return [reminder_of_values(row) for row in conn.execute(query)]

    def answered_between(self, first_day: date, last_day: date, answer: str) -> List[str]:
        """The appointment ids of the service days first_day..last_day whose
        reminder ended in `answer` (the freed slots are the cancelled ones)."""
        with self.engine.connect() as conn:
            return list(conn.execute(select(reminders.c.appointment_id).where(
                in_period(first_day, last_day, None) & (reminders.c.state == answer))
                .order_by(reminders.c.id)).scalars())

    def histories_between(self, first_day: date, last_day: date, office_id: Optional[str] = None,
                          events: Optional[Sequence[str]] = None,
                          details: Optional[Sequence[str]] = None,
                          details_mentioning: Optional[Dict[str, str]] = None) -> Dict[int, List[ReminderEvent]]:
        """The history of every reminder that `between` selects, by reminder
        id, in the order recorded: one query instead of one per reminder.
        `events`: only those kinds of event (what a reader needs).
        `details`: only those kinds of event carry their detail, the others
        have detail None. A month of a large town is ~60,000 events, and
        decoding every detail's JSON was a quarter of reading them, for
        figures that read the detail of answers and failures only.
        `details_mentioning`: kinds whose detail is decoded only when its
        JSON text contains that word (the delivered statuses carry a price
        only from some providers)."""
        e = reminder_events.c
        # The columns a ReminderEvent needs, unpacked by position below:
        # much cheaper than Row attribute access at this many rows.
        query = (select(e.reminder_id, e.event, e.applied, e.at, e.source, e.detail)
                 .join(reminders, reminders.c.id == e.reminder_id)
                 .where(in_period(first_day, last_day, office_id)))
        if events is not None:
            query = query.where(e.event.in_(list(events)))
        wanted = None if details is None else frozenset(details)
        mentioning = details_mentioning or {}
        histories: Dict[int, List[ReminderEvent]] = {}
        with self.engine.connect() as conn:
            # Row by row, as between() does.
            for reminder_id, kind, applied, at, source, detail in conn.execute(query.order_by(e.id)):
                decoded = None
                if (wanted is None or kind in wanted) and (kind not in mentioning
                                                           or (detail and mentioning[kind] in detail)):
                    decoded = decoded_detail(detail)
                event = ReminderEvent(kind, applied, _aware(at), source, decoded)
                histories.setdefault(reminder_id, []).append(event)
        return histories

    # --- creating -----------------------------------------------------------
    def schedule(self, appointment_id: str, service_date: Optional[date], office_id: Optional[str],
                 phone: Optional[str], language: Optional[str],
                 at: Optional[datetime] = None, touch: Optional[str] = None,
                 variant: Optional[str] = None) -> Reminder:
        """The reminder of an appointment, created in `scheduled` for `touch`
        if new. Re-running the job finds the existing one and leaves it alone.
        `at` (default now) is when it happened, for a history recorded later."""
        return self._create(appointment_id, service_date, office_id, phone, language,
                            states.SCHEDULED, None, "job", at, touch=touch, variant=variant)

    def record_unsendable(self, appointment_id: str, service_date: Optional[date],
                          office_id: Optional[str], phone: Optional[str],
                          language: Optional[str], reason: str,
                          at: Optional[datetime] = None) -> Reminder:
        """A reminder that cannot be sent (no usable mobile number): failed."""
        return self._create(appointment_id, service_date, office_id, phone, language,
                            states.FAILED, reason, "job", at)

    def _create(self, appointment_id, service_date, office_id, phone, language, state, reason,
                source, at: Optional[datetime] = None, touch: Optional[str] = None,
                variant: Optional[str] = None) -> Reminder:
        now = as_utc(at) if at is not None else _now()
        detail = {key: value for key, value in (("reason", reason), ("touch", touch), ("variant", variant))
                  if value}
        try:
            with self.engine.begin() as conn:
                result = conn.execute(insert(reminders).values(
                    appointment_id=appointment_id, service_date=service_date, office_id=office_id,
                    phone=phone, language=language, state=state, reason=reason, was_read=False,
                    created_at=now, updated_at=now, touch=touch, variant=variant))
                self._add_event(conn, result.inserted_primary_key[0], state, True, now, source,
                                detail or None)
            if state == states.FAILED:
                metrics.count_reminder_failed(reason)
        except IntegrityError:
            pass  # it exists already: keep it as it is
        reminder = self.get(appointment_id)
        assert reminder is not None  # written above, or there already; never deleted meanwhile
        return reminder

    # --- moving -------------------------------------------------------------
    def claim_for_sending(self, appointment_id: str, phone: Optional[str] = None,
                          language: Optional[str] = None, at: Optional[datetime] = None) -> bool:
        """Moves scheduled -> sending atomically; True for the one caller that
        may send. A reminder triggered without the job is created here."""
        # The job scheduled it (the usual case): one transaction. Otherwise
        # create it (a no-op if it exists) and try once more.
        if self._claim(appointment_id, at):
            return True
        self._create(appointment_id, None, None, phone, language, states.SCHEDULED, None, "assistant", at)
        return self._claim(appointment_id, at)

    def _claim(self, appointment_id: str, at: Optional[datetime] = None) -> bool:
        now = as_utc(at) if at is not None else _now()
        with self.engine.begin() as conn:
            result = conn.execute(statements.MOVE_FROM_STATE, {
                "b_appointment": appointment_id, "b_state": states.SCHEDULED,
                "state": states.SENDING, "updated_at": now})
            if result.rowcount != 1:
                return False
            rid, touch = conn.execute(statements.ID_AND_TOUCH, {"b_appointment": appointment_id}).one()
            self._add_event(conn, rid, states.SENDING, True, now, "connector",
                            {"touch": touch} if touch else None)
        return True

    def rearm_for_touch(self, appointment_id: str, touch: str, earlier_touches: Sequence[str],
                        at: Optional[datetime] = None, variant: Optional[str] = None) -> bool:
        """Makes an unanswered reminder of one of `earlier_touches` ready for
        `touch` (scheduled again); True if it moved. Only a reminder whose
        earlier send went out (or was never sent) moves: an answered, failed
        or in-flight one stays. The earlier message's id is kept, so its late
        statuses still find the reminder."""
        now = as_utc(at) if at is not None else _now()
        with self.engine.begin() as conn:
            row = self._locked_row(conn, appointment_id)
            if row is None or row.touch not in earlier_touches or row.state not in REARMABLE:
                return False
            result = conn.execute(update(reminders).where(
                (reminders.c.id == row.id) & (reminders.c.state == row.state)
                & (reminders.c.touch == row.touch)).values(
                    state=states.SCHEDULED, touch=touch, provider_message_id=None, sent_at=None,
                    window_closes_at=None, was_read=False, updated_at=now,
                    variant=variant if variant is not None else row.variant))
            if result.rowcount != 1:
                return False
            if row.provider_message_id:
                conn.execute(insert(earlier_messages).values(
                    message_id=row.provider_message_id, reminder_id=row.id, touch=row.touch))
            self._add_event(conn, row.id, states.SCHEDULED, True, now, "job",
                            {"touch": touch, "after": row.touch, "was": row.state,
                             **({"variant": variant} if variant and variant != row.variant else {})})
        return True

    def mark_sent(self, appointment_id: str, provider_message_id: str,
                  at: Optional[datetime] = None) -> bool:
        """Records the provider's id of the reminder sent; True if it moved."""
        # One transaction: this runs for every reminder, inside Rasa's process.
        at = as_utc(at or _now())
        with self.engine.begin() as conn:
            row = self._locked_row(conn, appointment_id)
            if row is None:
                return False
            window = for_office(row.office_id).touch(row.touch).reply_window
            detail = {"message_id": provider_message_id, **({"touch": row.touch} if row.touch else {})}
            moved, _ = self._apply(conn, row, states.SENT, at, "connector", detail,
                                   extra={"provider_message_id": provider_message_id, "sent_at": at,
                                          "window_closes_at": at + window})
            early = conn.execute(statements.ANY_UNMATCHED, {"b_message": provider_message_id}).first()
        if early is not None:
            self._replay_unmatched(provider_message_id)
        return moved

    def expire_due(self, now: Optional[datetime] = None) -> List[Reminder]:
        """Closes the reply window of unanswered reminders whose time is up.
        Driven by the stored closing time, so it survives restarts."""
        now = as_utc(now or _now())
        with self.engine.connect() as conn:
            due = conn.execute(select(reminders.c.appointment_id, reminders.c.was_read).where(
                reminders.c.state.in_((states.SENT, states.DELIVERED, states.READ))
                & (reminders.c.window_closes_at <= now))).all()
        expired = []
        for appointment_id, was_read in due:
            reminder = self.transition(appointment_id, states.EXPIRED, now, "window",
                                       {"was_read": bool(was_read)})
            if reminder is not None and reminder.state == states.EXPIRED:
                expired.append(reminder)
        return expired

    def _replay_unmatched(self, message_id: str) -> Optional[Reminder]:
        with self.engine.begin() as conn:
            rows = conn.execute(select(unmatched_statuses).where(
                unmatched_statuses.c.message_id == message_id).order_by(unmatched_statuses.c.id)).all()
            conn.execute(delete(unmatched_statuses).where(unmatched_statuses.c.message_id == message_id))
        reminder = None
        for row in rows:
            reminder = self.apply_provider_status(message_id, row.status, _aware(row.at),
                                                  row.error_code, row.reason)
        return reminder

    def mark_failed(self, appointment_id: str, reason: str, error_code: Optional[int] = None,
                    source: str = "connector", detail: Optional[dict] = None) -> Optional[Reminder]:
        return self.transition(appointment_id, states.FAILED, _now(), source,
                               {"reason": reason, "code": error_code, **(detail or {})},
                               reason=reason, error_code=error_code)

    def record_answer(self, appointment_id: str, answer: str, channel: str,
                      at: Optional[datetime] = None) -> Optional[Reminder]:
        """The citizen confirmed or cancelled (by button, text or SMS link)."""
        assert answer in states.ANSWERS
        return self.transition(appointment_id, answer, at or _now(), "citizen", {"channel": channel})

    def record_event(self, appointment_id: str, event: str, source: str,
                     detail: Optional[dict] = None, at: Optional[datetime] = None) -> bool:
        """Something that happened to a reminder without changing its state
        (e.g. "sms_sent" by the SMS fallback): kept in its history with
        applied=False, as every event that moved no state. False when there
        is no reminder for that appointment."""
        if event in states.ALL_STATES:
            raise ValueError(f"{event!r} is a state: use transition()")
        with self.engine.begin() as conn:
            rid = conn.execute(select(reminders.c.id).where(
                reminders.c.appointment_id == appointment_id)).scalar()
            if rid is None:
                return False
            self._add_event(conn, rid, event[:24], False, as_utc(at or _now()), source, detail)
        return True

    def apply_provider_status(self, provider_message_id: str, status: str,
                              at: Optional[datetime] = None, error_code: Optional[int] = None,
                              reason: Optional[str] = None,
                              pricing: Optional[dict] = None,
                              recipient: Optional[str] = None) -> Optional[Reminder]:
        """A delivery status from the provider; None when no reminder has that
        message. `pricing` (what the provider says the message costs) is kept
        in the event's detail for the cost figures; `recipient` (E.164) with
        a status no reminder matches yet."""
        # One transaction, whatever the message turns out to be: three
        # statuses come for every message the assistant sends.
        with self.engine.begin() as conn:
            row, after = self._provider_status(conn, provider_message_id, status, at, error_code, reason,
                                               pricing, recipient)
        if row is None:
            return None
        return after if after is not None else self.get(row.appointment_id)

    def record_provider_status(self, conn: Connection, provider_message_id: str, status: str,
                               at: Optional[datetime] = None, error_code: Optional[int] = None,
                               reason: Optional[str] = None, pricing: Optional[dict] = None,
                               recipient: Optional[str] = None) -> None:
        """apply_provider_status within the caller's transaction on this
        store's database (the status receiver's, with the webhook's receipt)."""
        self._provider_status(conn, provider_message_id, status, at, error_code, reason, pricing, recipient)

    def _provider_status(self, conn: Connection, provider_message_id: str, status: str,
                         at: Optional[datetime], error_code: Optional[int], reason: Optional[str],
                         pricing: Optional[dict], recipient: Optional[str]) -> Tuple[Any, Optional[Reminder]]:
        """The reminder's row (None when no reminder has that message) and
        the reminder as it now is (None: read it again)."""
        from bot.reminders.provider_status import state_for_status
        at = as_utc(at or _now())
        row = conn.execute(statements.LOCKED_BY_MESSAGE, {"b_message": provider_message_id}).first()
        if row is None:
            earlier = conn.execute(statements.EARLIER_MESSAGE, {"b_message": provider_message_id}).first()
            if earlier is not None:
                # An earlier touch's message: kept in the history, applied to
                # nothing (the reminder has moved on).
                self._add_event(conn, earlier.reminder_id, f"earlier:{status}"[:24], False, at, "provider",
                                {"status": status, "code": error_code, "touch": earlier.touch,
                                 "message_id": provider_message_id})
            else:
                conn.execute(statements.ADD_UNMATCHED, {
                    "message_id": provider_message_id, "status": status, "error_code": error_code,
                    "reason": reason, "at": at, "recipient": recipient})
            return None, None
        target = state_for_status(status)
        detail: Dict[str, Any] = {"status": status, "code": error_code}
        if pricing:
            detail["pricing"] = pricing
        if target is None:
            log.info("Unknown provider status %r for message %s; recorded, not applied",
                     status, provider_message_id)
            self._add_event(conn, row.id, f"status:{status}"[:24], False, at, "provider", detail)
            return row, Reminder.from_row(row)
        failed = target == states.FAILED
        _, after = self._apply(conn, row, target, at, "provider", detail,
                               reason if failed else None, error_code if failed else None)
        return row, after

    def transition(self, appointment_id: str, target: str, at: datetime, source: str,
                   detail: Optional[dict] = None, reason: Optional[str] = None,
                   error_code: Optional[int] = None) -> Optional[Reminder]:
        """Applies `target` if the state machine allows it; always records the event."""
        at = as_utc(at)
        with self.engine.begin() as conn:
            row = self._locked_row(conn, appointment_id)
            if row is None:
                return None
            _, after = self._apply(conn, row, target, at, source, detail, reason, error_code)
        return after if after is not None else self.get(appointment_id)

    @staticmethod
    def _locked_row(conn, appointment_id: str):
        return conn.execute(statements.LOCKED_BY_APPOINTMENT, {"b_appointment": appointment_id}).first()

    def _apply(self, conn, row, target: str, at: datetime, source: str, detail: Optional[dict],
               reason: Optional[str] = None, error_code: Optional[int] = None,
               extra: Optional[dict] = None) -> Tuple[bool, Optional[Reminder]]:
        """Within a transaction: applies `target` to `row` if allowed, with
        `extra` column values either way, and records the event. Returns
        whether `target` was applied, and the reminder as it now is (None
        when another writer changed it first: read it again)."""
        new_state = states.next_state(row.state, target)
        values = dict(extra or {})
        if new_state is not None:
            values.update(state=new_state, updated_at=_now())
            if new_state == states.FAILED:
                values.update(reason=reason, error_code=error_code)
            if new_state == states.READ:
                values["was_read"] = True
        changed = True
        if values:
            # Guard on the state we read, so two writers cannot both move it.
            result = conn.execute(statements.UPDATE_IF_STATE, {"b_id": row.id, "b_state": row.state, **values})
            if result.rowcount != 1:
                new_state, changed = None, False
        self._add_event(conn, row.id, target, new_state is not None, at, source, detail)
        if new_state == states.SENT:
            metrics.count_reminder_sent()
        elif new_state == states.FAILED:
            metrics.count_reminder_failed(reason)
        if not changed:
            return False, None
        current = {**row._mapping, **values}
        return new_state is not None, reminder_of_values(current[name] for name in REMINDER_FIELDS)

    @staticmethod
    def _add_event(conn, reminder_id: int, event: str, applied: bool, at: datetime, source: str,
                   detail: Optional[dict]) -> None:
        conn.execute(statements.ADD_EVENT, {
            "reminder_id": reminder_id, "event": event, "applied": applied, "at": at, "source": source,
            "detail": json.dumps(detail, default=str) if detail else None})
