"""The day view's data: for one service day and one office, every appointment
of the booking system joined with its reminder and the answer the citizen
gave, the day's summary figures and the follow-up list (whom to call).

No HTTP here: bot.apps.web.console.day_pages renders it as a page and as CSV.

When the booking system is down, what the reminder store knows is still
given (appointment ids, numbers, reminder states, answers) with
`booking_down` set, so the page can say that names and times are missing.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from bot.booking import Appointment, AppointmentNotFound, BookingError, BookingSystem
from bot.foundation.aio import in_thread
from bot.foundation.phone import to_e164
from bot.reminders import follow_up, states
from bot.reminders.records import Reminder, ReminderEvent
from bot.reminders.store import ReminderStore

log = logging.getLogger(__name__)


# --- one appointment -----------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    """The citizen's answer that stands, how it came and when (UTC)."""
    outcome: str   # states.CONFIRMED or states.CANCELLED
    channel: str   # button, text, sms, queued (bot.reports.figure_types.ANSWER_CHANNELS) or as recorded
    at: datetime


def standing_answer(events: Iterable[ReminderEvent]) -> Optional[Answer]:
    """The last applied answer: a citizen may confirm and then cancel, and
    the state machine only applies answers in the order they stand."""
    answers = [e for e in events if e.event in states.ANSWERS and e.applied]
    if not answers:
        return None
    last = answers[-1]
    return Answer(last.event, str((last.detail or {}).get("channel") or "unknown"), last.at)


def was_sent(events: Iterable[ReminderEvent]) -> bool:
    """Sent as bot.reports.compute counts it: an applied `sent` event."""
    return any(e.event == states.SENT and e.applied for e in events)


def failure_reason(reminder: Optional[Reminder], events: Sequence[ReminderEvent]) -> Optional[str]:
    """Why a failed reminder failed: the row's reason, else the one its
    failure event recorded (failures found by the job carry it there)."""
    if reminder is None or reminder.state != states.FAILED:
        return None
    if reminder.reason:
        return reminder.reason
    for event in reversed(events):
        if event.event == states.FAILED and event.applied:
            reason = (event.detail or {}).get("reason")
            if reason:
                return str(reason)
    return None


def number_of(reminder: Optional[Reminder], appointment: Optional[Appointment],
              region: str) -> Optional[str]:
    """The number to call: the one the reminder went to (E.164), else the
    booking system's in E.164, else as the clerk typed it (a person can
    often still dial what a parser refuses)."""
    if reminder is not None and reminder.phone:
        return reminder.phone
    if appointment is None or not appointment.phone:
        return None
    return to_e164(appointment.phone, region) or appointment.phone.strip() or None


@dataclass(frozen=True)
class DayRow:
    appointment_id: str
    appointment: Optional[Appointment]  # None: the booking system did not tell (down, or moved away)
    procedure: str                      # its name in the reader's language, else its id
    phone: Optional[str]
    reminder: Optional[Reminder]        # None: no reminder for this appointment
    sent: bool
    answer: Optional[Answer]
    failure_reason: Optional[str]

    @property
    def starts_at(self) -> Optional[datetime]:
        return self.appointment.starts_at if self.appointment else None

    @property
    def citizen_name(self) -> str:
        return self.appointment.citizen_name if self.appointment else ""

    @property
    def booking_status(self) -> Optional[str]:
        return self.appointment.status if self.appointment else None

    @property
    def reminder_state(self) -> Optional[str]:
        return self.reminder.state if self.reminder else None

    @property
    def reference(self) -> str:
        """What a reveal of this row's number is logged under."""
        return appointment_reference(self.appointment_id)


def appointment_reference(appointment_id: str) -> str:
    return f"appointment:{appointment_id}"


# --- the day ---------------------------------------------------------------------
@dataclass(frozen=True)
class DaySummary:
    appointments: int
    reminders_sent: int
    confirmed: int
    cancelled: int
    no_answer: int   # sent, not failed, no answer (yet)
    failed: int


def summarize(rows: Sequence[DayRow]) -> DaySummary:
    def outcome(row: DayRow) -> Optional[str]:
        return row.answer.outcome if row.answer else None
    return DaySummary(
        appointments=len(rows),
        reminders_sent=sum(1 for r in rows if r.sent),
        confirmed=sum(1 for r in rows if outcome(r) == states.CONFIRMED),
        cancelled=sum(1 for r in rows if outcome(r) == states.CANCELLED),
        no_answer=sum(1 for r in rows if r.sent and r.answer is None and r.reminder_state != states.FAILED),
        failed=sum(1 for r in rows if r.reminder_state == states.FAILED),
    )


@dataclass(frozen=True)
class FollowUpEntry:
    """An appointment staff should call about, and why."""
    row: DayRow
    category: str   # one of bot.reminders.follow_up's categories

    @property
    def reason(self) -> Optional[str]:
        return self.row.failure_reason if self.category == follow_up.FAILED else None

    @property
    def error_code(self) -> Optional[int]:
        return self.row.reminder.error_code if self.row.reminder and self.category == follow_up.FAILED else None


def follow_up_entries(rows: Sequence[DayRow], appointments: Sequence[Appointment],
                      booking_down: bool) -> List[FollowUpEntry]:
    """bot.reminders.follow_up's list (open reminders included: the afternoon
    before, staff call those too), on the rows already loaded. Without the
    booking system, every reminder that needs a call, as the store knows it."""
    by_id = {row.appointment_id: row for row in rows}
    if not booking_down:
        reminders = {r.appointment_id: r.reminder for r in rows if r.reminder is not None}
        return [FollowUpEntry(by_id[item.appointment.id], item.category)
                for item in follow_up.build(appointments, reminders, include_open=True)]
    entries = []
    for row in rows:
        category = follow_up.category_of(row.reminder, include_open=True) if row.reminder else None
        if category:
            entries.append(FollowUpEntry(row, category))
    return entries


@dataclass(frozen=True)
class DayView:
    day: date
    office_id: str
    rows: List[DayRow]
    summary: DaySummary
    follow_up: List[FollowUpEntry]
    booking_down: bool


def build_rows(appointments: Sequence[Appointment], reminders: Sequence[Reminder],
               histories: Dict[int, List[ReminderEvent]], procedures: Dict[str, str],
               region: str) -> List[DayRow]:
    """One row per appointment, in time order, then the reminders of the day
    whose appointment the booking system did not list (moved to another
    day or office, or the booking system is down), by appointment id."""
    by_appointment = {r.appointment_id: r for r in reminders}

    def row(appointment_id: str, appointment: Optional[Appointment]) -> DayRow:
        reminder = by_appointment.get(appointment_id)
        events = histories.get(reminder.id, []) if reminder else []
        procedure = procedures.get(appointment.procedure_id, appointment.procedure_id) if appointment else ""
        return DayRow(appointment_id, appointment, procedure, number_of(reminder, appointment, region),
                      reminder, was_sent(events), standing_answer(events), failure_reason(reminder, events))

    listed = {a.id for a in appointments}
    rows = [row(a.id, a) for a in sorted(appointments, key=lambda a: (a.starts_at, a.id))]
    rows += [row(r.appointment_id, None) for r in sorted(reminders, key=lambda r: r.appointment_id)
             if r.appointment_id not in listed]
    return rows


async def procedure_names(booking: BookingSystem, procedure_ids: Iterable[str],
                          language: str) -> Dict[str, str]:
    """Each procedure's name in `language`, asked once per page; an unknown
    procedure keeps its id. Raises BookingError when the system is down."""
    ids = sorted(set(procedure_ids))

    async def name(procedure_id: str) -> str:
        try:
            return (await booking.get_procedure(procedure_id)).name(language)
        except AppointmentNotFound:
            return procedure_id
    return dict(zip(ids, await asyncio.gather(*(name(pid) for pid in ids))))


async def load_day(store: ReminderStore, booking: BookingSystem, day: date, office_id: str,
                   language: str, region: str, booking_down: bool = False) -> DayView:
    """The day of one office. `booking_down`: the caller already found the
    booking system down, so it is not asked again (each try waits)."""
    appointments: List[Appointment] = []
    procedures: Dict[str, str] = {}
    if not booking_down:
        try:
            appointments = await booking.list_appointments(day, office_id)
            procedures = await procedure_names(booking, (a.procedure_id for a in appointments), language)
        except AppointmentNotFound:
            # A configured office the booking system does not know: it is up, with nothing to tell.
            log.warning("Day view: the booking system knows no office %r", office_id)
        except BookingError as exc:
            log.warning("Day view of %s %s without the booking system: %s", day, office_id, exc)
            appointments, booking_down = [], True
    reminders = await in_thread(store.between, day, day, office_id)
    histories = await in_thread(store.histories_between, day, day, office_id)
    rows = build_rows(appointments, reminders, histories, procedures, region)
    return DayView(day, office_id, rows, summarize(rows), follow_up_entries(rows, appointments, booking_down),
                   booking_down)


# --- offices ---------------------------------------------------------------------
@dataclass(frozen=True)
class OfficeChoice:
    id: str
    name: str


async def office_choices(store: ReminderStore, booking: BookingSystem, configured: Sequence[str],
                         day: date) -> Tuple[List[OfficeChoice], bool]:
    """The offices to choose from, and whether the booking system is down.
    The deployment's offices (settings.offices) in their order, else every
    office of the booking system; their names from the booking system. When
    it is down: the configured ids, else the offices the day's reminders name."""
    try:
        offices = await booking.list_offices()
    except BookingError as exc:
        log.warning("Day view: offices unknown, the booking system is down: %s", exc)
        ids = list(configured) or sorted({r.office_id for r in await in_thread(store.for_day, day)
                                          if r.office_id})
        return [OfficeChoice(office_id, office_id) for office_id in ids], True
    names = {o.id: o.name for o in offices}
    if configured:
        return [OfficeChoice(office_id, names.get(office_id, office_id)) for office_id in configured], False
    return [OfficeChoice(o.id, o.name) for o in offices], False


# --- revealing a number ----------------------------------------------------------
async def appointment_number(store: ReminderStore, booking: BookingSystem, appointment_id: str,
                             region: str) -> Optional[str]:
    """The number of an appointment for a reveal, the same as its row shows
    (number_of): the reminder's, else the booking system's in E.164. None
    when neither knows one."""
    reminder = await in_thread(store.get, appointment_id)
    if reminder is not None and reminder.phone:
        return reminder.phone
    try:
        appointment = await booking.get_appointment(appointment_id)
    except BookingError as exc:
        log.info("No number for appointment %s: %s", appointment_id, exc)
        return None
    return number_of(None, appointment, region)
