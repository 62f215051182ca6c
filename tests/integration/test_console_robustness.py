"""The console under bad input and missing neighbours: whatever a browser,
a mistyped link or a curious person sends, every page answers with a page
or a clear 4xx, never a server error (500); and with the tracker store not
created yet (Rasa never ran), an empty database or the booking system down,
every page still opens.

Each test runs twice: with the booking system down (one that says so at
once: the REST adapter's retries would only make the tests slow) and with
one that answers."""
from __future__ import annotations

import re
from datetime import timedelta, timezone
from typing import Iterable, List, Tuple

import pytest
from yarl import URL

import bot.foundation.clock
from bot.booking import BookingSystem, BookingUnavailable
from bot.console.query_values import MAX_PAGE, page_number, row_id
from bot.console.tracker import _metadata
from bot.dev.sandbox.booking_seed import MADRID
from bot.offices.service_days import next_service_day
from bot.reminders import states
from bot.reminders.store import ReminderStore
from tests.support.town_booking import TownBooking

ANNA = "+34612345678"
NOW = bot.foundation.clock.now(timezone.utc).replace(microsecond=0)


class DownBookingSystem(BookingSystem):
    """A booking system that is down: every call fails at once."""

    async def _down(self, *args, **kwargs):
        raise BookingUnavailable("the booking system is down (test)")

    list_offices = get_office = get_procedure = list_appointments = upcoming_appointments = _down
    get_appointment = confirm = cancel = record_attendance = booking_link = _down

    async def close(self) -> None:
        return None


@pytest.fixture(params=["down", "up"])
def booking(request):
    """Down, or up with one office and its appointments (those of
    tests/support/town_booking.py)."""
    return DownBookingSystem() if request.param == "down" else TownBooking()


# Every GET route of the console, with the query parameters it reads.
GET_ROUTES = {
    "/console/": (),
    "/console/sign-in": ("next", "lang"),
    "/console/day": ("date", "office", "lang"),
    "/console/day.csv": ("date", "office", "numbers"),
    "/console/conversations": ("from", "to", "office", "state", "intent", "language", "flagged", "low",
                               "who", "page"),
    "/console/conversations/{key}": (),
    "/console/figures": ("from", "to", "office"),
    "/console/figures/answer-rate.csv": ("from", "to", "office"),
    "/console/nlu": ("from", "to", "threshold", "status", "language", "intent", "page", "saved"),
    "/console/nlu/export.yml": ("scope",),
    "/console/users": ("done", "user"),
    "/console/users/{user_id}": ("done",),
    "/console/reveals": ("page", "user"),
    "/console/experiments": ("done", "office", "variant"),
}

# What a mistyped link, an old bookmark or a curious person may send.
JUNK = (
    "", " ", "x", "0", "-1", "²", "٣", "1" * 5000, "9" * 25, "1e309", "nan", "inf", "0,5",
    "2026-02-30", "0001-01-01", "9999-12-31", "10000-01-01", "2026-13-01", "+34612345678",
    "<script>alert(1)</script>", "'\"><b>", "{name}", "%s%s", "\x00", "\ud800", "é" * 300,
    "//evil.example/", "/console/../../etc/passwd", "a" * 2000,
)
# Percent-encoded bytes that are not UTF-8.
RAW_QUERIES = ("date=%ff%fe", "from=%c3%28&to=%80", "page=%ff", "who=%00%ff", "scope=%e2%82",
               "office=%ff&office=%fe", "next=%ff")


def fill(console) -> None:
    """One conversation and one reminder, so that the pages have rows."""
    store = ReminderStore(console.settings.db_url)
    # The day the day view opens on: on a Friday, Monday, not Saturday.
    day = next_service_day(NOW.astimezone(MADRID).date())
    store.schedule("A1", day, "oac-centre", ANNA, "ca", at=NOW - timedelta(hours=2))
    assert store.claim_for_sending("A1", at=NOW - timedelta(hours=1))
    store.mark_sent("A1", "m-A1", at=NOW - timedelta(hours=1))
    store.record_answer("A1", states.CANCELLED, "button", at=NOW - timedelta(minutes=30))
    console.tracker.user(ANNA, NOW - timedelta(minutes=40), "on és l'oficina?", "ask_location", 0.31)
    console.tracker.bot(ANNA, NOW - timedelta(minutes=40), "A la Plaça de la Vila, 1.")


async def conversation_key(client) -> str:
    status, html = await client.get("/console/conversations")
    assert status == 200, html[:300]
    found = re.search(r'data-key="([0-9a-f]+)"', html)
    return found.group(1) if found else "0" * 20


def concrete(path: str, key: str, user_id: int) -> str:
    return path.format(key=key, user_id=user_id)


def junk_requests(key: str, user_id: int) -> Iterable[Tuple[str, List[Tuple[str, str]]]]:
    for route, params in GET_ROUTES.items():
        path = concrete(route, key, user_id)
        for name in params:
            for value in JUNK:
                yield path, [(name, value)]
            yield path, [(name, "1"), (name, "2")]          # a parameter given twice
        yield path, [("unknown", "x")]
    # Both ends of a range at the edge of the calendar.
    for route in ("/console/conversations", "/console/figures", "/console/figures/answer-rate.csv",
                  "/console/nlu"):
        for edge in ("0001-01-01", "9999-12-31"):
            yield route, [("from", edge), ("to", edge)]
    # The confirmation of a change names the user it was about.
    for value in JUNK:
        yield "/console/users", [("done", "created"), ("user", value)]
    # Ids in the path that name nothing.
    for junk in ("0", "-1", "9" * 25, "1" * 5000, "%C2%B2", "x", "%00", "%FF", "..", "a" * 300):
        for route in ("/console/conversations/{}", "/console/users/{}", "/console/figures/{}",
                      "/console/figures/{}.csv"):
            yield route.format(junk), []


async def assert_no_server_error(client, requests) -> None:
    failures = []
    for path, params in requests:
        async with client.session.get(client.base + path, params=params, allow_redirects=False) as resp:
            body = await resp.text(errors="replace")
            if resp.status >= 500:
                failures.append(f"{resp.status} {path} {params!r:.120}: {body[:200]!r}")
    assert not failures, f"{len(failures)} server error(s):\n" + "\n".join(failures[:40])


async def test_no_get_route_answers_junk_parameters_with_a_server_error(booking, console):
    fill(console)
    admin = await console.client("admin")
    key = await conversation_key(admin)
    user_id = console.accounts.get_by_username("staff").id
    await assert_no_server_error(admin, list(junk_requests(key, user_id)))


async def test_no_get_route_answers_bytes_that_are_not_utf8_with_a_server_error(booking, console):
    fill(console)
    admin = await console.client("admin")
    user_id = console.accounts.get_by_username("staff").id
    failures = []
    for route in GET_ROUTES:
        for query in RAW_QUERIES:
            url = f"{admin.base}{concrete(route, '0' * 20, user_id)}?{query}"
            # encoded=True: the bytes go as they are, not quoted again.
            async with admin.session.get(URL(url, encoded=True), allow_redirects=False) as resp:
                if resp.status >= 500:
                    failures.append(f"{resp.status} {url}")
    assert not failures, "\n".join(failures)


# Every POST route of the console, with the form fields it reads.
POST_ROUTES = {
    "/console/language": ("language", "next"),
    "/console/reveal": ("reference", "purpose", "next"),
    "/console/conversations/search": ("number", "from", "to", "office", "state", "intent", "language",
                                      "flagged", "low"),
    "/console/nlu/review": ("save", "label_1", "next"),
    "/console/users": ("username", "display_name", "role", "language", "password", "password_again"),
    "/console/users/{user_id}": ("display_name", "role", "language", "active"),
    "/console/users/{user_id}/password": ("password", "password_again"),
    "/console/experiments/retire": ("office", "experiment", "variant", "confirm"),
}
POST_JUNK = tuple(value for value in JUNK if value != "\ud800") + (
    "appointment:", "conversation:", "appointment:" + "9" * 25, "conversation:" + "0" * 20,
    "conversation:" + "f" * 20 + "\n", "day:2026-01-01:x", ":", "label_" + "9" * 25)


def junk_forms(user_id: int) -> Iterable[Tuple[str, dict]]:
    for route, fields in POST_ROUTES.items():
        path = route.format(user_id=user_id)
        for name in fields:
            for value in POST_JUNK:
                yield path, {name: value}
    # Users that no database integer could be.
    for user_id in ("0", "9" * 25):
        yield f"/console/users/{user_id}", {"display_name": "X"}
        yield f"/console/users/{user_id}/password", {"password": "x" * 12, "password_again": "x" * 12}
    # An NLU label for a tracker event id that no database integer holds.
    for event_id in ("9" * 25, "1" * 5000, "²", "0"):
        yield "/console/nlu/review", {"save": event_id, f"label_{event_id}": "greet"}
        yield "/console/nlu/review", {"save": "all", f"label_{event_id}": "greet"}


async def test_no_post_route_answers_junk_fields_with_a_server_error(booking, console):
    fill(console)
    admin = await console.client("admin")
    await admin.get("/console/day")
    staff_id = console.accounts.get_by_username("staff").id
    failures = []
    for path, form in junk_forms(staff_id):
        status, body = await admin.post(path, form, follow=False)
        if status >= 500:
            failures.append(f"{status} {path} {form!r:.120}: {body[:200]!r}")
    assert not failures, f"{len(failures)} server error(s):\n" + "\n".join(failures[:40])
    status, _ = await admin.get("/console/day")
    assert status == 200, "the junk ended the admin's own session"


@pytest.mark.parametrize("booking", ["down"], indirect=True)
async def test_every_page_opens_before_rasa_ever_ran_with_nothing_stored_and_the_booking_system_down(
        booking, console):
    _metadata.drop_all(console.tracker.engine)          # no `events` table: Rasa never ran
    admin = await console.client("admin")
    user_id = console.accounts.get_by_username("staff").id
    pages = {}
    for route in GET_ROUTES:
        async with admin.session.get(admin.base + concrete(route, "0" * 20, user_id)) as resp:
            pages[route] = (resp.status, await resp.text())
    expected = {route: 200 for route in GET_ROUTES}
    expected["/console/conversations/{key}"] = 404      # no conversation has that key
    expected["/console/day.csv"] = 503                  # no office known: nothing to put in a file
    assert {route: status for route, (status, _) in pages.items()} == expected
    assert "The booking system is not answering right now" in pages["/console/day"][1]
    assert "No office is known" in pages["/console/day.csv"][1]
    assert "conversations cannot be read" in pages["/console/conversations"][1]
    assert "conversations cannot be read" in pages["/console/nlu"][1]
    assert "nlu: []" in pages["/console/nlu/export.yml"][1]


@pytest.mark.parametrize("booking", ["down"], indirect=True)
async def test_a_date_beyond_the_years_2000_to_2099_gets_a_clear_message_on_every_page(booking, console):
    admin = await console.client("admin")
    for path in ("/console/day", "/console/conversations", "/console/figures", "/console/nlu"):
        for far in ({"from": "9999-12-31", "to": "9999-12-31"}, {"to": "0001-01-01"}, {"date": "9999-12-31"}):
            if ("date" in far) != (path == "/console/day"):
                continue
            status, html = await admin.get(path, **far)
            assert status == 400 and "between the years 2000 and 2099" in html, (path, far, status)


def test_page_numbers_and_ids_are_plain_digits_within_their_limits():
    assert page_number("3") == 3 and page_number(" 12 ") == 12 and page_number(str(MAX_PAGE)) == MAX_PAGE
    for typed in ("0", "-1", "²", "٣", "1.5", "", None, str(MAX_PAGE + 1), "1" * 5000):
        assert page_number(typed) is None, typed
    assert row_id(str(2 ** 63 - 1)) == 2 ** 63 - 1
    assert row_id(str(2 ** 63)) is None and row_id("9" * 25) is None and row_id("²") is None
