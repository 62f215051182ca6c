"""The figures page: the service figures of the reports command
(bot.reports) for a range of service days and one office or all, each as a
chart with its table and a CSV download.

    GET /console/figures?from=YYYY-MM-DD&to=YYYY-MM-DD&office=ID
    GET /console/figures/<chart>.csv?from=&to=&office=

Default: the last 30 days up to today, every office of the deployment. The
reminder store gives most figures; cancellations and no-shows also need the
booking system's appointments, and when it is down the page shows what the
store gives with an alert. The waiting list's figures come from the
offer store (bot/offers). console-figures.js draws the charts with the
vendored Chart.js (no CDN) from each canvas's data-chart attribute; the
tables carry the same numbers for readers without JavaScript.
"""
from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlencode

from babel.numbers import format_currency, format_percent
from sanic import Blueprint

import bot.foundation.clock
from bot.apps.web.console.rendering import PREFIX, Formats, csv_response, render
from bot.apps.web.console.services import ConsoleServices
from bot.apps.web.console.texts import Translator
from bot.booking import BookingError
from bot.console.figure_table_types import (
    COUNT,
    EUR,
    INTERVAL,
    NUMBER,
    PERCENT,
    REFERENCE,
    WORD,
    FigureTable,
    Headline,
    Interval,
    Note,
    Reference,
    Row,
    csv_value,
)
from bot.console.figure_tables import TABLES, figure_tables, headlines
from bot.console.query_values import DayOutOfRange, query_day
from bot.foundation.errors import CodedError
from bot.reminders.store import ReminderStore
from bot.reports.compute import figures_from_facts, reminder_facts
from bot.reports.figure_types import Figures, Period
from bot.reports.load import (
    collector_paused,
    load_appointments,
    load_freed_slots,
    load_histories,
    load_office_setups,
    offices_to_report,
    service_days,
)
from bot.reports.office_setup import OfficeSetup
from bot.reports.reminder_history import ReminderFacts
from bot.reports.whatsapp_cost import Pricing

log = logging.getLogger(__name__)

DEFAULT_DAYS = 30
MAX_DAYS = 366   # a leap year, both ends included
# An office id goes into the CSV's file name: nothing that could break a header.
OFFICE_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


# --- the query ---------------------------------------------------------------------
@dataclass(frozen=True)
class FiguresQuery:
    first_day: date
    last_day: date
    office_id: Optional[str]

    def params(self) -> Dict[str, str]:
        params = {"from": self.first_day.isoformat(), "to": self.last_day.isoformat()}
        if self.office_id:
            params["office"] = self.office_id
        return params


class BadQuery(CodedError):
    """A query the page cannot answer: `code` is the text that says why."""


def _day(args: Mapping, name: str) -> Optional[date]:
    text = (args.get(name) or "").strip()
    try:
        return query_day(text)
    except DayOutOfRange:
        raise BadQuery("error_date_out_of_range") from None
    except ValueError:
        raise BadQuery("figures_error_date", value=text[:40]) from None


def parse_query(args: Mapping, today: date, office_ids: Optional[List[str]]) -> FiguresQuery:
    """The range and office asked for; a missing end is filled in from the
    other or from today. `office_ids`: the offices one may ask for, None
    when they cannot be listed."""
    first, last = _day(args, "from"), _day(args, "to")
    last = last or (today if first is None or first <= today else first)
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise BadQuery("figures_error_order")
    if (last - first).days + 1 > MAX_DAYS:
        raise BadQuery("figures_error_too_long", days=MAX_DAYS)
    office = (args.get("office") or "").strip() or None
    if office and (not OFFICE_ID.fullmatch(office) or (office_ids is not None and office not in office_ids)):
        raise BadQuery("figures_error_office", office=office[:64])
    return FiguresQuery(first, last, office)


# --- reading and computing ------------------------------------------------------------
async def office_choices(services: ConsoleServices) -> Tuple[Optional[List[Tuple[str, str]]], bool]:
    """(id, name) of the offices this deployment serves, and whether the
    booking system answered. Without it the configured ids are all there is
    (None: nothing to check an office against)."""
    configured = list(services.settings.offices)
    try:
        offices = await services.booking.list_offices()
    except BookingError as exc:
        log.warning("Figures: the booking system cannot list offices: %s", exc)
        return ([(office, office) for office in configured] or None), False
    if configured:
        offices = [o for o in offices if o.id in configured]
    return [(o.id, o.name) for o in offices], True


FIGURES_KEPT_SECONDS = 120.0


async def gather_figures(services: ConsoleServices, query: FiguresQuery,
                         office_ids: Optional[List[str]], booking_up: bool) -> Tuple[Figures, bool]:
    """The period's figures and whether the booking system's appointments
    are missing from them (down: the reminder store's figures only). The
    same figures serve the page and its CSVs: they are kept for
    FIGURES_KEPT_SECONDS (bench/console_pages: ~0.8-1 s to compute a month
    of a large town)."""
    # (first day, last day, office, offices, booking up) -> (when, figures, booking down)
    computed = services.kept.setdefault("figures", {})
    key = (query.first_day, query.last_day, query.office_id, tuple(office_ids or ()), booking_up)
    kept = computed.get(key)
    if kept is not None and time.monotonic() - kept[0] < FIGURES_KEPT_SECONDS:
        return kept[1], kept[2]
    settings = services.settings

    async def appointments_of_period() -> Tuple[list, bool]:
        if not booking_up:
            return [], True
        try:
            offices = await offices_to_report(services.booking, query.office_id, office_ids or ())
            days = service_days(query.first_day, query.last_day, settings.holidays)
            return await load_appointments(services.booking, days, offices), False
        except BookingError as exc:
            log.warning("Figures: appointments unreadable, store figures only: %s", exc)
            return [], True
    period = Period(query.first_day, query.last_day, query.office_id, settings.timezone.key)
    pricing = Pricing.from_settings(settings)
    # The stores are read, and their part of the figures computed, while the
    # booking system answers.
    (facts, setups), freed, (appointments, booking_down) = await asyncio.gather(
        services.run(_reminder_facts, services.reminders, settings.db_url, query, period),
        services.run(load_freed_slots, settings.db_url, query.first_day, query.last_day, settings.timezone,
                     query.office_id),
        appointments_of_period())
    figures = await services.run(figures_from_facts, facts, appointments, period, pricing, setups, freed)
    if len(computed) >= 32:
        computed.pop(next(iter(computed)))
    computed[key] = (time.monotonic(), figures, booking_down)
    return figures, booking_down


def _reminder_facts(store: ReminderStore, db_url: str, query: FiguresQuery,
                    period: Period) -> Tuple[List[ReminderFacts], Dict[str, OfficeSetup]]:
    """The store's part, in a thread, with the setup of the reminders'
    offices (`db_url` has the variants retired from the console). The cycle
    collector stays paused while the histories are read and turned into
    facts, and they are freed before it resumes, so it never scans them (see
    collector_paused); it is not paused while the booking system is awaited,
    however long that takes."""
    with collector_paused():
        histories = load_histories(store, query.first_day, query.last_day, query.office_id)
        facts = reminder_facts(histories, period)
        del histories
    return facts, load_office_setups(db_url, {f.reminder.office_id for f in facts})


# --- words and numbers for the reader ------------------------------------------------
class Presenter:
    """Turns the language-free tables into what the reader sees: labels in
    their language, numbers in their locale, chart data for the script."""

    def __init__(self, t: Translator, fmt: Formats):
        self.t, self.fmt = t, fmt
        self.locale_tag = str(t.locale).replace("_", "-")

    def value(self, kind: str, value) -> str:
        if value is None:
            return "–"
        if kind == PERCENT:
            return self.fmt.percent(value)
        if kind == REFERENCE:
            return self.reference(value)
        if kind == INTERVAL:
            return self.interval(value)
        if kind == WORD:
            return self.t(f"figures_word_{value}")
        if kind == EUR:
            return format_currency(value, "EUR", locale=self.t.locale)
        if kind == NUMBER:
            return self.fmt.number(value, "#,##0.#")
        if kind == COUNT:
            return self.fmt.number(value, "#,##0")
        return str(value)

    def reference(self, ref: Reference) -> str:
        # As reported: 6.07 %, 12.7 %, 60 %.
        low = format_percent(ref.low, "#,##0.## %", locale=self.t.locale)
        return low if ref.high is None else f"{low} – {format_percent(ref.high, '#,##0.## %', locale=self.t.locale)}"

    def interval(self, interval: Interval) -> str:
        # Each bound on one line: a narrow column breaks only at the dash.
        low, high = (self.fmt.percent(bound).replace(" ", "\u00a0") for bound in (interval.low, interval.high))
        return f"{low} – {high}"

    def row_label(self, row: Row) -> str:
        if row.text_key and self.t.has(row.text_key):
            return self.t(row.text_key)
        return row.label or row.key

    def column_titles(self, table: FigureTable) -> List[str]:
        return [self.t(f"figures_col_{column.key}") for column in table.columns]

    def note(self, note: Note) -> str:
        return self.t(note.key, **{name: self.value(kind, value) for name, (kind, value) in note.values.items()})

    def chart(self, table: FigureTable) -> dict:
        """What console-figures.js draws: plain JSON, numbers unformatted
        (percentages as percent), in the reader's locale."""
        rows = table.chart_rows
        datasets = []
        for index, column in enumerate(table.columns):
            if column.key in table.plotted:
                datasets.append({"label": self.t(f"figures_col_{column.key}"), "unit": _UNITS.get(column.kind, ""),
                                 "reference": column.kind == REFERENCE,
                                 "data": [_chart_number(column.kind, row.values[index]) for row in rows]})
        return {"type": table.chart, "locale": self.locale_tag, "labels": [self.row_label(r) for r in rows],
                "datasets": datasets}

    def section(self, table: FigureTable, query: FiguresQuery, booking_down: bool) -> dict:
        key = table.name.replace("-", "_")
        unavailable = table.needs_booking and booking_down
        return {
            "name": table.name,
            "title": self.t(f"figures_{key}_title"),
            "help": self.t(f"figures_{key}_help"),
            "row_heading": self.t(table.row_heading),
            "columns": self.column_titles(table),
            "rows": [{"label": self.row_label(row), "total": row.total,
                      "cells": [self.value(c.kind, v) for c, v in zip(table.columns, row.values)]}
                     for row in table.rows],
            "notes": [self.note(note) for note in table.notes],
            "chart": self.chart(table) if table.has_data() and not unavailable else None,
            "unavailable": unavailable,
            "csv_url": f"{PREFIX}/figures/{table.name}.csv?{urlencode(query.params())}",
        }

    def headline(self, h: Headline) -> dict:
        if h.part is None:
            detail = self.t("figures_head_attempted", count=self.value(COUNT, h.whole))
        elif h.whole:
            detail = self.t("figures_head_of", part=self.value(COUNT, h.part), whole=self.value(COUNT, h.whole))
        else:
            detail = ""
        reference = self.t("figures_head_reference", value=self.reference(h.reference)) if h.reference else ""
        return {"label": self.t(f"figures_head_{h.key}"), "value": self.value(h.kind, h.value),
                "detail": detail, "reference": reference}

    def csv_rows(self, table: FigureTable) -> List[list]:
        return [[row.key, self.row_label(row), *(csv_value(c.kind, v) for c, v in zip(table.columns, row.values))]
                for row in table.rows]


_UNITS = {PERCENT: "%", REFERENCE: "%", EUR: "€"}


def _chart_number(kind: str, value):
    if value is None:
        return None
    if kind == PERCENT:
        return round(value * 100, 2)
    if kind == REFERENCE:
        return round(value.low * 100, 2)
    return value


def _today(services: ConsoleServices) -> date:
    return bot.foundation.clock.now(services.settings.timezone).date()


def _form(args: Mapping) -> Dict[str, str]:
    """What the reader typed, to show it again in the filter form."""
    return {name: (args.get(name) or "").strip()[:64] for name in ("from", "to", "office")}


# --- routes ------------------------------------------------------------------------
def register(bp: Blueprint, services: ConsoleServices) -> None:
    @bp.get("/figures")
    async def figures_page(request):
        t = request.ctx.t
        offices, booking_up = await office_choices(services)
        office_ids = [office_id for office_id, _ in offices] if offices is not None else None
        try:
            query = parse_query(request.args, _today(services), office_ids)
        except BadQuery as bad:
            return render(request, "figures.html", status=400, error=t(bad.code, **bad.values),
                          form=_form(request.args), offices=offices or [], view=None, booking_down=False)
        figures, booking_down = await gather_figures(services, query, office_ids, booking_up)
        present = Presenter(t, Formats(t, services.settings.timezone))
        office_names = dict(offices or [])
        view = {
            "first_day": query.first_day, "last_day": query.last_day,
            "office": office_names.get(query.office_id, query.office_id) if query.office_id else t("all_offices"),
            "headlines": [present.headline(h) for h in headlines(figures)],
            "sections": [present.section(table, query, booking_down) for table in figure_tables(figures)],
        }
        form = {"from": query.first_day.isoformat(), "to": query.last_day.isoformat(),
                "office": query.office_id or ""}
        return render(request, "figures.html", error=None, form=form, offices=offices or [], view=view,
                      booking_down=booking_down)

    @bp.get("/figures/<filename>")
    async def figures_csv(request, filename: str):
        t = request.ctx.t
        name, _, extension = filename.rpartition(".")
        if extension != "csv" or name not in TABLES:
            return render(request, "error.html", status=404, message=t("error_not_found"))
        offices, booking_up = await office_choices(services)
        office_ids = [office_id for office_id, _ in offices] if offices is not None else None
        try:
            query = parse_query(request.args, _today(services), office_ids)
        except BadQuery as bad:
            return render(request, "error.html", status=400, message=t(bad.code, **bad.values))
        figures, _ = await gather_figures(services, query, office_ids, booking_up)
        table = TABLES[name](figures)
        present = Presenter(t, Formats(t, services.settings.timezone))
        header = [t("figures_col_code"), t(table.row_heading), *present.column_titles(table)]
        office = f"-{query.office_id}" if query.office_id else ""
        return csv_response(f"recorda-{name}-{query.first_day}-{query.last_day}{office}.csv", header,
                            present.csv_rows(table))
