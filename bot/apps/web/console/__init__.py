"""The staff console under /console: one Blueprint whose every route needs a
signed-in session (bot.apps.web.console.auth), with one module per page:

    auth                sign-in, sign-out, language, revealing a number
    day_pages           the day view, the follow-up list, CSV
    conversation_pages  the list with filters, a transcript with its timeline
    figure_pages        the service figures with charts, tables and CSV
    nlu_review_pages    low-confidence messages, relabelling, YAML export (editors)
    user_pages          accounts and the reveal log (admins)
    experiment_pages    the offices' wording experiments, retiring a variant (admins)

Their logic, free of HTTP, is in bot/console/.
"""
from __future__ import annotations

from sanic import Blueprint

from bot.apps.web.console import (
    auth,
    conversation_pages,
    day_pages,
    experiment_pages,
    figure_pages,
    nlu_review_pages,
    user_pages,
)
from bot.apps.web.console.services import ConsoleServices

PAGES = (auth, day_pages, conversation_pages, figure_pages, nlu_review_pages, user_pages, experiment_pages)


def console_blueprint(services: ConsoleServices) -> Blueprint:
    bp = Blueprint("console", url_prefix="/console")
    auth.guard(bp, services)
    for page in PAGES:
        page.register(bp, services)
    return bp
