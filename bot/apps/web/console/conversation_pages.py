"""The conversations pages: what citizens wrote and what the assistant
answered, as staff used to review it in Rasa X.

    GET  /console/conversations         the list, with its filters
    POST /console/conversations/search  search by number: back to the list
                                        with the keys it found (who=...)
    GET  /console/conversations/<key>   one transcript with its reminders' timelines

A conversation is named by an opaque key (bot.console.conversation_keys.
ConversationKeys), never by the citizen's number. The number shows masked,
with the usual logged reveal ("conversation:<key>"). A searched number is
POSTed, never put in a URL (browser history, the sign-in's `next`, paging
links, proxy logs): the list's URL carries the keys the search found.
"""
from __future__ import annotations

import asyncio
import logging
import time
from itertools import groupby
from typing import Dict, Optional
from urllib.parse import urlencode

from sanic import Blueprint, response

import bot.foundation.clock
from bot.apps.web.console.rendering import PREFIX, render, security_headers
from bot.apps.web.console.services import ConsoleServices
from bot.console.conversation_filters import (
    MAX_RANGE_DAYS,
    MAX_SEARCHED_SENDERS,
    MIN_SEARCH_DIGITS,
    FilterError,
    Filters,
    NumberSearch,
    domain_intents,
    who_value,
)
from bot.console.conversation_queries import Conversations, Page
from bot.foundation.languages import LANGUAGES
from bot.messaging.templates import REMINDER_TEMPLATE, TEMPLATES_DIR, provider_name
from bot.reminders import states

log = logging.getLogger(__name__)

# The reminder templates (every touch and wording variant shares the
# reminder's parameters), as the assistant names them and as they were
# approved: their parameters get their names in the transcript.
_REMINDER_FILES = [path.stem for path in TEMPLATES_DIR.glob("appointment_reminder*.yml")]
REMINDER_TEMPLATES = tuple(sorted({REMINDER_TEMPLATE, *_REMINDER_FILES, *map(provider_name, _REMINDER_FILES)}))
# The list's filters; the number search carries them along (hidden fields).
FILTER_FIELDS = ("from", "to", "office", "state", "intent", "language", "flagged", "low")
LIST_PATH = f"{PREFIX}/conversations"


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

    def read_filters(values, page=None) -> Filters:
        return Filters.from_query({**values, "page": page}, bot.foundation.clock.now(settings.timezone).date(),
                                  settings.default_region, domain_intents())

    def explain(request, error: FilterError) -> str:
        return request.ctx.t(error.code, days=MAX_RANGE_DAYS, digits=MIN_SEARCH_DIGITS,
                             count=MAX_SEARCHED_SENDERS)

    async def list_page(request, form: Dict[str, str], filters: Filters, status: int = 200,
                        error: Optional[str] = None, search_error: Optional[str] = None):
        """The list page for these filters; with `error` (the filters could
        not be used) it lists nothing."""
        page = (await services.run(conversations.page, filters) if error is None
                else Page([], 1, 1, 0))
        names = await office_names.get()
        office_ids = sorted(set(await services.run(conversations.office_ids_in_range, filters))
                            | set(settings.offices) | set(names))
        form = dict(form)
        form["from"] = form["from"] or filters.first_day.isoformat()
        form["to"] = form["to"] or filters.last_day.isoformat()
        # Only a who= that was read back from a search's keys is repeated.
        form["who"] = who_value(filters.who) if filters.who is not None and error is None else ""
        here = _query(form, page.number)
        return render(request, "conversations.html", status=status, form=form, error=error,
                      search_error=search_error, searched=form["who"] != "",
                      filter_fields=FILTER_FIELDS, list_query=here,
                      clear_search=f"{LIST_PATH}?{_query(dict(form, who=''))}",
                      page=page, office_ids=office_ids, office_names=names, intents=domain_intents(),
                      states=states.ALL_STATES, languages_spoken=LANGUAGES,
                      tracker_available=await services.run(conversations.tracker.available),
                      page_links=_page_links(form, page))

    @bp.get("/conversations")
    async def conversation_list(request):
        # A number= of an old link or bookmark is not read, and not repeated.
        form = _filters_form(request.args)
        form["who"] = str(request.args.get("who") or "").strip()
        try:
            filters = read_filters(form, request.args.get("page"))
        except FilterError as exc:
            return await list_page(request, form, read_filters({}), 400, error=explain(request, exc))
        return await list_page(request, form, filters)

    @bp.post("/conversations/search")
    async def search_by_number(request):
        """Finds the conversations of a number and goes back to the list
        (303) with their keys in place of the number: a reload, the back
        button or a shared link never hold the number."""
        values = request.form or {}
        form = _filters_form(values)
        try:
            filters = read_filters(form)
        except FilterError as exc:
            return await list_page(request, form, read_filters({}), 400, error=explain(request, exc))
        try:
            number = NumberSearch.parse(str(values.get("number") or ""), settings.default_region)
            keys = await services.run(conversations.search, number)
        except FilterError as exc:
            # The page they were on, with the reason; the typed number is not repeated.
            return await list_page(request, form, filters, 400, search_error=explain(request, exc))
        query = _query(dict(form, who=who_value(keys)))
        # A copy: Sanic's redirect() writes Location into the dict it is given.
        return response.redirect(f"{LIST_PATH}?{query}", status=303, headers=security_headers())

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


def _filters_form(values) -> Dict[str, str]:
    """The list's filters as given (query or form), stripped; "" when absent."""
    return {name: str(values.get(name) or "").strip() for name in FILTER_FIELDS}


def _query(form: Dict[str, str], page: int = 1) -> str:
    """The list's query string for these filters (the empty ones left out)."""
    query = {name: value for name, value in form.items() if value}
    if page > 1:
        query["page"] = str(page)
    return urlencode(query)


def _page_links(form: Dict[str, str], page: Page) -> Dict[str, Optional[str]]:
    """Links to the previous and next pages, with the same filters (and search)."""
    def link(number: int) -> str:
        return "?" + urlencode({**{name: value for name, value in form.items() if value},
                                "page": str(number)})
    return {"previous": link(page.number - 1) if page.number > 1 else None,
            "next": link(page.number + 1) if page.number < page.pages else None}
