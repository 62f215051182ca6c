"""The console's conversations: the list with its filters and search by
number, and a transcript with the delivery timeline of the citizen's
reminders, read from a Rasa-shaped tracker store and the reminder store."""
from __future__ import annotations

import html as html_lib
import re
from datetime import date, datetime, timedelta, timezone
from typing import Dict, Set, Tuple
from urllib.parse import parse_qs, urlparse

import pytest

import bot.foundation.clock
from bot.console.conversation_filters import MAX_SEARCHED_SENDERS, FilterError, NumberSearch, parse_who
from bot.console.conversation_keys import ConversationKeys
from bot.reminders import states
from bot.reminders.store import ReminderStore
from tests.support.console import utc

ANNA, BRUNO, CARLA, OLD = "+34612345678", "+34622334455", "+34633445566", "+34644556677"
RANGE = {"from": "2026-11-02", "to": "2026-11-03"}
REMINDER_TEMPLATE = {"whatsapp_template": {
    "template": "appointment_reminder", "appointment_id": "A1", "language": "ca",
    "parameters": ["Anna", "dimarts, 3 de novembre, a les 9:30", "Alta al padró d'habitants",
                   "OAC Centre, Plaça de la Vila, 1", "https://www.openstreetmap.org/?mlat=41.2",
                   "https://www.vilademar.cat/tramits/alta-padro"],
    "quick_replies": ['/confirm_appointment{"appointment_id":"A1"}',
                      '/cancel_appointment{"appointment_id":"A1"}']}}


def send(store: ReminderStore, aid: str, service_day: date, office: str, phone: str, language: str,
         at: datetime) -> None:
    store.schedule(aid, service_day, office, phone, language, at=at - timedelta(minutes=1))
    assert store.claim_for_sending(aid, at=at)
    store.mark_sent(aid, f"m-{aid}", at=at)


def fill(console) -> None:
    """Three citizens who wrote on Monday 2 November 2026 (Madrid), and one
    who wrote in October only."""
    tracker, store = console.tracker, ReminderStore(console.settings.db_url)

    # Anna: reminder in Catalan, reads it, asks where the office is, cancels with the button.
    send(store, "A1", date(2026, 11, 3), "oac-centre", ANNA, "ca", utc(2026, 11, 2, 16, 1))
    store.apply_provider_status("m-A1", "delivered", at=utc(2026, 11, 2, 16, 2))
    store.apply_provider_status("m-A1", "read", at=utc(2026, 11, 2, 16, 5))
    store.record_answer("A1", states.CANCELLED, "button", at=utc(2026, 11, 2, 16, 12))
    tracker.add(ANNA, "user", utc(2026, 11, 2, 16, 0, 58), {
        "text": "EXTERNAL: EXTERNAL_appointment_reminder", "metadata": {"is_external": True},
        "parse_data": {"intent": {"name": "EXTERNAL_appointment_reminder"},
                       "entities": [{"entity": "appointment_id", "value": "A1"},
                                    {"entity": "language", "value": "ca"}]}},
        intent="EXTERNAL_appointment_reminder")
    tracker.slot(ANNA, utc(2026, 11, 2, 16, 0, 59), "language", "ca")
    tracker.action(ANNA, utc(2026, 11, 2, 16, 1), "action_send_reminder")
    tracker.bot(ANNA, utc(2026, 11, 2, 16, 1), "Hola, Anna. Us recordem la vostra cita prèvia...",
                {"custom": REMINDER_TEMPLATE})
    tracker.slot(ANNA, utc(2026, 11, 2, 16, 1), "language", "ca")   # set again: not a change
    tracker.slot(ANNA, utc(2026, 11, 2, 16, 1), "appointment_id", "A1")
    tracker.action(ANNA, utc(2026, 11, 2, 16, 1, 1), "action_listen")
    tracker.user(ANNA, utc(2026, 11, 2, 16, 8), "a quina adreça és l'oficina", "ask_location", 0.93,
                 entities=[{"entity": "language", "value": "ca"}])
    tracker.bot(ANNA, utc(2026, 11, 2, 16, 8, 1), "L'oficina és a la Plaça de la Vila, 1.")
    tracker.user(ANNA, utc(2026, 11, 2, 16, 12), '/cancel_appointment{"appointment_id":"A1"}',
                 "cancel_appointment", 1.0)
    tracker.action(ANNA, utc(2026, 11, 2, 16, 12, 1), "action_cancel_appointment")
    tracker.bot(ANNA, utc(2026, 11, 2, 16, 12, 2), "Hem anul·lat la cita. Per demanar-ne una altra:",
                {"buttons": [{"title": "Demana cita", "payload": "/request_new_appointment"}]})

    # Bruno: Spanish, confirmed, then asks for a person (flagged); his read receipt comes late.
    send(store, "B1", date(2026, 11, 3), "oac-can-mas", BRUNO, "es", utc(2026, 11, 2, 16, 1))
    store.apply_provider_status("m-B1", "delivered", at=utc(2026, 11, 2, 16, 3))
    store.record_answer("B1", states.CONFIRMED, "text", at=utc(2026, 11, 2, 18, 0))
    store.apply_provider_status("m-B1", "read", at=utc(2026, 11, 2, 18, 1))
    tracker.slot(BRUNO, utc(2026, 11, 2, 16, 1), "language", "es")
    tracker.user(BRUNO, utc(2026, 11, 2, 18, 0), "sí, iré", "confirm_appointment", 0.97)
    tracker.user(BRUNO, utc(2026, 11, 2, 18, 5), "quiero hablar con alguien", "request_human", 0.88)
    tracker.action(BRUNO, utc(2026, 11, 2, 18, 5, 1), "action_request_human")
    tracker.bot(BRUNO, utc(2026, 11, 2, 18, 5, 1), "Puede llamar al 938 100 120.")
    tracker.slot(BRUNO, utc(2026, 11, 2, 18, 5, 1), "flagged_for_staff", True)

    # Carla: English, the assistant is unsure of both her messages; her reminder is only delivered.
    send(store, "C1", date(2026, 11, 3), "oac-la-platja", CARLA, "en", utc(2026, 11, 2, 16, 2))
    store.apply_provider_status("m-C1", "delivered", at=utc(2026, 11, 2, 16, 4))
    tracker.slot(CARLA, utc(2026, 11, 2, 16, 2), "language", "en")
    tracker.user(CARLA, utc(2026, 11, 2, 20, 0), "asdf qwer", "nlu_fallback", 0.31)
    tracker.bot(CARLA, utc(2026, 11, 2, 20, 0, 1), "Sorry, I did not understand.")
    tracker.user(CARLA, utc(2026, 11, 2, 20, 1), "when r u open tmrw", "ask_opening_hours", 0.45)

    # Someone who wrote in October only.
    tracker.user(OLD, utc(2026, 10, 20, 9, 0), "hola", "greet", 0.99)
    tracker.bot(OLD, utc(2026, 10, 20, 9, 0, 1), "Hola!")


def keys(console) -> Dict[str, str]:
    keyring = ConversationKeys(console.settings.link_secret)
    return {keyring.key(number): number for number in (ANNA, BRUNO, CARLA, OLD)}


def listed(console, html: str) -> Set[str]:
    """The numbers of the conversations a list page shows, found by their keys."""
    by_key = keys(console)
    return {by_key[key] for key in re.findall(r'data-key="([0-9a-f]+)"', html)}


def listed_keys(html: str) -> list:
    return re.findall(r'data-key="([0-9a-f]+)"', html)


def text_of(html: str) -> str:
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


async def test_the_list_shows_the_conversations_of_the_range_and_not_others(console):
    fill(console)
    staff = await console.client("staff")
    status, html = await staff.get("/console/conversations", **RANGE)
    assert status == 200
    assert listed(console, html) == {ANNA, BRUNO, CARLA}
    status, html = await staff.get("/console/conversations", **{"from": "2026-10-19", "to": "2026-10-20"})
    assert listed(console, html) == {OLD}
    status, html = await staff.get("/console/conversations", **{"from": "2026-11-04", "to": "2026-11-05"})
    assert listed(console, html) == set() and "Nothing to show" in html


async def test_the_list_is_newest_first_with_its_columns(console):
    fill(console)
    staff = await console.client("staff")
    status, html = await staff.get("/console/conversations", **RANGE)
    order = [keys(console)[k] for k in re.findall(r'data-key="([0-9a-f]+)"', html)]
    assert order == [CARLA, BRUNO, ANNA]
    anna_row = text_of(html.split(f'data-key="{ConversationKeys(console.settings.link_secret).key(ANNA)}"')[1]
                       .split("</tr>")[0])
    # Office (its id: the booking system is down in this test), state, language,
    # last message at 17:12 Madrid time, 2 messages (a typed one and a tap), last intent, no flags.
    assert "oac-centre" in anna_row and "Cancelled" in anna_row and "Català" in anna_row
    assert "2 Nov 2026, 17:12" in anna_row and " 2 " in anna_row
    assert "Cancels the appointment" in anna_row
    assert "wants a person" not in anna_row and "unsure" not in anna_row
    carla_row = text_of(html.split(f'data-key="{ConversationKeys(console.settings.link_secret).key(CARLA)}"')[1]
                        .split("</tr>")[0])
    assert "unsure" in carla_row and "Delivered" in carla_row and "English" in carla_row


FILTER_CASES = [
    ({"office": "oac-centre"}, {ANNA}),
    ({"office": "oac-la-platja"}, {CARLA}),
    ({"state": "cancelled"}, {ANNA}),
    ({"state": "confirmed"}, {BRUNO}),
    ({"state": "expired"}, set()),
    ({"intent": "request_human"}, {BRUNO}),
    ({"intent": "ask_opening_hours"}, {CARLA}),
    ({"intent": "nlu_fallback"}, {CARLA}),
    ({"intent": "cancel_appointment"}, {ANNA}),        # a tap carries its intent
    ({"language": "ca"}, {ANNA}),
    ({"language": "es"}, {BRUNO}),
    ({"language": "en"}, {CARLA}),
    ({"flagged": "1"}, {BRUNO}),
    ({"low": "1"}, {CARLA}),
    ({"state": "confirmed", "flagged": "1"}, {BRUNO}),
    ({"state": "confirmed", "low": "1"}, set()),
]
NUMBER_CASES = [
    ("612 34 56 78", ANNA),
    ("+34612345678", ANNA),
    ("0034 622 33 44 55", BRUNO),
    ("622-334-455", BRUNO),
    ("5566", CARLA),
    ("45 566", CARLA),
]


async def test_each_filter_narrows_the_list(console):
    fill(console)
    staff = await console.client("staff")
    for params, expected in FILTER_CASES:
        status, html = await staff.get("/console/conversations", **RANGE, **params)
        assert status == 200, params
        assert listed(console, html) == expected, params


async def search(staff, typed: str, **filters) -> Tuple[int, str, str]:
    """Types a number into the list's search form: (status, Location, body).
    The search is POSTed (with the list's filters) and answered with a redirect."""
    await staff.get("/console/conversations", **filters)       # the page with the form (and its token)
    async with staff.session.post(staff.base + "/console/conversations/search", allow_redirects=False,
                                  data={"csrf": staff.csrf, "number": typed, **filters}) as resp:
        return resp.status, resp.headers.get("Location", ""), await resp.text()


def digits(number: str) -> str:
    return re.sub(r"\D", "", number)


async def test_search_by_number_in_the_ways_staff_type_it_keeps_the_number_out_of_urls(console):
    fill(console)
    staff = await console.client("staff")
    for typed, expected in NUMBER_CASES:
        status, location, _ = await search(staff, typed, **RANGE)
        assert status == 303, typed
        # Back to the list, with the filters and the found conversation's key, not the number.
        query = parse_qs(urlparse(location).query)
        assert urlparse(location).path == "/console/conversations"
        assert query["who"] == [ConversationKeys(console.settings.link_secret).key(expected)], typed
        assert query["from"] == [RANGE["from"]] and query["to"] == [RANGE["to"]]
        assert digits(typed) not in location and digits(expected)[-9:] not in location, location
        status, html = await staff.get(location)
        assert status == 200 and listed(console, html) == {expected}, typed
        assert "Showing the conversations of the number you searched (1 found)" in text_of(html)
        assert typed not in html and digits(typed) not in html, "the number is not echoed"
        assert 'name="number" value=""' in html
        # The reveal's and the language switch's way back keep the search, never the number.
        back = "/console/conversations?" + urlparse(location).query.replace("&", "&amp;")
        assert f'name="next" value="{back}"' in html


async def test_a_searched_number_is_followed_by_a_browser_to_a_url_without_it(console):
    fill(console)
    staff = await console.client("staff")
    await staff.get("/console/conversations", **RANGE)
    async with staff.session.post(staff.base + "/console/conversations/search",
                                  data={"csrf": staff.csrf, "number": "612 34 56 78", **RANGE}) as resp:
        html = await resp.text()
        assert resp.status == 200 and [r.status for r in resp.history] == [303]
        assert "612345678" not in str(resp.url) and "who=" in str(resp.url)
    assert listed(console, html) == {ANNA}
    # Clearing the search goes back to the same dates, every conversation.
    clear = html_lib.unescape(re.search(r'href="([^"]+)" data-test="clear-search"', html).group(1))
    assert "who=" not in clear
    status, html = await staff.get(clear)
    assert listed(console, html) == {ANNA, BRUNO, CARLA} and 'data-test="number-searched"' not in html


async def test_a_search_keeps_the_other_filters(console):
    fill(console)
    staff = await console.client("staff")
    # Another number ends in 4455 like Bruno's; only Bruno's conversation is flagged.
    console.tracker.user("+34699994455", utc(2026, 11, 2, 9, 0), "hola", "greet", 0.99)
    status, location, _ = await search(staff, "4455", **RANGE)
    status, html = await staff.get(location)
    assert len(listed_keys(html)) == 2 and "(2 found)" in html
    status, location, _ = await search(staff, "4455", flagged="1", **RANGE)
    status, html = await staff.get(location)
    assert parse_qs(urlparse(location).query)["flagged"] == ["1"]
    assert listed(console, html) == {BRUNO} and "(1 found)" in html
    # The filter form carries the search on: changing a filter keeps it.
    who = parse_qs(urlparse(location).query)["who"][0]
    assert f'<input type="hidden" name="who" value="{who}">' in html
    status, html = await staff.get("/console/conversations", who=who, **RANGE)
    assert len(listed_keys(html)) == 2, "without the flag, both numbers ending in 4455"


async def test_a_number_no_conversation_has_says_so(console):
    fill(console)
    staff = await console.client("staff")
    status, location, _ = await search(staff, "699 99 99 99", **RANGE)
    assert status == 303 and parse_qs(urlparse(location).query)["who"] == ["none"]
    status, html = await staff.get(location)
    assert status == 200 and listed(console, html) == set()
    assert "No conversation of the number you searched matches these dates and filters" in text_of(html)
    # This number is known, but wrote in October only.
    status, location, _ = await search(staff, OLD, **RANGE)
    status, html = await staff.get(location)
    assert listed(console, html) == set() and "No conversation of the number you searched" in text_of(html)
    status, html = await staff.get(location.replace("2026-11-02", "2026-10-19"))
    assert listed(console, html) == {OLD}


async def test_a_number_that_cannot_be_searched_gets_a_400_without_repeating_it(console):
    fill(console)
    staff = await console.client("staff")
    status, location, html = await search(staff, "(61)", **RANGE)
    assert status == 400 and "61" not in location
    assert "Type at least 3 digits" in text_of(html)
    assert "(61)" not in html and 'name="number" value=""' in html
    # The list they were on stays, and the page leads back to it, not to the search.
    assert listed(console, html) == {ANNA, BRUNO, CARLA}
    assert "/console/conversations/search?" not in html and 'value="/console/conversations/search' not in html
    # Without a session or its token the search is refused, as any form.
    status, _ = await staff.post("/console/conversations/search", {"number": "612345678"}, csrf="forged")
    assert status == 403
    anonymous = await console.client()
    status, _ = await anonymous.post("/console/conversations/search", {"number": "612345678"})
    assert status == 401


async def test_a_search_matching_too_many_numbers_asks_for_more_digits(console):
    for i in range(MAX_SEARCHED_SENDERS + 1):
        console.tracker.user(f"+3460{i:04d}789", utc(2026, 11, 2, 9, 0), "hola", "greet", 0.99)
    staff = await console.client("staff")
    status, location, html = await search(staff, "789", **RANGE)
    assert status == 400 and f"More than {MAX_SEARCHED_SENDERS} numbers end in these digits" in text_of(html)
    status, location, _ = await search(staff, "0042789", **RANGE)
    assert status == 303
    status, html = await staff.get(location)
    assert html.count('data-test="conversation"') == 1 and "(1 found)" in html


async def test_the_list_reads_no_number_from_its_url_and_refuses_a_bad_who(console):
    fill(console)
    staff = await console.client("staff")
    # An old link with ?number=: not read (every conversation) and not repeated anywhere.
    status, html = await staff.get("/console/conversations", number="612345678", **RANGE)
    assert status == 200 and listed(console, html) == {ANNA, BRUNO, CARLA}
    assert "612345678" not in html
    anna = ConversationKeys(console.settings.link_secret).key(ANNA)
    for bad in ("612345678", anna.upper(), anna + ".x", anna + "..", anna[:-1], ".".join([anna] * 101),
                "None"):
        status, html = await staff.get("/console/conversations", who=bad, **RANGE)
        assert status == 400 and "This search link is not valid" in text_of(html), bad
        assert listed(console, html) == set() and "612345678" not in html
    status, html = await staff.get("/console/conversations", who="0" * 20, **RANGE)
    assert status == 200 and listed(console, html) == set()


async def test_bad_filters_get_a_clear_400(console):
    fill(console)
    staff = await console.client("staff")
    status, html = await staff.get("/console/conversations", **{"from": "2026-11-05", "to": "2026-11-02"})
    assert status == 400 and "first day is after the last day" in html
    status, html = await staff.get("/console/conversations", **{"from": "yesterday"})
    assert status == 400 and "not valid" in html
    status, html = await staff.get("/console/conversations", **{"from": "2026-01-01", "to": "2026-11-02"})
    assert status == 400 and "at most 92 days" in html
    status, html = await staff.get("/console/conversations", intent="make_coffee", **RANGE)
    assert status == 400
    status, html = await staff.get("/console/conversations", page="x", **RANGE)
    assert status == 400


async def test_by_default_the_list_shows_the_last_seven_days(console):
    now = bot.foundation.clock.now(timezone.utc)
    console.tracker.user(ANNA, now - timedelta(days=1), "hola", "greet", 0.99)
    console.tracker.user(BRUNO, now - timedelta(days=10), "hola", "greet", 0.99)
    staff = await console.client("staff")
    status, html = await staff.get("/console/conversations")
    assert status == 200 and listed(console, html) == {ANNA}


async def test_numbers_are_masked_and_urls_carry_a_key_not_the_number(console):
    fill(console)
    staff = await console.client("staff")
    status, html = await staff.get("/console/conversations", **RANGE)
    for number in (ANNA, BRUNO, CARLA):
        assert number not in html and number[1:] not in html and number[-9:] not in html
    assert "+34 6•• ••• •78" in html
    links = re.findall(r'href="/console/conversations/([^"]+)"', html)
    assert len(links) == 3
    for key in links:
        assert re.fullmatch(r"[0-9a-f]{20}", key) and not set(key) <= set("0123456789")
        assert keys(console)[key] in (ANNA, BRUNO, CARLA)
    # The transcript masks the number too, until staff reveal it (logged).
    anna_key = ConversationKeys(console.settings.link_secret).key(ANNA)
    status, page = await staff.get(f"/console/conversations/{anna_key}")
    assert ANNA not in page and "+34 6•• ••• •78" in page
    status, page = await staff.post("/console/reveal", {"reference": f"conversation:{anna_key}",
                                                        "purpose": "transcript",
                                                        "next": f"/console/conversations/{anna_key}"})
    assert status == 200 and f'href="tel:{ANNA}"' in page
    assert [r.reference for r in console.accounts.reveals()] == [f"conversation:{anna_key}"]


async def test_the_transcript_shows_messages_answers_and_the_reminder_timeline(console):
    fill(console)
    staff = await console.client("staff")
    status, html = await staff.get(f"/console/conversations/{ConversationKeys(console.settings.link_secret).key(ANNA)}")
    assert status == 200
    page = text_of(html)
    # The citizen's typed message with its intent and confidence.
    assert "a quina adreça és l'oficina" in page
    assert "Asks where the office is ask_location" in page and "confidence 93.0" in page
    # The reminder template, readably: name, parameters with their meaning, buttons.
    assert "WhatsApp template appointment_reminder" in page
    assert "Procedure Alta al padró d'habitants" in page and "Name Anna" in page
    assert "Confirmo la cita" in page and "Anul·la la cita" in page
    # The tap, as a tap on the button it was, never the raw payload.
    assert "Tapped the button Anul·la la cita → Cancels the appointment" in page
    assert "/cancel_appointment{" not in page
    # The assistant's answers and their buttons, the actions but not action_listen,
    # the slots that changed (the language once).
    assert "L'oficina és a la Plaça de la Vila, 1." in page
    assert "Hem anul·lat la cita" in page and "Demana cita" in page
    assert "action_send_reminder" in page and "action_cancel_appointment" in page
    assert "action_listen" not in page
    assert page.count("Conversation language: Català") == 1
    assert "Appointment in question: A1" in page
    # Messages in order, local times (Madrid is UTC+1 in November).
    assert page.index("Recorda asked for the reminder") < page.index("appointment_reminder") \
        < page.index("a quina adreça") < page.index("Tapped the button") < page.index("Hem anul·lat")
    assert "17:08" in page and "Monday 2 November 2026" in page

    # The reminder's delivery timeline, in order, with times.
    steps = re.findall(r'data-event="([a-z_]+)"', html)
    assert steps == ["scheduled", "sent", "delivered", "read", "cancelled"]
    timeline = text_of(html.split('data-test="reminder"')[1].split("</article>")[0])
    assert "A1" in timeline and "oac-centre" in timeline and "Tuesday 3 November 2026" in timeline
    for label, at in [("Sent", "17:01"), ("Delivered to the phone", "17:02"), ("Read", "17:05"),
                      ("Cancelled (with the button)", "17:12")]:
        assert f"2 Nov 2026, {at} {label}" in timeline
    assert timeline.index("Sent") < timeline.index("Delivered") < timeline.index("Read") \
        < timeline.index("Cancelled (")


async def test_a_late_read_receipt_and_a_flag_show_in_the_transcript(console):
    fill(console)
    staff = await console.client("staff")
    key = ConversationKeys(console.settings.link_secret).key(BRUNO)
    status, html = await staff.get(f"/console/conversations/{key}")
    page = text_of(html)
    assert "This citizen asked to talk to a person" in page
    assert "Flagged for staff" in page and "action_request_human" in page
    assert re.findall(r'data-event="([a-z_]+)"', html) == ["scheduled", "sent", "delivered", "confirmed", "read"]
    assert "Confirmed (in writing)" in page
    assert "Read — arrived late, the state did not change" in page


async def test_low_confidence_messages_get_a_badge(console):
    fill(console)
    staff = await console.client("staff")
    key = ConversationKeys(console.settings.link_secret).key(CARLA)
    status, html = await staff.get(f"/console/conversations/{key}")
    messages = [text_of(m) for m in html.split('data-test="citizen-message"')[1:]]
    assert len(messages) == 2
    assert "asdf qwer" in messages[0] and "Not understood" in messages[0] and "low confidence" in messages[0]
    assert "when r u open tmrw" in messages[1] and "confidence 45.0" in messages[1] \
        and "low confidence" in messages[1]
    status, html = await staff.get(f"/console/conversations/{ConversationKeys(console.settings.link_secret).key(ANNA)}")
    assert 'class="badge low"' not in html


async def test_an_unknown_key_is_a_404(console):
    fill(console)
    staff = await console.client("staff")
    for key in ("0123456789abcdef0123", ANNA, "not-a-key"):
        status, html = await staff.get(f"/console/conversations/{key}")
        assert status == 404 and "There is no conversation at this link" in html
    status, html = await staff.post("/console/reveal", {"reference": "conversation:0123456789abcdef0123"})
    assert status == 404


async def test_a_signed_out_request_is_refused(console):
    fill(console)
    anonymous = await console.client()
    key = ConversationKeys(console.settings.link_secret).key(ANNA)
    for path in ("/console/conversations", f"/console/conversations/{key}"):
        status, body, headers = await anonymous.get_raw(path)
        assert status == 303 and headers["Location"].startswith("/console/sign-in")
        assert b"612" not in body


async def test_the_list_is_paginated_fifty_a_page(console):
    for i in range(55):
        console.tracker.user(f"+346000000{i:02d}", utc(2026, 11, 2, 9, 0) + timedelta(minutes=i), "hola",
                             "greet", 0.99)
    staff = await console.client("staff")
    status, html = await staff.get("/console/conversations", **RANGE)
    assert status == 200 and html.count('data-test="conversation"') == 50
    assert "55 conversations" in html and "Page 1 of 2" in html and 'rel="next"' in html
    status, html = await staff.get("/console/conversations", page="2", **RANGE)
    assert html.count('data-test="conversation"') == 5 and 'rel="prev"' in html
    # The oldest are on the last page: +34600000000 wrote first.
    assert "+34 6•• ••• •00" in html


def test_a_number_search_needs_digits():
    for typed in ("ab", "12", "٣٣٣٣"):
        with pytest.raises(FilterError):
            NumberSearch.parse(typed, "ES")
    search = NumberSearch.parse("612 34 56 78", "ES")
    assert search.e164 == ANNA and search.matches(ANNA) and not search.matches(BRUNO)


def test_who_is_dot_separated_keys_or_none():
    keys = ["0123456789abcdef0123", "fedcba9876543210fedc"]
    assert parse_who("") is None and parse_who("none") == frozenset()
    assert parse_who(".".join(keys)) == frozenset(keys)
    assert len(parse_who(".".join(f"{i:020x}" for i in range(MAX_SEARCHED_SENDERS)))) == MAX_SEARCHED_SENDERS
    for bad in (".".join(f"{i:020x}" for i in range(MAX_SEARCHED_SENDERS + 1)), keys[0] + ".", keys[0] + "\n",
                "+34612345678"):
        with pytest.raises(FilterError):
            parse_who(bad)


def test_a_payload_that_did_not_come_as_a_whatsapp_tap_is_shown_as_typed_text():
    """Only the WhatsApp channel's own mark makes a message a tap: text that
    looks like a payload, from anywhere else, is what someone typed."""
    from bot.console.tracker import TrackerEvent
    payload = '/cancel_appointment{"appointment_id":"A1"}'

    def event(metadata):
        return TrackerEvent(1, "+34600000000", "user", utc(2026, 11, 2, 16, 12), "cancel_appointment", None,
                            {"text": payload, "metadata": metadata, "parse_data": {}})

    assert event({"kind": "button"}).is_button_payload
    for metadata in ({}, {"kind": "text"}, None):
        assert not event(metadata).is_button_payload
        assert event(metadata).is_typed_message
