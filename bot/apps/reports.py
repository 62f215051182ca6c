"""Service figures of Recorda for a period of service days.

    python -m bot.apps.reports --from 2026-11-01 --to 2026-11-30
    python -m bot.apps.reports --from 2026-11-01 --to 2026-11-30 --office oac-centre --csv > nov.csv
    python -m bot.apps.reports --from 2026-11-01 --to 2026-11-30 --json --price 0.035 --free-per-month 1000
    python -m bot.apps.reports --from 2026-11-01 --to 2026-11-30 --price-utility 0.0141

Reads the reminder and offer stores (RECORDA_DB_URL) and the booking system
(RECORDA_BOOKING_URL); every figure is defined in bot/reports/figure_types.py.
Messages whose statuses carry the provider's pricing (WhatsApp Cloud API)
cost their category's price when billable (--price-CATEGORY, else
RECORDA_WHATSAPP_CATEGORY_PRICES, else --price) and nothing when not.
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import sys
from datetime import date
from typing import Iterator, List, Optional, Tuple

from rich.console import Console
from rich.table import Table

from bot.apps.report_touch_tables import experiments_table, send_time_table, touches_table
from bot.apps.report_waiting_list_table import waiting_list_table
from bot.booking import BookingError
from bot.booking.rest import booking_system_from_settings
from bot.foundation.settings import Settings
from bot.reminders.provider_status import reason_label
from bot.reminders.store import ReminderStore
from bot.reports.compute import compute_figures
from bot.reports.figure_types import (
    OUTCOME_CONFIRMED,
    OUTCOME_FAILED,
    OUTCOME_NO_ANSWER,
    OUTCOME_NO_REMINDER,
    REFERENCE,
    Figures,
    Period,
    Share,
    share,
)
from bot.reports.load import (
    load_appointments,
    load_freed_slots,
    load_histories,
    load_office_setups,
    offices_to_report,
    service_days,
)
from bot.reports.whatsapp_cost import Pricing

console = Console()
errors = Console(stderr=True)  # keeps --json and --csv output clean

OUTCOME_LABELS = {
    OUTCOME_CONFIRMED: "confirmed",
    OUTCOME_NO_ANSWER: "no answer (sent, delivered, read, expired)",
    OUTCOME_FAILED: "reminder failed",
    OUTCOME_NO_REMINDER: "no reminder",
}
CSV_COLUMNS = ["section", "name", "value", "part", "whole"]
# The categories Meta bills per message; any other is priced through
# RECORDA_WHATSAPP_CATEGORY_PRICES.
PRICED_CATEGORIES = ("utility", "marketing", "authentication")


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot.apps.reports", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="first_day", type=date.fromisoformat, required=True,
                        help="first service day, YYYY-MM-DD")
    parser.add_argument("--to", dest="last_day", type=date.fromisoformat, required=True,
                        help="last service day (included), YYYY-MM-DD")
    parser.add_argument("--office", help="only this office; default: every office")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--csv", action="store_true",
                        help="CSV on standard output: section,name,value,part,whole")
    output.add_argument("--json", action="store_true", help="JSON on standard output")
    parser.add_argument("--price", type=float, default=0.04, help="EUR per conversation (0.04)")
    parser.add_argument("--free-per-month", type=int, default=0, help="free conversations a month (0)")
    for category in PRICED_CATEGORIES:
        parser.add_argument(f"--price-{category}", type=float, metavar="EUR",
                            help=f"EUR per billable {category} message the provider priced "
                                 "(default: RECORDA_WHATSAPP_CATEGORY_PRICES, else --price)")
    args = parser.parse_args(argv)
    if args.last_day < args.first_day:
        parser.error("--to is before --from")
    return args


async def gather_figures(args: argparse.Namespace, settings: Settings) -> Figures:
    histories = load_histories(ReminderStore(settings.db_url), args.first_day, args.last_day, args.office)
    setups = load_office_setups(settings.db_url, {h.reminder.office_id for h in histories})
    freed = load_freed_slots(settings.db_url, args.first_day, args.last_day, settings.timezone, args.office)
    booking = booking_system_from_settings(settings)
    try:
        offices = await offices_to_report(booking, args.office, settings.offices)
        days = service_days(args.first_day, args.last_day, settings.holidays)
        appointments = await load_appointments(booking, days, offices)
    finally:
        await booking.close()
    period = Period(args.first_day, args.last_day, args.office, settings.timezone.key)
    return compute_figures(histories, appointments, period, pricing(args, settings), setups, freed)


def pricing(args: argparse.Namespace, settings: Settings) -> Pricing:
    """--price and --free-per-month; the category prices of the settings
    with those given as --price-CATEGORY instead."""
    prices = dict(settings.whatsapp_category_prices)
    prices.update({c: getattr(args, f"price_{c}") for c in PRICED_CATEGORIES
                   if getattr(args, f"price_{c}") is not None})
    return Pricing(args.price, args.free_per_month, tuple(sorted(prices.items())))


# --- CSV: one row per figure, breakdowns as further rows -----------------------------
def csv_rows(figures: dict) -> Iterator[Tuple]:
    """(section, name, value, part, whole) for every figure of `to_dict()`;
    a share is one row with its part and whole, a list item is named by its
    first field (hour, month)."""
    for section, content in figures.items():
        yield from _flatten(section, "", content)


def _flatten(section: str, name: str, value) -> Iterator[Tuple]:
    if isinstance(value, dict) and set(value) == {"part", "whole", "value"}:
        yield section, name, value["value"], value["part"], value["whole"]
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(section, _join(name, key), item)
    elif isinstance(value, list):
        for item in value:
            key, *rest = item.items()
            yield from _flatten(section, _join(name, str(key[1])), dict(rest))
    else:
        yield section, name, value, "", ""


def _join(name: str, key: str) -> str:
    return f"{name}.{key}" if name else key


def print_csv(figures: Figures) -> None:
    writer = csv.writer(sys.stdout)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_rows(figures.to_dict()))


# --- rich tables -----------------------------------------------------------------
def percent(value: Optional[float]) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def reference_percent(value: float) -> str:
    return f"{value * 100:g} %"  # as reported: 6.07 %, 12.7 %


def share_text(s: Share) -> str:
    return f"{percent(s.value)} ({s.part}/{s.whole})"


def number(value: Optional[float], unit: str) -> str:
    return "–" if value is None else f"{value:.1f} {unit}"


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(columns[0])
    for column in columns[1:]:
        table.add_column(column, justify="right")
    return table


def overview_table(f: Figures) -> Table:
    table = _table("Reach and answers", "figure", "value", "reference")
    table.add_row("appointments in the period", str(f.volume.appointments), "")
    table.add_row("reminders attempted", str(f.volume.reminders_attempted), "")
    table.add_row("reminders sent", str(f.volume.reminders_sent), "")
    table.add_row("delivered (of sent)", share_text(f.delivery.delivery_rate), "")
    table.add_row("read (of sent)", share_text(f.delivery.read_rate), "")
    table.add_row("failed (of attempted)", share_text(f.delivery.failure_rate), "")
    table.add_row("answered (of sent)", share_text(f.answers.answer_rate),
                  f"{reference_percent(REFERENCE['answer_rate_low'])}–"
                  f"{reference_percent(REFERENCE['answer_rate_high'])}")
    table.add_row("confirmed (of appointments)", share_text(f.answers.confirmed_share_of_appointments), "")
    table.add_row("cancelled through Recorda (of appointments)",
                  share_text(f.answers.cancelled_share_of_appointments),
                  reference_percent(REFERENCE["cancelled_share_of_appointments"]))
    table.add_row("answered within 2 h (of answered)", share_text(f.answer_times.within_2h),
                  reference_percent(REFERENCE["answered_within_2h_share"]))
    table.add_row("median time to answer", number(f.answer_times.median_minutes, "min"), "")
    return table


def failures_table(f: Figures) -> Table:
    table = _table("Failures by reason (of attempted)", "reason", "count", "share", "reference")
    reference = REFERENCE["failure_share_by_reason"]
    failures = f.delivery.failures_by_reason
    for reason, s in failures.items():
        table.add_row(reason_label(reason), str(s.part), percent(s.value),
                      reference_percent(reference[reason]) if reason in reference else "")
    # The reference's reasons stay visible for comparison even when absent here.
    for reason in (r for r in reference if r not in failures):
        table.add_row(reason_label(reason), "0", percent(share(0, f.volume.reminders_attempted).value),
                      reference_percent(reference[reason]))
    return table


def channels_table(f: Figures) -> Table:
    table = _table("Answers by channel (first answer)", "channel", "answers", "share")
    for channel, s in f.answers.by_channel.items():
        table.add_row(channel, str(s.part), percent(s.value))
    return table


def answer_times_table(f: Figures) -> Table:
    table = _table("Time from sending to answer", "within", "answers", "share")
    timed = f.answer_times.answers_timed
    for bucket, count in f.answer_times.histogram.items():
        table.add_row(bucket, str(count), percent(count / timed if timed else None))
    return table


def send_hours_table(f: Figures) -> Table:
    table = _table(f"Answers by hour of sending ({f.period.timezone})", "hour", "sent", "answered",
                   "answer rate")
    for hour in f.by_send_hour:
        if hour.sent:
            table.add_row(f"{hour.hour:02d}:00", str(hour.sent), str(hour.answered),
                          percent(hour.answer_rate))
    return table


def no_shows_table(f: Figures) -> Table:
    table = _table("No-shows by reminder outcome (appointments with attendance recorded)",
                   "reminder outcome", "appointments", "no-shows", "no-show rate")
    for outcome, group in f.no_shows.by_outcome.items():
        table.add_row(OUTCOME_LABELS[outcome], str(group.recorded), str(group.no_shows), percent(group.rate))
    overall = f.no_shows.overall
    table.add_row("all", str(overall.recorded), str(overall.no_shows), percent(overall.rate), style="bold")
    table.caption = (f"Reference: {reference_percent(REFERENCE['no_show_rate_before'])} before "
                     f"(SMS reminder only), halved after. "
                     f"Freed slots (cancelled through Recorda, no attendance): "
                     f"{f.freed_slots.cancelled_through_recorda}, median notice "
                     f"{number(f.freed_slots.median_notice_hours, 'h')}.")
    return table


def cost_table(f: Figures) -> Table:
    c = f.conversations
    table = _table("Conversations and cost by month of sending", "month", "conversations", "billable",
                   "cost (EUR)")
    for month in c.by_month:
        table.add_row(month.month, str(month.conversations), str(month.billable), f"{month.cost_eur:.2f}")
    table.add_row("total", str(c.total_conversations), "", f"{c.total_cost_eur:.2f}", style="bold")
    captions = []
    # The price per conversation, unless the provider priced every message itself.
    if not c.by_category or c.total_conversations > sum(k.messages for k in c.by_category):
        captions.append(f"{c.price_per_conversation} EUR per delivered reminder, "
                        f"{c.free_per_month} free a month")
    if c.by_category:
        captions.append("priced by the provider, per billable message: " + ", ".join(
            f"{k.category} {k.price} EUR ({k.billable} of {k.messages} billable)" for k in c.by_category))
    table.caption = "; ".join(captions)
    return table


def print_tables(f: Figures, out: Console = console) -> None:
    office = f.period.office_id or "every office"
    out.print(f"[bold]Recorda figures, service days {f.period.first_day} to {f.period.last_day}, {office}")
    for table in (overview_table(f), failures_table(f), channels_table(f), answer_times_table(f),
                  send_hours_table(f), no_shows_table(f), cost_table(f), touches_table(f),
                  waiting_list_table(f)):
        out.print(table)
    if f.experiments:
        out.print(experiments_table(f))
    if f.send_time_advice:
        out.print(send_time_table(f))


# --- entry point -----------------------------------------------------------------
async def report(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    try:
        figures = await gather_figures(args, settings)
    except BookingError as exc:
        errors.print(f"[red]The booking system could not be read: {exc}")
        return 1
    if args.json:
        print(json.dumps(figures.to_dict(), indent=2, ensure_ascii=False))
    elif args.csv:
        print_csv(figures)
    else:
        print_tables(figures)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return asyncio.run(report(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
