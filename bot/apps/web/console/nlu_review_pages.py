"""The NLU review page, for content editors and admins (staff get 403):

    GET  /console/nlu               what the assistant was unsure about, with filters
    POST /console/nlu/review        save the intents chosen (one row, or every chosen row)
    GET  /console/nlu/export.yml    the reviewed messages as Rasa NLU training data

The logic (candidates, reviews, the export) is bot.console.nlu_review and
the modules it names.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Dict, List, Optional, Tuple
from urllib.parse import parse_qsl, urlencode, urlparse

from sanic import Blueprint, response

import bot.foundation.clock
from bot.apps.web.console.auth import requires, safe_next
from bot.apps.web.console.rendering import PREFIX, render, security_headers
from bot.apps.web.console.services import ConsoleServices
from bot.console.nlu_candidates import ALL, REVIEWED, STATUSES, TO_REVIEW, CandidateFilter
from bot.console.nlu_export import SKIP_IGNORED, SKIP_REASONS
from bot.console.nlu_project import IGNORE, OUT_OF_SCOPE
from bot.console.nlu_review import NluReviews, ReviewError
from bot.console.query_values import DayOutOfRange, page_number, query_day, row_id
from bot.console.tracker import FALLBACK_INTENT, TrackerEvents
from bot.foundation.errors import CodedError
from bot.foundation.languages import LANGUAGES

log = logging.getLogger(__name__)

DEFAULT_DAYS = 30          # the page opens on the last 30 days
MAX_DAYS = 366             # a longer range reads too much of the tracker store at once
PAGE_SIZE = 100
MAX_LABELS_PER_SAVE = 500
PAGE = f"{PREFIX}/nlu"


class BadRequest(CodedError):
    """A filter the page cannot use; `code` is the text that says which and why."""


@dataclass(frozen=True)
class PageQuery:
    start: date
    end: date                 # inclusive
    threshold: float
    filter: CandidateFilter
    page: int


def _one(args, name: str) -> str:
    return str(args.get(name) or "").strip()


def _date(args, name: str, default: date) -> date:
    raw = _one(args, name)
    try:
        day = query_day(raw)
    except DayOutOfRange:
        raise BadRequest("error_date_out_of_range") from None
    except ValueError:
        raise BadRequest("nlu_error_date", value=raw[:20]) from None
    return default if day is None else day


def _threshold(args, default: float) -> float:
    raw = _one(args, "threshold")
    if not raw:
        return default
    try:
        value = float(raw.replace(",", "."))   # "0,5" as Catalan and Spanish write it
    except ValueError:
        raise BadRequest("nlu_error_threshold") from None
    if not math.isfinite(value) or not 0 <= value <= 1:
        raise BadRequest("nlu_error_threshold")
    return value


def parse_query(args, today: date, default_threshold: float, intents: List[str]) -> PageQuery:
    end = _date(args, "to", today)
    start = _date(args, "from", end - timedelta(days=DEFAULT_DAYS - 1))
    if start > end:
        raise BadRequest("nlu_error_range")
    if (end - start).days + 1 > MAX_DAYS:
        raise BadRequest("nlu_error_range_long", days=MAX_DAYS)
    status = _one(args, "status") or TO_REVIEW
    language = _one(args, "language")
    intent = _one(args, "intent")
    if status not in STATUSES or (language and language not in LANGUAGES) or \
            (intent and intent not in intents + [FALLBACK_INTENT]):
        raise BadRequest("nlu_error_filter")
    page = page_number(_one(args, "page") or "1")
    if page is None:
        raise BadRequest("nlu_error_filter")
    return PageQuery(start, end, _threshold(args, default_threshold),
                     CandidateFilter(status, language, intent), page)


def _local_day_bounds(start: date, end: date, tz) -> Tuple[datetime, datetime]:
    return (datetime.combine(start, time.min, tzinfo=tz),
            datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz))


def _with_param(url: str, name: str, value: Optional[str]) -> str:
    """`url` with one query parameter set (or removed when value is None)."""
    parsed = urlparse(url)
    params = [(k, v) for k, v in parse_qsl(parsed.query, keep_blank_values=True) if k != name]
    if value is not None:
        params.append((name, value))
    return parsed.path + (f"?{urlencode(params)}" if params else "")


def _labels_from_form(form) -> Dict[int, str]:
    """{tracker event id: chosen label}: the one row whose Save was pressed,
    or every row with a choice when "Save all chosen" was."""
    pressed = str(form.get("save", ""))
    chosen: Dict[int, str] = {}
    for name in form.keys():
        event_id = row_id(name[6:]) if name.startswith("label_") else None
        label = str(form.get(name, "")).strip() if event_id is not None else ""
        if label:
            chosen[event_id] = label
    if pressed == "all":
        return chosen
    event_id = row_id(pressed)
    if event_id is not None:
        return {event_id: chosen[event_id]} if event_id in chosen else {}
    raise BadRequest("nlu_error_save")


def register(bp: Blueprint, services: ConsoleServices) -> None:
    settings = services.settings
    reviews = NluReviews(settings.db_url, TrackerEvents(settings.tracker_db_url))

    def _bad_request(request, error: BadRequest):
        return render(request, "error.html", status=400, message=request.ctx.t(error.code, **error.values))

    @bp.get("/nlu")
    @requires("editor")
    async def nlu_review(request):
        t = request.ctx.t
        intents = await services.run(reviews.project.intents)
        today = bot.foundation.clock.now(settings.timezone).date()
        try:
            query = parse_query(request.args, today, settings.low_confidence, intents)
        except BadRequest as error:
            return _bad_request(request, error)
        start, end = _local_day_bounds(query.start, query.end, settings.timezone)
        candidates = await services.run(reviews.candidates, start, end, query.threshold)
        shown = [c for c in candidates if query.filter.keeps(c)]
        pages = max(1, math.ceil(len(shown) / PAGE_SIZE))
        page = min(query.page, pages)
        plan_new, plan_all = await services.run(reviews.plans)
        saved = _one(request.args, "saved")        # set by the redirect after a save
        here = request.path + (f"?{request.query_string}" if request.query_string else "")
        return render(
            request, "nlu_review.html", query=query, intents=intents,
            label_intents=[i for i in intents if i != OUT_OF_SCOPE],
            out_of_scope=OUT_OF_SCOPE if OUT_OF_SCOPE in intents else None, ignore=IGNORE,
            fallback_intent=FALLBACK_INTENT, statuses=(TO_REVIEW, REVIEWED, ALL), message_languages=LANGUAGES,
            rows=shown[(page - 1) * PAGE_SIZE: page * PAGE_SIZE], total=len(shown), page=page, pages=pages,
            to_review=sum(1 for c in candidates if c.review is None),
            reviewed=sum(1 for c in candidates if c.review is not None),
            tracker_available=await services.run(reviews.tracker.available),
            plan_new=plan_new, plan_all=plan_all, skip_reasons=SKIP_REASONS,
            # Ignored messages are not training data: no need to list them again.
            left_out=[(reason, text) for reason, text in plan_all.skipped_texts if reason != SKIP_IGNORED],
            saved=saved if saved.isdigit() else None,
            page_url=lambda n: _with_param(_with_param(here, "saved", None), "page", str(n)),
            intent_label=lambda name: _intent_label(t, name))

    @bp.post("/nlu/review")
    @requires("editor")
    async def save_reviews(request):
        form = request.form or {}
        try:
            labels = _labels_from_form(form)
        except BadRequest as error:
            return _bad_request(request, error)
        if len(labels) > MAX_LABELS_PER_SAVE:
            return _bad_request(request, BadRequest("nlu_error_too_many", count=MAX_LABELS_PER_SAVE))
        choices = await services.run(reviews.project.choices)
        if any(label not in choices for label in labels.values()):
            return _bad_request(request, BadRequest("nlu_error_unknown_label"))
        reviewer = request.ctx.session.user.username
        saved = 0
        for event_id, label in labels.items():
            try:
                saved += await services.run(reviews.review, event_id, label, reviewer)
            except ReviewError as error:
                log.info("Console: NLU review by %s refused: %s", reviewer, error)
                return _bad_request(request, BadRequest(f"nlu_error_{error.code}"))
        log.info("Console: %s saved %d NLU review(s)", reviewer, saved)
        back = _with_param(safe_next(form.get("next") or PAGE), "saved", str(saved))
        return response.redirect(back, status=303, headers=security_headers())

    @bp.get("/nlu/export.yml")
    @requires("editor")
    async def export(request):
        scope = _one(request.args, "scope") or "new"
        if scope not in ("new", "all"):
            return response.text("scope must be new or all\n", status=400, headers=security_headers())
        filename = f"recorda-reviewed-nlu-{bot.foundation.clock.now(settings.timezone).date().isoformat()}.yml"
        user = request.ctx.session.user.username
        content, plan = await services.run(reviews.export, scope == "new", user, filename)
        log.info("Console: %s exported %d NLU examples (%s)", user, len(plan.entries), scope)
        headers = security_headers()
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response.text(content, content_type="application/x-yaml; charset=utf-8", headers=headers)


def _intent_label(t, name: Optional[str]) -> str:
    """An intent as editors read it: its description, then its name."""
    if not name:
        return ""
    key = f"intent_{name}"
    return f"{t(key)} ({name})" if t.has(key) else name
