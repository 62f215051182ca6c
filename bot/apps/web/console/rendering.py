"""Turns the console's Jinja2 templates into responses: autoescaped HTML,
the console's words (`t`), local dates through Babel, masked numbers, and
headers that keep personal data out of caches and other sites."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Iterable, Optional, Sequence
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_decimal, format_percent
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sanic import response

from bot.apps.web.console.texts import Translator
from bot.foundation.languages import LANGUAGES
from bot.foundation.phone import mask

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
PREFIX = "/console"

# Read-only: Sanic's redirect() writes Location into the dict it is given, so
# a shared dict would carry one user's redirect into everybody's next page.
_SECURITY_HEADERS = MappingProxyType({
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; "
                               "base-uri 'none'; object-src 'none'",
})


def security_headers() -> dict:
    """A fresh copy of the console's response headers, for one response."""
    return dict(_SECURITY_HEADERS)


_environment = Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)),
                           autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                           trim_blocks=True, lstrip_blocks=True)


class Formats:
    """Dates, times and numbers in the reader's language and the town's time zone."""

    def __init__(self, t: Translator, tz: ZoneInfo):
        self.t, self.tz, self.locale = t, tz, t.locale

    def _local(self, value: datetime) -> datetime:
        return value.astimezone(self.tz) if value.tzinfo else value

    def datetime(self, value: Optional[datetime], pattern: str = "d MMM yyyy, H:mm") -> str:
        return format_datetime(self._local(value), pattern, locale=self.locale) if value else ""

    def time(self, value: Optional[datetime], pattern: str = "H:mm") -> str:
        return format_time(self._local(value), pattern, locale=self.locale) if value else ""

    def date(self, value: Optional[date], pattern: str = "EEEE d MMMM yyyy") -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            value = self._local(value).date()
        return format_date(value, pattern, locale=self.locale)

    def percent(self, value: Optional[float]) -> str:
        return "–" if value is None else format_percent(value, "#,##0.0 %", locale=self.locale)

    def number(self, value, pattern: str = "#,##0.##") -> str:
        return "–" if value is None else format_decimal(value, pattern, locale=self.locale)


def phone_shown(request, number: Optional[str], reference: str) -> str:
    """The number in full where this session revealed it, masked otherwise."""
    session = getattr(request.ctx, "session", None)
    if number and session is not None and session.shows_number(reference):
        return number
    return mask(number)


def render(request, template: str, status: int = 200, **context) -> response.HTTPResponse:
    t: Translator = request.ctx.t
    session = getattr(request.ctx, "session", None)
    settings = request.app.ctx.console.settings
    html = _environment.get_template(template).render(
        t=t, lang=t.language, languages=LANGUAGES, fmt=Formats(t, settings.timezone),
        session=session, user=session.user if session else None,
        csrf=session.csrf_token if session else "", prefix=PREFIX, path=request.path,
        query_string=request.query_string,
        phone=lambda number, reference: phone_shown(request, number, reference), **context)
    return response.html(html, status=status, headers=security_headers())


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence]) -> response.HTTPResponse:
    """A CSV download that spreadsheets open as UTF-8 (BOM) with a formula
    guard: a cell a citizen wrote never starts with = + - @."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_safe_cell(value) for value in row])
    headers = security_headers()
    headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response.text(out.getvalue(), content_type="text/csv; charset=utf-8", headers=headers)


def _safe_cell(value) -> str:
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r" and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False
