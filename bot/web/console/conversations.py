"""The conversations pages: what citizens wrote and what the assistant
answered, as staff used to review it in Rasa X.

    GET /console/conversations        the list, with filters and search by number
    GET /console/conversations/<key>  one transcript with its reminders' timelines

A conversation is named by an opaque key (bot.console.conversations.
ConversationKeys), never by the citizen's number. The number shows masked,
with the usual logged reveal ("conversation:<key>").
"""
from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from itertools import groupby
from typing import Dict, Optional
from urllib.parse import urlencode

from sanic import Blueprint

from bot.console.conversations import (LANGUAGES, MAX_RANGE_DAYS, MIN_SEARCH_DIGITS, Conversations,
                                       FilterError, Filters, Page, domain_intents)
from bot.reminders import states
from bot.templates import REMINDER_TEMPLATE
from bot.web.console.rendering import render
from bot.web.console.services import ConsoleServices

log = logging.getLogger(__name__)

# The reminder template, as the assistant names it and as it was approved:
# its parameters get their names in the transcript.
REMINDER_TEMPLATES = ("appointment_reminder", REMINDER_TEMPLATE)
FILTER_FIELDS = ("from", "to", "office", "state", "intent", "language", "flagged", "low", "number")


class OfficeNames:
    """Office names from the booking system, kept a while so that a page
    does not wait for the booking system each time; office ids stand in
    when it does not answer."""
    KEEP = 600.0           # seconds
    RETRY_AFTER = 60.0     # after a failure
    TIMEOUT = 3.0

    def __init__(self, booking):
        self.booking = booking
        self._names: Dict[str, str] = {}
        self._until = 0.0

    async def get(self) -> Dict[str, str]:
        if time.monotonic() < self._until:
            return self._names
        try:
            offices = await asyncio.wait_for(self.booking.list_offices(), self.TIMEOUT)
            self._names = {office.id: office.name for office in offices}
            self._until = time.monotonic() + self.KEEP
        except Exception as exc:   # any failure of the booking system: ids will do
            log.warning("Console: office names unavailable from the booking system: %s", exc)
            self._until = time.monotonic() + self.RETRY_AFTER
        return self._names


def register(bp: Blueprint, services: ConsoleServices) -> None:
    settings = services.settings
    conversations = Conversations.from_settings(settings, services.reminders)
    office_names = OfficeNames(services.booking)

    async def number_of(key: str) -> Optional[str]:
        return await services.run(conversations.find_sender, key)

    services.number_lookups["conversation"] = number_of

    @bp.get("/conversations")
    async def conversation_list(request):
        t = request.ctx.t
        form = {name: str(request.args.get(name) or "").strip() for name in FILTER_FIELDS}
        today = datetime.now(settings.timezone).date()
        intents = domain_intents()
        error, status = None, 200
        try:
            filters = Filters.from_query({**form, "page": request.args.get("page")}, today,
                                         settings.default_region, intents)
        except FilterError as exc:
            error, status = t(exc.code, days=MAX_RANGE_DAYS, digits=MIN_SEARCH_DIGITS), 400
            filters = Filters.from_query({}, today, settings.default_region, intents)
        page = (await services.run(conversations.page, filters) if error is None
                else Page([], 1, 1, 0))
        names = await office_names.get()
        office_ids = sorted(set(await services.run(conversations.office_ids_in_range, filters))
                            | set(settings.offices) | set(names))
        form["from"] = form["from"] or filters.first_day.isoformat()
        form["to"] = form["to"] or filters.last_day.isoformat()
        return render(request, "conversations.html", status=status, form=form, error=error,
                      page=page, office_ids=office_ids, office_names=names, intents=intents,
                      states=states.ALL_STATES, languages_spoken=LANGUAGES,
                      tracker_available=await services.run(conversations.tracker.available),
                      page_links=_page_links(form, page))

    @bp.get("/conversations/<key>")
    async def transcript(request, key: str):
        sender = await services.run(conversations.find_sender, key)
        if sender is None:
            return render(request, "error.html", status=404, message=request.ctx.t("conversations_not_found"))
        found = await services.run(conversations.transcript, sender)
        days = [(day, list(entries)) for day, entries in
                groupby(found.entries, key=lambda e: e.at.astimezone(settings.timezone).date())]
        return render(request, "transcript.html", transcript=found, days=days,
                      office_names=await office_names.get(), reference=f"conversation:{found.key}",
                      reminder_templates=REMINDER_TEMPLATES)


def _page_links(form: Dict[str, str], page: Page) -> Dict[str, Optional[str]]:
    """Links to the previous and next pages, with the same filters."""
    def link(number: int) -> str:
        query = {name: value for name, value in form.items() if value}
        query["page"] = str(number)
        return "?" + urlencode(query)
    return {"previous": link(page.number - 1) if page.number > 1 else None,
            "next": link(page.number + 1) if page.number < page.pages else None}
