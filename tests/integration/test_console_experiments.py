"""The wording experiments page: admins see each office's experiment, what
every variant sends and whether it is still given, and retire a variant,
recorded with who and when; nobody else gets in; a retirement that would
leave an experiment without variants, or lacks its confirmation or its
CSRF token, changes nothing."""
from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import List

import pytest
from babel.dates import format_datetime

from bot.dev.sandbox.booking_seed import MADRID
from bot.offices.settings import for_office
from bot.reminders.variant_choice import VariantRetirements
from tests.support.town_booking import OFFICE, TownBooking

OFFICES_YML = """
offices:
  oac-centre:          # the town's office (tests/support/town_booking.py)
    touches:
      - {name: early, days_before: 3, template: appointment_reminder_early}
      - {name: day_before, days_before: 1}
    experiment:
      name: wording-2027
      variants:
        plain: {}
        cost: {day_before: appointment_reminder_cost}
        early-only: {early: appointment_reminder}
  oac-nord:
    sms_fallback: true
  oac-platja:
    experiment:
      name: short-or-long
      retired: [long]
      variants:
        short: {}
        long: {day_before: appointment_reminder_cost}
"""


@pytest.fixture
def booking():
    return TownBooking()


@pytest.fixture(autouse=True)
def offices_file(tmp_path, monkeypatch):
    path = tmp_path / "offices.yml"
    path.write_text(OFFICES_YML, encoding="utf-8")
    monkeypatch.setenv("RECORDA_OFFICES_FILE", str(path))
    return path


def retirements(console) -> VariantRetirements:
    return VariantRetirements(console.settings.db_url)


def active(console, office_id: str) -> List[str]:
    experiment = for_office(office_id).experiment
    assert experiment is not None
    return retirements(console).active(office_id, experiment)


def row(html: str, office_id: str, variant: str) -> str:
    """The row of one variant in one office's card."""
    card = re.search(rf'data-office="{office_id}".*?</section>', html, re.S)
    assert card is not None, f"no card for {office_id}"
    found = re.search(rf'data-variant="{variant}".*?</tr>', card.group(0), re.S)
    assert found is not None, f"no row for {variant}"
    return found.group(0)


def retire_form(office_id: str = OFFICE, variant: str = "cost", experiment: str = "wording-2027", **extra) -> dict:
    return {"office": office_id, "experiment": experiment, "variant": variant, "confirm": "yes", **extra}


async def test_an_admin_sees_each_experiment_and_what_its_variants_send(booking, console):
    admin = await console.client("admin")
    status, html = await admin.get("/console/day")
    assert 'href="/console/experiments"' in html, "admins find it in the navigation"
    status, html = await admin.get("/console/experiments")
    assert status == 200
    offices = re.findall(r'data-test="office-experiment" data-office="([^"]+)"', html)
    assert offices == [OFFICE, "oac-platja"], "oac-nord has no experiment"
    assert "OAC Centre &lt;b&gt;" in html, "the booking system's name, as text"

    cost = row(html, OFFICE, "cost")
    assert "appointment_reminder_early" in cost and "appointment_reminder_cost" in cost
    assert "You have an appointment at the City Hall in a few days" in cost, "the first line, in English"
    assert "Active" in cost and 'data-test="retire"' in cost
    early_only = row(html, OFFICE, "early-only")
    assert "appointment_reminder_early" not in early_only, "its early touch sends the plain reminder"

    long = row(html, "oac-platja", "long")
    assert "Retired" in long and "in offices.yml" in long and 'data-test="retire"' not in long
    short = row(html, "oac-platja", "short")
    assert "Active" in short and 'data-test="retire"' not in short
    assert "The last active variant cannot be retired." in short

    await admin.post("/console/language", {"language": "ca", "next": "/console/experiments"})
    status, html = await admin.get("/console/experiments")
    assert "Teniu una cita prèvia a l'Ajuntament d'aquí a pocs dies" in row(html, OFFICE, "cost").replace("&#39;", "'")


async def test_an_admin_retires_a_variant_and_the_page_says_who_and_when(booking, console, clock):
    moment = clock.set(clock.moment.replace(microsecond=0) - timedelta(days=2))
    admin = await console.client("admin")
    await admin.get("/console/experiments")
    status, html = await admin.post("/console/experiments/retire", retire_form())
    assert status == 200 and "Variant cost retired at OAC Centre" in html
    assert active(console, OFFICE) == ["plain", "early-only"], "new appointments no longer get it"

    cost = row(html, OFFICE, "cost")
    when = format_datetime(moment.astimezone(MADRID), "d MMM yyyy, H:mm", locale="en_GB")
    assert "Retired" in cost and f"by Admin, {when}" in cost and 'data-test="retire"' not in cost
    [retired] = retirements(console).retired(OFFICE, "wording-2027")
    assert (retired.variant, retired.retired_by, retired.retired_at) == ("cost", "admin", moment)

    status, html = await admin.post("/console/experiments/retire", retire_form())
    assert status == 409 and "That variant is retired already." in html


async def test_only_admins_see_the_page_and_may_retire(booking, console, caplog):
    caplog.set_level(logging.INFO)
    for username in ("staff", "editor"):
        client = await console.client(username)
        status, html = await client.get("/console/day")
        assert status == 200 and "/console/experiments" not in html, "no link for them"
        status, html = await client.get("/console/experiments")
        assert status == 403 and "Your account is not allowed to use this page." in html
        status, _ = await client.post("/console/experiments/retire", retire_form(), follow=False)
        assert status == 403
        assert f"/console/experiments/retire by {username} refused" in caplog.text
    assert retirements(console).retired(OFFICE, "wording-2027") == []

    anonymous = await console.client()
    assert (await anonymous.post("/console/experiments/retire", retire_form(), follow=False))[0] == 401
    assert active(console, OFFICE) == ["plain", "cost", "early-only"]


async def test_a_retirement_without_the_session_csrf_token_is_refused(booking, console):
    admin = await console.client("admin")
    await admin.get("/console/experiments")
    for token in ("", "not-the-token"):
        status, html = await admin.post("/console/experiments/retire", retire_form(), csrf=token)
        assert status == 403 and "The form is not valid or has expired." in html
    assert active(console, OFFICE) == ["plain", "cost", "early-only"]


async def test_a_retirement_that_cannot_be_done_says_why_and_changes_nothing(booking, console):
    admin = await console.client("admin")
    await admin.get("/console/experiments")
    post = admin.post

    status, html = await post("/console/experiments/retire", retire_form("oac-platja", "short", "short-or-long"))
    assert status == 409 and "Nothing was retired. This is the experiment's last active variant" \
        in html.replace("&#39;", "'")
    assert active(console, "oac-platja") == ["short"]

    form = retire_form()
    del form["confirm"]
    status, html = await post("/console/experiments/retire", form)
    assert status == 400 and "Tick the box to confirm" in html

    status, html = await post("/console/experiments/retire", retire_form(experiment="wording-2026"))
    assert status == 409 and "changed in offices.yml since you opened the page" in html
    status, html = await post("/console/experiments/retire", retire_form(variant="bold"))
    assert status == 400 and "The experiment has no such variant." in html
    for office_id in ("oac-nord", "nowhere", ""):
        status, html = await post("/console/experiments/retire", retire_form(office_id))
        assert status == 400 and "That office has no wording experiment." in html
    assert active(console, OFFICE) == ["plain", "cost", "early-only"]
    assert retirements(console).retired("oac-nord", "wording-2027") == []

    # The two others retired, the last one stays.
    await post("/console/experiments/retire", retire_form(variant="plain"))
    await post("/console/experiments/retire", retire_form(variant="cost"))
    status, html = await post("/console/experiments/retire", retire_form(variant="early-only"))
    assert status == 409 and "last active variant" in html
    assert active(console, OFFICE) == ["early-only"]


async def test_without_experiments_the_page_says_so(booking, console, tmp_path, monkeypatch):
    # A file of its own: offices.yml is read once per path.
    plain = tmp_path / "no-experiments.yml"
    plain.write_text("offices:\n  oac-centre:\n    sms_fallback: true\n", encoding="utf-8")
    monkeypatch.setenv("RECORDA_OFFICES_FILE", str(plain))
    admin = await console.client("admin")
    status, html = await admin.get("/console/experiments")
    assert status == 200 and "No office has a wording experiment in offices.yml." in html
    assert "office-experiment" not in html
