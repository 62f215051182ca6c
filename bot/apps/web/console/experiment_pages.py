"""The wording experiments page, for admins (others get 403):

    GET  /console/experiments           each office's experiment, its variants and their wording
    POST /console/experiments/retire    retire one variant (office, experiment, variant, confirm)

Retiring cannot be undone from the console, so the form needs its `confirm`
box ticked. A retirement answers with a redirect to the page, which confirms
it (reloading does not repeat it); a refused one shows the page again with
a message saying why. The logic is bot.console.experiments.
"""
from __future__ import annotations

import logging
from typing import Optional
from urllib.parse import urlencode

from sanic import Blueprint, response

from bot.apps.web.console.auth import requires
from bot.apps.web.console.rendering import PREFIX, render, security_headers
from bot.apps.web.console.services import ConsoleServices
from bot.console.accounts import ADMIN
from bot.console.experiments import RetireRefused, experiment_offices, office_experiments, retire_variant
from bot.reminders.variant_choice import VariantRetirements

log = logging.getLogger(__name__)

PAGE = f"{PREFIX}/experiments"
# A refusal that is the request clashing with the state of things, not a bad form.
CONFLICTS = {"changed", "already_retired", "last_variant"}


def _field(form, name: str) -> str:
    return str(form.get(name, "") or "").strip() if form else ""


def register(bp: Blueprint, services: ConsoleServices) -> None:
    retirements = VariantRetirements(services.settings.db_url)

    async def experiments_page(request, status: int = 200, error: Optional[str] = None):
        office_ids, names = await experiment_offices(services.booking, services.settings.offices)
        offices, problems = await services.run(office_experiments, retirements, office_ids, names,
                                               request.ctx.t.language)
        done = None
        if request.method == "GET" and request.args.get("done") == "retired":
            # Confirmed only as the page finds it: a link cannot make it say more.
            done = next(((office, variant) for office in offices for variant in office.variants
                         if office.office_id == request.args.get("office")
                         and variant.name == request.args.get("variant") and variant.retired), None)
        users = await services.run(services.accounts.all_users)
        return render(request, "experiments.html", status=status, offices=offices, problems=problems,
                      error=error, done=done, names={u.username: u.display_name for u in users})

    @bp.get("/experiments")
    @requires(ADMIN)
    async def experiments(request):
        return await experiments_page(request)

    @bp.post("/experiments/retire")
    @requires(ADMIN)
    async def retire(request):
        form, t, admin = request.form, request.ctx.t, request.ctx.session.user
        office_id, variant = _field(form, "office"), _field(form, "variant")
        if _field(form, "confirm") != "yes":
            return await experiments_page(request, status=400, error=t("experiments_error_confirm"))
        office_ids, _ = await experiment_offices(services.booking, services.settings.offices)
        try:
            await services.run(retire_variant, retirements, office_ids, office_id, _field(form, "experiment"),
                               variant, admin.username)
        except RetireRefused as exc:
            log.info("Console: %s could not retire variant %r of office %r: %s",
                     admin.username, variant[:32], office_id[:64], exc)
            return await experiments_page(request, status=409 if exc.code in CONFLICTS else 400,
                                          error=t(f"experiments_error_{exc.code}"))
        log.info("Console: %s retired variant %s of the experiment of office %s",
                 admin.username, variant, office_id)
        query = urlencode({"done": "retired", "office": office_id, "variant": variant})
        return response.redirect(f"{PAGE}?{query}", status=303, headers=security_headers())
