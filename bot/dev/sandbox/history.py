"""Past days for the figures: fills the reminder store with what the daily job
and the citizens would have done on the sandbox's past service days, and makes
the booking sandbox's attendance agree with it.

    python -m bot.dev.sandbox.history --days 20
    python -m bot.dev.sandbox.history --days 20 --if-empty      # what `make run` does
    python -m bot.dev.sandbox.history --days 5 --citizens my-town.yml --seed 3

Runs against the services of the usual settings (RECORDA_DB_URL, and the
booking sandbox at RECORDA_BOOKING_URL), through the ReminderStore API with
the times the events had: each reminder scheduled and sent the afternoon
before its appointment, then failed (with the provider's code), delivered,
read and answered at plausible times, and expired when its reply window
closed. Each appointment's story comes from bot.dev.sandbox.past_reminders and
the citizens' behaviour profile, as the booking seed told it; where the
booking system says otherwise (an answer it recorded, a cancellation before
the reminder), the booking system wins.

Attendance: for every past day but the last (whose attendance staff have
yet to record), whether the citizen came follows the reminder's outcome
(confirmed mostly came, no answer missed more, failed in between); where
the booking sandbox has it otherwise, it is recorded again through
`POST /appointments/{id}/attendance`.

Safe to re-run: appointments whose reminder is in the store already keep
it. Refuses a booking system that is not on this machine, so that it never
writes made-up history next to a real town's.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Dict, List, Optional, Sequence
from urllib.parse import urlparse

import bot.foundation.clock
from bot.booking import ATTENDED, CANCELLED, NO_SHOW, Appointment, BookingError, BookingSystem
from bot.booking.rest import booking_system_from_settings
from bot.dev.sandbox.citizen_behaviour import Profile, ProfileError, load_profile, with_overrides
from bot.dev.sandbox.past_reminders import (
    MADRID,
    OUTCOME_CONFIRMED,
    OUTCOME_FAILED,
    OUTCOME_NO_ANSWER,
    OUTCOME_NO_REMINDER,
    PastReminder,
    answer_deadline,
    plan_past_reminder,
    reminder_sent_at,
    shows_up,
)
from bot.foundation.phone import check_for_whatsapp
from bot.foundation.settings import Settings
from bot.offices.service_days import previous_service_day
from bot.offices.settings import for_office
from bot.reminders import states
from bot.reminders.provider_status import reason_for_error
from bot.reminders.store import ReminderStore
from bot.reminders.variant_choice import choose_variant

log = logging.getLogger(__name__)

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
OPEN_STATES = (states.SENT, states.DELIVERED, states.READ)


class NotASandbox(RuntimeError):
    pass


@dataclass
class HistorySummary:
    days: List[date]
    skipped: bool = False            # --if-empty found history already
    reminders: int = 0               # written now
    kept: int = 0                    # in the store already
    not_reminded: int = 0            # cancelled before the job ran
    outcomes: Counter = field(default_factory=Counter)
    attendance_recorded: int = 0
    seconds: float = 0.0

    def lines(self) -> List[str]:
        if not self.days:
            return ["No past service day."]
        span = f"{self.days[0]} to {self.days[-1]} ({len(self.days)} service days)"
        if self.skipped:
            return [f"Reminder history of {span}: there already, left as it is."]
        outcomes = ", ".join(f"{name} {count}" for name, count in self.outcomes.most_common())
        return [f"Reminder history of {span}: {self.reminders} reminders written"
                + (f" ({outcomes})" if outcomes else "")
                + f"; {self.kept} there already; {self.not_reminded} appointments "
                f"cancelled before their reminder.",
                f"Attendance recorded for {self.attendance_recorded} appointments; "
                f"{self.seconds:.1f} s."]


def past_days(today: date, count: int, holidays=()) -> List[date]:
    """The `count` service days before `today`, oldest first."""
    days, day = [], today
    for _ in range(count):
        day = previous_service_day(day, holidays)
        days.append(day)
    return days[::-1]


def check_sandbox(settings: Settings) -> None:
    host = urlparse(settings.booking_url).hostname
    if host not in LOCAL_HOSTS:
        raise NotASandbox(f"the booking system at {settings.booking_url} is not on this machine: "
                          "made-up history is for the sandbox only (--allow-remote to insist)")


def message_id(appointment_id: str) -> str:
    """A provider message id of the MessageBird kind, the same on every run."""
    return hashlib.md5(f"recorda-history:{appointment_id}".encode()).hexdigest()


def _outcome_of_state(state: str) -> Optional[str]:
    """As bot.reports.compute groups no-shows; None for a cancelled appointment."""
    if state == states.CONFIRMED:
        return OUTCOME_CONFIRMED
    if state == states.FAILED:
        return OUTCOME_FAILED
    if state in (states.SENT, states.DELIVERED, states.READ, states.EXPIRED):
        return OUTCOME_NO_ANSWER
    if state in (states.SCHEDULED, states.SENDING):
        return OUTCOME_NO_REMINDER
    return None


def _booked_answer(appointment: Appointment, sent_at: datetime):
    """(answer, when) the booking system recorded after the reminder went out."""
    if appointment.status == CANCELLED and appointment.cancelled_at is not None:
        return states.CANCELLED, appointment.cancelled_at
    if appointment.confirmed_at is not None and appointment.confirmed_at >= sent_at:
        return states.CONFIRMED, appointment.confirmed_at
    return None, None


def reconcile(story: PastReminder, appointment: Appointment) -> PastReminder:
    """The story, with the booking system's word on whether and when the citizen answered."""
    answer, at = _booked_answer(appointment, story.sent_at)
    if answer is None:
        return story.unanswered() if story.answer else story
    if not story.reached:
        return story  # WhatsApp never got there: they answered by phone
    if story.answer == answer and story.answered_at == at.replace(microsecond=0):
        return story
    return story.answered(answer, at)


class HistoryWriter:
    """Writes stories through the ReminderStore API, with their own times."""

    def __init__(self, store: ReminderStore, profile: Profile, region: str):
        self.store, self.profile, self.region = store, profile, region

    def write_day(self, day: date, appointments: Sequence[Appointment],
                  summary: HistorySummary) -> Dict[str, Optional[str]]:
        """Writes the reminders of a day's appointments; their outcomes by appointment id."""
        known = {r.appointment_id: r for r in self.store.for_day(day)}
        return {a.id: self.write(a, day, summary, known.get(a.id)) for a in appointments}

    def write(self, appointment: Appointment, day: date, summary: HistorySummary,
              existing=None) -> Optional[str]:
        """Writes the reminder of one appointment (unless `existing`, its
        reminder already in the store); returns its outcome for attendance."""
        if existing is not None:
            summary.kept += 1
            return _outcome_of_state(existing.state)
        sent_at = reminder_sent_at(appointment.office_id, appointment.starts_at.astimezone(MADRID))
        if appointment.status == CANCELLED and (appointment.cancelled_at is None
                                                or appointment.cancelled_at < sent_at):
            summary.not_reminded += 1  # the job found it cancelled and sent nothing
            return None
        summary.reminders += 1
        check = check_for_whatsapp(appointment.phone, self.region)
        if not check.usable:
            self.store.record_unsendable(appointment.id, day, appointment.office_id,
                                         check.e164 or appointment.phone or None, appointment.language,
                                         check.problem, at=sent_at)
            summary.outcomes[f"failed:{check.problem}"] += 1
            return OUTCOME_FAILED
        office = for_office(appointment.office_id)
        window = office.reply_window
        story = plan_past_reminder(self.profile, check.e164, appointment.id, sent_at,
                                   answer_deadline(sent_at, window, appointment.starts_at))
        story = reconcile(story, appointment)
        # The office's wording experiment gives each appointment its variant, as the job
        # does; the simulated citizens answer every variant alike (no effect is made up).
        variant = choose_variant(appointment.id, appointment.office_id, office.experiment,
                                 [v for v in office.experiment.variants if v not in office.experiment.retired]
                                 if office.experiment else [])
        reminder = self.store.schedule(appointment.id, day, appointment.office_id, check.e164,
                                       appointment.language, at=sent_at - timedelta(seconds=1),
                                       touch=office.touches[-1].name, variant=variant)
        if reminder.state != states.SCHEDULED:  # there already, without a service day
            summary.reminders -= 1
            summary.kept += 1
            return _outcome_of_state(reminder.state)
        self._record(appointment, story)
        summary.outcomes[story.outcome if story.failed_at is None
                         else f"failed:{reason_for_error(story.error['code'])}"] += 1
        return story.outcome if story.outcome != states.CANCELLED else None

    def _record(self, appointment: Appointment, story: PastReminder) -> None:
        store, aid, mid = self.store, appointment.id, message_id(appointment.id)
        store.claim_for_sending(aid, at=story.sent_at)
        store.mark_sent(aid, mid, at=story.sent_at)
        if story.failed_at is not None:
            code = story.error["code"]
            store.apply_provider_status(mid, "failed", at=story.failed_at, error_code=code,
                                        reason=reason_for_error(code))
        if story.delivered_at is not None:
            store.apply_provider_status(mid, "delivered", at=story.delivered_at)
        if story.read_at is not None:
            store.apply_provider_status(mid, "read", at=story.read_at)
        if story.answer is not None:
            store.record_answer(aid, story.answer, story.channel, at=story.answered_at)


async def _day_appointments(booking: BookingSystem, day: date, offices: List[str]) -> List[Appointment]:
    batches = await asyncio.gather(*(booking.list_appointments(day, office) for office in offices))
    return sorted((a for batch in batches for a in batch), key=lambda a: (a.office_id, a.starts_at, a.id))


async def _record_attendance(booking: BookingSystem, profile: Profile, appointment: Appointment,
                             outcome: Optional[str]) -> int:
    if outcome is None or appointment.status == CANCELLED:
        return 0
    came = shows_up(profile, appointment.id, outcome)
    if appointment.status == (ATTENDED if came else NO_SHOW):
        return 0
    await booking.record_attendance(appointment.id, came)
    return 1


async def fill_history(settings: Settings, days: int = 20, profile: Optional[Profile] = None,
                       today: Optional[date] = None, if_empty: bool = False,
                       allow_remote: bool = False) -> HistorySummary:
    """Fills the store with the last `days` past service days (see the module's doc)."""
    started = time.monotonic()
    if not allow_remote:
        check_sandbox(settings)
    profile = profile or Profile.realistic()
    today = today or bot.foundation.clock.now(settings.timezone).date()
    wanted = past_days(today, days, settings.holidays) if days > 0 else []
    if not wanted:
        return HistorySummary(wanted)
    store = ReminderStore(settings.db_url)
    if if_empty and store.between(wanted[0], wanted[-1]):
        return HistorySummary(wanted, skipped=True)
    summary = HistorySummary(wanted)
    writer = HistoryWriter(store, profile, settings.default_region)
    booking = booking_system_from_settings(settings)
    try:
        offices = list(settings.offices) or [o.id for o in await booking.list_offices()]
        listed = await asyncio.gather(*(_day_appointments(booking, day, offices) for day in wanted))
        outcomes: Dict[str, Optional[str]] = {}
        for day, appointments in zip(wanted, listed):
            outcomes.update(writer.write_day(day, appointments, summary))
            # The day's reply windows close, each at its time (the worker would expire them then).
            for closing in sorted({r.window_closes_at for r in store.for_day(day)
                                   if r.window_closes_at and r.state in OPEN_STATES}):
                store.expire_due(closing)
        # Attendance, but for the last day: staff have yet to record it.
        recorded = await asyncio.gather(*(_record_attendance(booking, profile, a, outcomes.get(a.id))
                                          for appointments in listed[:-1] for a in appointments))
        summary.attendance_recorded = sum(recorded)
    finally:
        await booking.close()
    summary.seconds = time.monotonic() - started
    return summary


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot.dev.sandbox.history", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=20, help="past service days to fill (20)")
    parser.add_argument("--citizens", default="realistic", metavar="PROFILE",
                        help="the citizens' behaviour profile: realistic (default) or a JSON/YAML file")
    parser.add_argument("--seed", type=int, help="seed of the behaviours; default the profile's (7, "
                                                  "as the booking seed)")
    parser.add_argument("--today", type=date.fromisoformat, help="fill the days before this one "
                                                                  "(default: today in the town)")
    parser.add_argument("--if-empty", action="store_true",
                        help="do nothing when the store has reminders of those days already")
    parser.add_argument("--allow-remote", action="store_true",
                        help="also against a booking system that is not on this machine")
    args = parser.parse_args(argv)
    if args.days < 0:
        parser.error("--days must be >= 0")
    try:
        profile = with_overrides(load_profile(args.citizens), args.seed)
    except ProfileError as exc:
        parser.error(f"--citizens: {exc}")
    if not profile.active:
        parser.error("--citizens: the history needs a behaviour profile, not manual")
    args.profile = profile
    return args


def main(argv: Optional[List[str]] = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    try:
        summary = asyncio.run(fill_history(Settings.from_env(), args.days, args.profile, args.today,
                                           args.if_empty, args.allow_remote))
    except NotASandbox as exc:
        print(f"Refused: {exc}", file=sys.stderr)
        return 2
    except BookingError as exc:
        print(f"The booking system could not be read: {exc}", file=sys.stderr)
        return 1
    for line in summary.lines():
        print(line)
    if summary.days:
        print(f"  figures:   python -m bot.apps.reports --from {summary.days[0]} --to {summary.days[-1]}")
        print(f"  whom to call about the last day: "
              f"python -m bot.apps.reminders follow-up --date {summary.days[-1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
