"""The day view: what office staff open the afternoon before a service day.

    GET /console/day?date=YYYY-MM-DD&office=ID       the page
    GET /console/day.csv?date=&office=[&numbers=full] the appointments as CSV

Without a date: the next service day (the reminders go out the afternoon
before, so that is the day staff check). Without an office: the first of
the deployment. The page shows the day's summary, whom to call (the
follow-up list, numbers masked until "Show", then a tel: link) and every
appointment with its reminder state and answer. The CSV has the same
columns with masked numbers; `numbers=full` gives the full numbers and is
logged as a reveal.

Also registers the "appointment" number lookup, so POST /console/reveal
with reference "appointment:<id>" can show an appointment's number.
"""
from __future__ import annotations

import logging
import re
from datetime import date
from typing import List, Optional
from urllib.parse import urlencode

from sanic import Blueprint

import bot.foundation.clock
from bot.apps.web.console.rendering import PREFIX, csv_response, render
from bot.apps.web.console.services import ConsoleServices
from bot.apps.web.console.texts import Translator
from bot.console import day_view
from bot.console.day_view import DayRow, DayView, OfficeChoice
from bot.console.query_values import DayOutOfRange, query_day
from bot.foundation.errors import CodedError
from bot.foundation.phone import mask
from bot.offices.service_days import is_service_day, next_service_day, previous_service_day
from bot.reminders.provider_status import PROVIDER_ERROR

log = logging.getLogger(__name__)

MAX_OFFICE_ID = 64   # the reminder store's column


class BadInput(CodedError):
    """A query the page cannot answer; `code` is the text that says why."""


class Labels:
    """The words for the codes the day view shows; an unknown code shows
    as it is rather than as nothing."""

    def __init__(self, t: Translator):
        self.t = t

    def _label(self, prefix: str, code: Optional[str]) -> str:
        key = f"{prefix}_{code}"
        return self.t(key) if code and self.t.has(key) else (code or "")

    def state(self, state: Optional[str]) -> str:
        return self._label("state", state or "none")

    def answer(self, outcome: Optional[str]) -> str:
        return self._label("day_answer", outcome or "none")

    def channel(self, channel: Optional[str]) -> str:
        return self._label("day_channel", channel)

    def booking_status(self, status: Optional[str]) -> str:
        return self._label("day_booking", status)

    def category(self, category: str) -> str:
        return self._label("day_followup", category)

    def reason(self, reason: Optional[str], code: Optional[int] = None) -> str:
        if not reason:
            return self.t("reason_unknown")
        key = f"reason_{reason}"
        text = self.t(key) if self.t.has(key) else self.t("reason_other", code=reason)
        if reason == PROVIDER_ERROR and code is not None:
            text = self.t("reason_with_code", reason=text, code=code)
        return text


def parse_day(raw: Optional[str], today: date, holidays) -> date:
    try:
        day = query_day(raw)
    except DayOutOfRange:
        raise BadInput("day_date_out_of_range", value=raw[:40]) from None
    except ValueError:
        raise BadInput("day_bad_date", value=raw[:40]) from None
    return next_service_day(today, holidays) if day is None else day


def choose_office(raw: Optional[str], choices: List[OfficeChoice], can_check: bool) -> Optional[str]:
    """The asked office if it is one of ours, the first one if none was asked.
    When the list could not be checked (booking system down, no configured
    offices), an asked office is taken on trust: the store may know it."""
    if not raw:
        return choices[0].id if choices else None
    if any(c.id == raw for c in choices):
        return raw
    if can_check or len(raw) > MAX_OFFICE_ID:
        raise BadInput("day_unknown_office", value=raw[:MAX_OFFICE_ID])
    choices.append(OfficeChoice(raw, raw))
    return raw


def day_link(kind: str, day: date, office_id: Optional[str], **extra) -> str:
    """/console/day or /console/day.csv for a day and office."""
    params = {"date": day.isoformat(), **({"office": office_id} if office_id else {}), **extra}
    return f"{PREFIX}/{kind}?{urlencode(params)}"


class DayRequest:
    """What a request asks for, checked, and the day loaded."""

    def __init__(self, day: date, offices: List[OfficeChoice], office_id: Optional[str],
                 view: Optional[DayView], booking_down: bool):
        self.day, self.offices, self.office_id, self.view = day, offices, office_id, view
        self.booking_down = booking_down or (view is not None and view.booking_down)

    @property
    def office_name(self) -> str:
        return next((o.name for o in self.offices if o.id == self.office_id), self.office_id or "")

    @classmethod
    async def load(cls, request, services: ConsoleServices) -> "DayRequest":
        t, settings = request.ctx.t, services.settings
        today = bot.foundation.clock.now(settings.timezone).date()
        day = parse_day(request.args.get("date"), today, settings.holidays)
        offices, down = await day_view.office_choices(services.reminders, services.booking,
                                                      settings.offices, day)
        office_id = choose_office(request.args.get("office"), offices,
                                  can_check=not down or bool(settings.offices))
        view = None
        if office_id:
            view = await day_view.load_day(services.reminders, services.booking, day, office_id,
                                           t.language, settings.default_region, booking_down=down)
        return cls(day, offices, office_id, view, down)


def csv_header(t: Translator) -> List[str]:
    return [t(key) for key in ("day_col_date", "day_col_time", "day_col_citizen", "day_col_procedure",
                               "day_col_phone", "day_col_reminder", "day_col_reason", "day_col_answer",
                               "day_col_channel", "day_col_answered_at", "day_col_booking_status",
                               "day_col_appointment")]


def csv_row(row: DayRow, day: date, labels: Labels, tz, full_numbers: bool) -> List[str]:
    phone = (row.phone if full_numbers else mask(row.phone)) if row.phone else ""
    answer = row.answer
    return [
        day.isoformat(),
        row.starts_at.astimezone(tz).strftime("%H:%M") if row.starts_at else "",
        row.citizen_name,
        row.procedure,
        phone,
        labels.state(row.reminder_state),
        labels.reason(row.failure_reason, row.reminder.error_code) if row.reminder_state == "failed" else "",
        labels.answer(answer.outcome if answer else None),
        labels.channel(answer.channel) if answer else "",
        answer.at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if answer else "",
        labels.booking_status(row.booking_status) if row.booking_status else "",
        row.appointment_id,
    ]


def _file_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "office"


def register(bp: Blueprint, services: ConsoleServices) -> None:
    settings = services.settings

    async def lookup_appointment_number(appointment_id: str) -> Optional[str]:
        return await day_view.appointment_number(services.reminders, services.booking, appointment_id,
                                                 settings.default_region)

    services.number_lookups["appointment"] = lookup_appointment_number

    @bp.get("/day")
    async def day_page(request):
        try:
            asked = await DayRequest.load(request, services)
        except BadInput as exc:
            return render(request, "error.html", status=400, message=request.ctx.t(exc.code, **exc.values))
        day, holidays = asked.day, settings.holidays
        return render(
            request, "day.html", asked=asked, view=asked.view, day=day, labels=Labels(request.ctx.t),
            is_service_day=is_service_day(day, holidays),
            previous_link=day_link("day", previous_service_day(day, holidays), asked.office_id),
            next_link=day_link("day", next_service_day(day, holidays), asked.office_id),
            csv_link=day_link("day.csv", day, asked.office_id),
            csv_full_link=day_link("day.csv", day, asked.office_id, numbers="full"))

    @bp.get("/day.csv")
    async def day_csv(request):
        t = request.ctx.t
        try:
            asked = await DayRequest.load(request, services)
        except BadInput as exc:
            return render(request, "error.html", status=400, message=request.ctx.t(exc.code, **exc.values))
        if asked.view is None:
            return render(request, "error.html", status=503, message=t("day_no_offices"))
        full = request.args.get("numbers") == "full"
        rows = asked.view.rows
        if full:
            # One log entry for the whole file: who took which day's numbers.
            numbers = sum(1 for row in rows if row.phone)
            await services.run(services.accounts.reveal, request.ctx.session,
                               f"day:{asked.day.isoformat()}:{asked.office_id}", f"{numbers} numbers", "csv")
            log.info("Console: %s downloaded the full numbers of %s %s",
                     request.ctx.session.user.username, asked.day, asked.office_id)
        labels = Labels(t)
        filename = f"recorda-{asked.day.isoformat()}-{_file_part(asked.office_id)}" + ("-numbers" if full else "")
        return csv_response(filename + ".csv", csv_header(t),
                            (csv_row(row, asked.day, labels, settings.timezone, full) for row in rows))
