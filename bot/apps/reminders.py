"""Command line of the reminders.

    python -m bot.apps.reminders send --tomorrow            # every touch due today, now
    python -m bot.apps.reminders send --due                 # the same, each office from its send_at (hourly timer)
    python -m bot.apps.reminders send --date 2026-12-01 --office oac-centre --dry-run
    python -m bot.apps.reminders send --date 2026-12-03 --touch early
    python -m bot.apps.reminders follow-up --tomorrow       # whom to call
    python -m bot.apps.reminders follow-up --date 2026-12-01 --csv > call-list.csv
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import logging
import sys
from datetime import date
from typing import Iterator, List, Optional

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

import bot.foundation.clock
from bot.apps.operations import start_process
from bot.booking import BookingError
from bot.booking.rest import booking_system_from_settings
from bot.foundation.languages import format_when
from bot.foundation.phone import mask, to_e164
from bot.foundation.settings import Settings
from bot.offices.service_days import next_service_day
from bot.reminders.follow_up import CATEGORY_LABELS, FollowUpItem, follow_up_list
from bot.reminders.job import JobSummary, run_job, run_touches
from bot.reminders.provider_status import reason_label
from bot.reminders.store import ReminderStore

console = Console()


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot.apps.reminders", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    send = sub.add_parser("send", help="send the reminders (each office's touches, offices.yml)")
    when = send.add_mutually_exclusive_group()
    when.add_argument("--tomorrow", action="store_true",
                      help="every touch due today, now (default): the day-before one is for the next "
                           "service day, on a Friday that is Monday")
    when.add_argument("--due", action="store_true",
                      help="like --tomorrow, but each office only once its send_at hour has come "
                           "(run it every hour)")
    when.add_argument("--date", type=date.fromisoformat, help="a service day, YYYY-MM-DD")
    send.add_argument("--touch", help="with --date: the touch to send (default: each office's last)")
    send.add_argument("--office", action="append", dest="offices",
                      help="only this office (repeatable); default: every office")
    send.add_argument("--dry-run", action="store_true", help="print what would be sent, send nothing")
    send.add_argument("--rate", type=float, default=80.0, help="reminders per second at most (80)")
    send.add_argument("--concurrency", type=int, default=16, help="reminders in flight at once (16)")
    send.add_argument("--no-progress", action="store_true", help="no progress bar")

    follow = sub.add_parser("follow-up", help="appointments whose reminder failed or got no answer")
    day = follow.add_mutually_exclusive_group()
    day.add_argument("--tomorrow", action="store_true", help="the next service day (default)")
    day.add_argument("--date", type=date.fromisoformat, help="a service day, YYYY-MM-DD")
    follow.add_argument("--office", action="append", dest="offices", help="only this office (repeatable)")
    follow.add_argument("--open", action="store_true", dest="include_open",
                        help="also reminders still awaiting an answer (for calls the afternoon before)")
    follow.add_argument("--csv", action="store_true", help="CSV on standard output")
    follow.add_argument("--show-numbers", action="store_true",
                        help="full phone numbers (masked by default)")
    return parser.parse_args(argv)


def _progress_factory(progress: Progress):
    def start(total: int):
        task = progress.add_task("Sending reminders", total=total)
        return lambda: progress.advance(task)
    return start


def _title(summary: JobSummary) -> str:
    touch = f" ({summary.touch})" if summary.touch else ""
    return f"{summary.service_day}{touch}"


def print_plan(summary: JobSummary, settings: Settings) -> None:
    table = Table(title=f"Would send {len(summary.planned)} reminders for {_title(summary)}")
    for column in ("appointment", "office", "when", "language", "phone"):
        table.add_column(column)
    for item in summary.planned:
        a = item.appointment
        table.add_row(a.id, a.office_id, format_when(a.starts_at, a.language, settings.timezone),
                      a.language, mask(item.phone))
    console.print(table)


def print_summary(summary: JobSummary) -> None:
    table = Table(title=f"Reminders for {_title(summary)}")
    table.add_column("outcome")
    table.add_column("count", justify="right")
    table.add_row("sent", str(summary.sent))
    table.add_row("skipped: already sent earlier", str(summary.already_done))
    if summary.answered_earlier:
        table.add_row("skipped: answered an earlier reminder", str(summary.answered_earlier))
    table.add_row("skipped: appointment no longer active", str(summary.not_active))
    if summary.quiet_hours:
        table.add_row(f"held: quiet hours of {', '.join(summary.held_offices)} (run again later)",
                      str(summary.quiet_hours), style="yellow")
    interrupted = summary.interrupted
    if interrupted.total:
        # Not counted in the total: they are appointments of any day, settled before this run.
        table.add_row("earlier interrupted sends: recorded as sent", str(len(interrupted.recorded_as_sent)))
        table.add_row("earlier interrupted sends: sent again", str(len(interrupted.released)))
        table.add_row("earlier interrupted sends: to check by hand", str(len(interrupted.ambiguous)),
                      style="red" if interrupted.ambiguous else None)
    for reason, count in sorted(summary.failed.items()):
        table.add_row(f"failed: {reason}", str(count))
    table.add_row("total appointments", str(summary.total), style="bold")
    console.print(table)


async def send(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    now = bot.foundation.clock.now(settings.timezone)
    if args.touch and not args.date:
        console.print("[red]--touch goes with --date: which service day is it for?")
        return 2
    if not args.dry_run and not settings.rasa_token:
        console.print("[red]No Rasa API token: set RECORDA_RASA_TOKEN (make run writes var/rasa-token).")
        return 2
    offices = args.offices or settings.offices or None
    options = dict(dry_run=args.dry_run, rate=args.rate, concurrency=args.concurrency, now=now)
    booking = booking_system_from_settings(settings)
    try:
        with _progress(args) as progress:
            if progress is not None:
                options["progress"] = _progress_factory(progress)
            if args.date:
                summaries = [await run_job(settings, booking, args.date, offices, touch=args.touch, **options)]
            else:
                summaries = await run_touches(settings, booking, now.date(), offices,
                                              only_due_offices=args.due, **options)
    except BookingError as exc:
        console.print(f"[red]The booking system could not be read: {exc}")
        return 1
    finally:
        await booking.close()
    if not summaries:
        console.print("No office has reached its sending hour (send_at in offices.yml) yet.")
    for summary in summaries:
        if args.dry_run:
            print_plan(summary, settings)
        print_summary(summary)
    return 0


@contextlib.contextmanager
def _progress(args: argparse.Namespace) -> Iterator[Optional[Progress]]:
    if args.no_progress or args.dry_run:
        yield None
        return
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=console) as progress:
        yield progress


def _follow_up_rows(items: List[FollowUpItem], settings: Settings, show_numbers: bool) -> List[List[str]]:
    rows = []
    for item in items:
        a = item.appointment
        phone = to_e164(a.phone, settings.default_region) or a.phone
        reason = reason_label(item.reason, item.reminder.error_code) if item.reason else ""
        rows.append([a.office_id, a.starts_at.astimezone(settings.timezone).strftime("%Y-%m-%d %H:%M"),
                     a.citizen_name, phone if show_numbers else mask(phone), a.language,
                     CATEGORY_LABELS[item.category], reason, a.id])
    return rows


FOLLOW_UP_COLUMNS = ["office", "time", "citizen", "phone", "language", "situation", "reason", "appointment"]


async def follow_up(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    day = args.date or next_service_day(bot.foundation.clock.now(settings.timezone).date(), settings.holidays)
    booking = booking_system_from_settings(settings)
    try:
        items = await follow_up_list(ReminderStore(settings.db_url), booking, day,
                                     args.offices or settings.offices or None, args.include_open)
    except BookingError as exc:
        console.print(f"[red]The booking system could not be read: {exc}")
        return 1
    finally:
        await booking.close()
    rows = _follow_up_rows(items, settings, args.show_numbers)
    if args.csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(FOLLOW_UP_COLUMNS)
        writer.writerows(rows)
        return 0
    # The screen has less room than a CSV: the day is in the title, and the
    # situation and its reason share a column.
    table = Table(title=f"Follow-up for {day}: {len(rows)} appointment(s) to call")
    for column in ("office", "time", "citizen", "phone", "why", "appointment"):
        table.add_column(column, no_wrap=column in ("time", "phone", "appointment"))
    for office, when, citizen, phone, _language, situation, reason, appointment in rows:
        why = f"{situation}: {reason}" if reason else situation
        table.add_row(office, when[-5:], citizen, phone, why, appointment)
    console.print(table)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    # Logs on standard error (RECORDA_LOG_FORMAT=json: as JSON); the tables stay on standard output.
    start_process("reminders", level=logging.WARNING, text_format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    if args.command == "send":
        return asyncio.run(send(args))
    if args.command == "follow-up":
        return asyncio.run(follow_up(args))
    return 2


if __name__ == "__main__":
    sys.exit(main())
