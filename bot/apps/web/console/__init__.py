"""The staff console under /console: one Blueprint whose every route needs a
signed-in session (bot.apps.web.console.auth), with one module per page:

    auth           sign-in, sign-out, language, revealing a number
    day            the day view, the follow-up list, CSV
    conversations  the list with filters, a transcript with its timeline
    figures        the service figures with charts, tables and CSV
    nlu_review     low-confidence messages, relabelling, YAML export (editors)
    users          accounts and the reveal log (admins)
"""
from __future__ import annotations

from sanic import Blueprint

from bot.apps.web.console import auth, conversations, day, figures, nlu_review, users
from bot.apps.web.console.services import ConsoleServices

PAGES = (auth, day, conversations, figures, nlu_review, users)


def console_blueprint(services: ConsoleServices) -> Blueprint:
    bp = Blueprint("console", url_prefix="/console")
    auth.guard(bp, services)
    for page in PAGES:
        page.register(bp, services)
    return bp
