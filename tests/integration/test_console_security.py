"""The console's security as a whole, route by route: every route of the
console needs a session and its role, every form its CSRF token; nothing
redirects off the console; what citizens wrote is shown as text; a full
number shows nowhere (page, file, header, log) until a session reveals it.

The booking system is an in-process one with one office and one
appointment whose name a citizen could have typed to cause trouble."""
from __future__ import annotations

import csv
import io
import logging
import re
from datetime import timedelta
from typing import Dict, List, Tuple
from urllib.parse import urlparse

import pytest

import bot.foundation.clock
from bot.console.accounts import ADMIN, EDITOR, STAFF, role_at_least
from bot.dev.sandbox.booking_seed import MADRID
from bot.reminders import states
from bot.reminders.store import ReminderStore
from tests.support.console import PASSWORD
from tests.support.town_booking import ANNA_AS_TYPED, DAY, FORMULA_NAME, NASTY_NAME, OFFICE, TownBooking

ANNA = "+34612345678"
ANNA_SHAPES = ("612345678", ANNA_AS_TYPED, "612-34-56-78")
NASTY_MESSAGE = "<img src=x onerror=alert(1)> on és l'oficina?"


@pytest.fixture
def booking():
    return TownBooking()


def fill(console) -> None:
    """Anna's reminder (sent, then cancelled) and her conversation."""
    store = ReminderStore(console.settings.db_url)
    now = bot.foundation.clock.now(MADRID).replace(microsecond=0)
    store.schedule("A1", DAY, OFFICE, ANNA, "ca", at=now - timedelta(hours=2))
    assert store.claim_for_sending("A1", at=now - timedelta(hours=1))
    store.mark_sent("A1", "m-A1", at=now - timedelta(hours=1))
    store.record_answer("A1", states.CANCELLED, "button", at=now - timedelta(minutes=30))
    console.tracker.slot(ANNA, now - timedelta(minutes=50), "language", "ca")
    console.tracker.user(ANNA, now - timedelta(minutes=40), NASTY_MESSAGE, "ask_location", 0.31)
    console.tracker.bot(ANNA, now - timedelta(minutes=40), "A la Plaça de la Vila, 1.")


# --- every route: a session, its role, its CSRF token ---------------------------------------------
# The least role of each console route; None: open without a session.
ROUTES: Dict[Tuple[str, str], str] = {
    ("GET", "/console"): STAFF,
    ("GET", "/console/sign-in"): None,
    ("POST", "/console/sign-in"): None,
    ("POST", "/console/sign-out"): STAFF,
    ("POST", "/console/language"): STAFF,
    ("POST", "/console/reveal"): STAFF,
    ("GET", "/console/day"): STAFF,
    ("GET", "/console/day.csv"): STAFF,
    ("GET", "/console/conversations"): STAFF,
    ("POST", "/console/conversations/search"): STAFF,
    ("GET", "/console/conversations/<key:str>"): STAFF,
    ("GET", "/console/figures"): STAFF,
    ("GET", "/console/figures/<filename:str>"): STAFF,
    ("GET", "/console/nlu"): EDITOR,
    ("POST", "/console/nlu/review"): EDITOR,
    ("GET", "/console/nlu/export.yml"): EDITOR,
    ("GET", "/console/users"): ADMIN,
    ("POST", "/console/users"): ADMIN,
    ("GET", "/console/users/<user_id:int>"): ADMIN,
    ("POST", "/console/users/<user_id:int>"): ADMIN,
    ("POST", "/console/users/<user_id:int>/password"): ADMIN,
    ("GET", "/console/reveals"): ADMIN,
    ("GET", "/console/experiments"): ADMIN,
    ("POST", "/console/experiments/retire"): ADMIN,
}
FILES = (".csv", ".yml")


def console_routes(app) -> List[Tuple[str, str]]:
    """(method, path) of every route the app serves under /console."""
    found = set()
    for route in app.router.routes:
        path = "/" + route.path
        if path == "/console" or path.startswith("/console/"):
            found.update((method, path) for method in route.methods)
    return sorted(found)


def concrete(path: str, key: str, user_id: int) -> str:
    return (path.replace("<key:str>", key).replace("<user_id:int>", str(user_id))
            .replace("<filename:str>", "answer-rate.csv"))


async def test_every_console_route_is_known_here_with_the_role_it_needs(booking, console):
    # A new route must be added to ROUTES, so that the tests below check it.
    assert console_routes(console.app) == sorted(ROUTES)


async def test_no_console_route_answers_without_a_session(booking, console):
    fill(console)
    anonymous = await console.client()
    user_id = console.accounts.get_by_username("staff").id
    for (method, path), role in ROUTES.items():
        if role is None:
            continue
        url = anonymous.base + concrete(path, "0" * 20, user_id)
        async with anonymous.session.request(method, url, data={"csrf": "x", "reference": "appointment:A1"},
                                             allow_redirects=False) as resp:
            body = await resp.text()
            if method == "GET" and not url.endswith(FILES):
                assert resp.status == 303, (method, path, resp.status)
                assert resp.headers["Location"].startswith("/console/sign-in?next="), path
            else:
                assert resp.status == 401, (method, path, resp.status)
            assert not any(shape in body for shape in ANNA_SHAPES)
    assert console.accounts.reveals() == []


async def test_each_route_refuses_the_roles_below_its_own(booking, console):
    fill(console)
    admin_id = console.accounts.get_by_username("admin").id
    for username in ("staff", "editor"):
        client = await console.client(username)
        await client.get("/console/day")
        role = console.accounts.get_by_username(username).role
        for (method, path), needed in ROUTES.items():
            if needed is None or role_at_least(role, needed):
                continue
            url = concrete(path, "0" * 20, admin_id)
            if method == "GET":
                status, html = await client.get(url)
            else:
                status, html = await client.post(url, {"role": "staff", "active": "0", "password": PASSWORD,
                                                       "password_again": PASSWORD, "username": "intruder",
                                                       "display_name": "Intruder", "language": "ca",
                                                       "save": "all"}, follow=False)
            assert status == 403, (username, method, path, status)
    admin = console.accounts.get_by_username("admin")
    assert admin.role == ADMIN and admin.active and console.accounts.get_by_username("intruder") is None
    assert (await console.client("admin")) is not None, "the admin's password is unchanged"


async def test_every_form_needs_the_sessions_own_csrf_token(booking, console):
    fill(console)
    admin = await console.client("admin")
    await admin.get("/console/day")
    other = await console.client("staff")
    await other.get("/console/day")
    staff_id = console.accounts.get_by_username("staff").id
    form = {"language": "es", "reference": "appointment:A1", "username": "newcomer", "display_name": "New",
            "role": "admin", "password": PASSWORD, "password_again": PASSWORD, "active": "0", "save": "all"}
    for (method, path), role in ROUTES.items():
        if method != "POST" or role is None:
            continue
        url = concrete(path, "0" * 20, staff_id)
        for token in ("", "forged", other.csrf):     # none, made up, another session's
            status, _ = await admin.post(url, form, csrf=token, follow=False)
            assert status == 403, (path, token, status)
    staff = console.accounts.get_by_username("staff")
    assert staff.active and console.accounts.get_by_username("newcomer") is None
    assert console.accounts.get_by_username("admin").language == "en"
    assert console.accounts.reveals() == []
    status, html = await admin.get("/console/day")
    assert status == 200 and "sign-out" in html, "a forged sign-out did not sign the admin out"


# --- redirects, sessions, cookies --------------------------------------------------------------
OFF_SITE = ("//evil.example/console/day", "https://evil.example/console/day", "/\\evil.example/console/",
            "\\\\evil.example", "/console\\@evil.example", "javascript:alert(1)", "http:/console/day",
            "/console/day\r\nSet-Cookie: planted=1", "/\t/evil.example/", " //evil.example", "/consolex")


def stays_on_the_console(location: str) -> bool:
    parsed = urlparse(location)
    return (not parsed.scheme and not parsed.netloc and location.startswith("/console/")
            and "\r" not in location and "\n" not in location and "\\" not in location)


async def test_no_next_parameter_leads_off_the_console(booking, console):
    fill(console)
    for target in OFF_SITE:
        client = await console.client()
        status, html = await client.get("/console/sign-in", next=target)
        assert status == 200
        hidden = re.search(r'name="next" value="([^"]*)"', html).group(1)
        assert stays_on_the_console(hidden), (target, hidden)
        async with client.session.post(client.base + "/console/sign-in", allow_redirects=False, data={
                "csrf": client.csrf, "username": "staff", "password": PASSWORD, "next": target}) as resp:
            assert resp.status == 303 and stays_on_the_console(resp.headers["Location"]), target
            assert "planted" not in str(resp.headers)
        for path, form in (("/console/language", {"language": "ca"}),
                           ("/console/reveal", {"reference": "appointment:A1"})):
            await client.get("/console/day")
            async with client.session.post(client.base + path, data=dict(form, next=target, csrf=client.csrf),
                                           allow_redirects=False) as resp:
                assert resp.status == 303 and stays_on_the_console(resp.headers["Location"]), (path, target)
        # Signed in, the sign-in page sends on, and not off the console either.
        async with client.session.get(client.base + "/console/sign-in", params={"next": target},
                                      allow_redirects=False) as resp:
            assert resp.status == 303 and stays_on_the_console(resp.headers["Location"]), target


async def test_signing_in_gives_a_new_token_in_a_strict_cookie(booking, console):
    client = await console.client()
    planted = "chosen-by-someone-else-" + "x" * 20
    client.session.cookie_jar.update_cookies({"recorda_console": planted})
    await client.get("/console/sign-in")
    async with client.session.post(client.base + "/console/sign-in", allow_redirects=False, data={
            "csrf": client.csrf, "username": "staff", "password": PASSWORD}) as resp:
        assert resp.status == 303
        cookie = resp.cookies["recorda_console"]
    assert cookie.value != planted and console.accounts.session(cookie.value) is not None
    assert console.accounts.session(planted) is None
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/console"
    assert int(cookie["max-age"]) == int(console.accounts.lifetime.total_seconds())


# --- what citizens wrote is text ----------------------------------------------------------------
async def test_what_citizens_and_clerks_typed_is_shown_as_text_and_files_carry_no_formulas(
        booking, console):
    fill(console)
    editor = await console.client("editor")
    status, day = await editor.get("/console/day", date=DAY.isoformat(), office=OFFICE)
    assert status == 200
    assert "<script>" not in day and "&lt;script&gt;alert(" in day
    assert "<b>'Vila'</b>" not in day and "<i>d" not in day
    status, listing = await editor.get("/console/conversations")
    key = re.search(r'data-key="([0-9a-f]+)"', listing).group(1)
    status, transcript = await editor.get(f"/console/conversations/{key}")
    assert status == 200 and "<img src=x" not in transcript and "&lt;img src=x onerror=alert(1)&gt;" in transcript
    status, nlu = await editor.get("/console/nlu")
    assert status == 200 and "<img src=x" not in nlu and "&lt;img src=x" in nlu
    status, body, _ = await editor.get_raw("/console/day.csv", date=DAY.isoformat(), office=OFFICE)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    names = [row[2] for row in rows[1:]]
    assert "'" + FORMULA_NAME in names and NASTY_NAME in names
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows[1:] for cell in row)


# --- numbers ------------------------------------------------------------------------------------
async def test_a_full_number_shows_nowhere_until_revealed_and_then_in_that_session_only(
        booking, console, caplog):
    caplog.set_level(logging.DEBUG)
    fill(console)
    staff, other = await console.client("staff"), await console.client("staff")
    admin = await console.client("admin")
    status, listing = await staff.get("/console/conversations")
    key = re.search(r'data-key="([0-9a-f]+)"', listing).group(1)
    day = {"date": DAY.isoformat(), "office": OFFICE}
    pages = [("/console/day", day), ("/console/day.csv", day), ("/console/conversations", {}),
             (f"/console/conversations/{key}", {}), ("/console/figures", {}),
             ("/console/figures/answer-rate.csv", {})]

    async def everything(client, extra=()) -> str:
        seen = []
        for path, params in list(pages) + list(extra):
            status, body, headers = await client.get_raw(path, **params)
            assert status == 200, (path, status)
            seen.append(body.decode("utf-8", "replace") + repr(headers))
        return "\n".join(seen)

    admin_pages = [("/console/nlu", {}), ("/console/nlu/export.yml", {"scope": "all"}), ("/console/users", {}),
                   ("/console/reveals", {})]
    for seen in (await everything(staff), await everything(admin, admin_pages)):
        assert not any(shape in seen for shape in ANNA_SHAPES)

    # Revealed on the transcript: there, in this session, as a tap-to-call link.
    await staff.get(f"/console/conversations/{key}")
    status, transcript = await staff.post("/console/reveal", {"reference": f"conversation:{key}",
                                                              "next": f"/console/conversations/{key}"})
    assert status == 200 and f'href="tel:{ANNA}"' in transcript
    seen = await everything(other)
    assert not any(shape in seen for shape in ANNA_SHAPES), "another session"
    status, html = await staff.get("/console/day", **day)
    assert ANNA not in html, "revealed for the conversation, not for every page"
    # The full-number file is a reveal too, and says so in the log.
    status, body, _ = await staff.get_raw("/console/day.csv", numbers="full", **day)
    assert ANNA in body.decode("utf-8-sig")
    assert [r.reference for r in console.accounts.reveals()] == [f"day:{DAY.isoformat()}:{OFFICE}",
                                                                  f"conversation:{key}"]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "revealed" in logged and not any(shape in logged for shape in ANNA_SHAPES)
