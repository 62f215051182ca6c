"""The day view staff open the afternoon before: every appointment of a day
and office with its reminder state and answer, whom to call, revealing a
number, the CSV, and what still shows when the booking system is down.

Runs against the real sandbox booking service: the reminders below belong
to real sandbox appointments of the next service day."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from html import unescape
from typing import Dict, List, Tuple

import bot.foundation.clock
from bot.booking import Appointment
from bot.dev.sandbox.booking_seed import MADRID
from bot.foundation.phone import check_for_whatsapp, mask, to_e164
from bot.offices.service_days import next_service_day, previous_service_day
from bot.reminders import states
from bot.reminders.store import ReminderStore
from tests.support.booking_sandbox import madrid_today


@dataclass
class Day:
    """A service day of one office, with four reminders of known stories."""
    day: date
    office_id: str
    appointments: List[Appointment]       # every appointment of the office that day
    confirmed: Appointment                 # confirmed by button
    cancelled: Appointment                 # cancelled by a written message
    failed: Appointment                    # failed: no WhatsApp account
    unanswered: Appointment                # sent and read, no answer
    without_reminder: Appointment          # no reminder at all
    confirmed_at: datetime                 # Madrid time of the answers
    cancelled_at: datetime

    @property
    def query(self) -> Dict[str, str]:
        return {"date": self.day.isoformat(), "office": self.office_id}

    def number(self, appointment: Appointment) -> str:
        return check_for_whatsapp(appointment.phone).e164


async def a_day_with_reminders(booking, console) -> Day:
    day = next_service_day(madrid_today())
    by_office = {o.id: await booking.list_appointments(day, o.id) for o in await booking.list_offices()}
    office_id = max(by_office, key=lambda o: sum(1 for a in by_office[o] if a.is_active
                                                 and check_for_whatsapp(a.phone).usable))
    usable = [a for a in by_office[office_id] if a.is_active and check_for_whatsapp(a.phone).usable]
    assert len(usable) >= 5, "the sandbox seed should give an office five citizens with mobiles"
    confirmed, cancelled, failed, unanswered, without_reminder = usable[:5]

    store = ReminderStore(console.settings.db_url)
    now = bot.foundation.clock.now(timezone.utc).replace(microsecond=0)
    sent_at = now - timedelta(hours=3)
    for a in (confirmed, cancelled, failed, unanswered):
        store.schedule(a.id, day, office_id, check_for_whatsapp(a.phone).e164, a.language, at=sent_at)
        store.claim_for_sending(a.id, at=sent_at)
        store.mark_sent(a.id, f"wamid-{a.id}", at=sent_at)
    for a in (confirmed, cancelled, unanswered):
        store.apply_provider_status(f"wamid-{a.id}", "delivered", at=sent_at + timedelta(minutes=1))
        store.apply_provider_status(f"wamid-{a.id}", "read", at=sent_at + timedelta(minutes=2))
    store.apply_provider_status(f"wamid-{failed.id}", "failed", at=sent_at + timedelta(minutes=1),
                                error_code=302, reason="no_whatsapp_account")
    confirmed_at = (now - timedelta(hours=2)).astimezone(MADRID).replace(second=0)
    cancelled_at = (now - timedelta(minutes=70)).astimezone(MADRID).replace(second=0)
    store.record_answer(confirmed.id, states.CONFIRMED, "button", at=confirmed_at)
    store.record_answer(cancelled.id, states.CANCELLED, "text", at=cancelled_at)
    return Day(day, office_id, by_office[office_id], confirmed, cancelled, failed, unanswered,
               without_reminder, confirmed_at, cancelled_at)


# --- reading the page -------------------------------------------------------------
def section(html: str, name: str) -> str:
    found = re.search(rf'<section[^>]*data-test="{name}".*?</section>', html, re.S)
    assert found, f"no {name} section in the page"
    return found.group(0)


def row_html(html: str, appointment_id: str) -> str:
    found = re.search(rf'<tr data-appointment="{re.escape(appointment_id)}">.*?</tr>', html, re.S)
    assert found, f"no row for {appointment_id}"
    return found.group(0)


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def row_text(html: str, appointment_id: str) -> str:
    return text_of(row_html(html, appointment_id))


def press_show(page_html: str, row: str) -> Tuple[str, Dict[str, str]]:
    """Where and what a browser sends when staff press the Show button of a
    row: the button's own name and value plus the inputs of the page's form
    that the button names (form="...")."""
    button = re.search(r'<button [^>]*data-test="reveal"[^>]*>', row)
    assert button, "no Show button in the row"
    attributes = dict(re.findall(r'([\w-]+)="([^"]*)"', button.group(0)))
    form = re.search(rf'<form id="{re.escape(attributes["form"])}"[^>]*action="([^"]*)"[^>]*>(.*?)</form>',
                     page_html, re.S)
    assert form, f"the button's form {attributes['form']} is not in the page"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(2)))
    fields[attributes["name"]] = attributes["value"]
    return unescape(form.group(1)), {name: unescape(value) for name, value in fields.items()}


def clock(at: datetime) -> str:
    return f"{at.hour}:{at.minute:02d}"


def figure(html: str, name: str) -> str:
    found = re.search(rf'data-test="summary-{name}"><strong>([^<]*)</strong>', html)
    assert found, f"no {name} figure"
    return found.group(1)


# --- the page ----------------------------------------------------------------------
async def test_the_day_shows_each_appointment_with_its_reminder_state_answer_and_time(booking, console):
    day = await a_day_with_reminders(booking, console)
    staff = await console.client("staff")
    status, html = await staff.get("/console/day", **day.query)
    assert status == 200
    table = section(html, "appointments")

    confirmed = row_text(table, day.confirmed.id)
    assert day.confirmed.citizen_name in confirmed
    assert clock(day.confirmed.starts_at.astimezone(MADRID)) in confirmed
    assert "Confirmed" in confirmed and "button" in confirmed
    assert clock(day.confirmed_at) in confirmed, "the answer's time, in Madrid time"

    cancelled = row_text(table, day.cancelled.id)
    assert "Cancelled" in cancelled and "written message" in cancelled and clock(day.cancelled_at) in cancelled

    failed = row_text(table, day.failed.id)
    assert "Failed" in failed and "The number has no WhatsApp account" in failed

    unanswered = row_text(table, day.unanswered.id)
    assert "Read" in unanswered and "None" in unanswered

    assert "No reminder" in row_text(table, day.without_reminder.id)
    procedure = await booking.get_procedure(day.without_reminder.procedure_id)
    assert procedure.name("en") in row_text(table, day.without_reminder.id)

    assert figure(html, "appointments") == str(len(day.appointments))
    assert (figure(html, "sent"), figure(html, "confirmed"), figure(html, "cancelled"),
            figure(html, "no-answer"), figure(html, "failed")) == ("4", "1", "1", "1", "1")

    for a in (day.confirmed, day.failed, day.unanswered):
        assert day.number(a) not in html, "numbers are masked until revealed"
        assert mask(day.number(a)) in html
    assert 'href="tel:' not in html


async def test_the_follow_up_lists_the_failed_and_unanswered_with_reasons_and_masked_numbers(booking, console):
    day = await a_day_with_reminders(booking, console)
    staff = await console.client("staff")
    _, html = await staff.get("/console/day", **day.query)
    follow_up = section(html, "follow-up")

    listed = re.findall(r'<tr data-appointment="([^"]+)">', follow_up)
    assert set(listed) == {day.failed.id, day.unanswered.id}
    failed = row_text(follow_up, day.failed.id)
    assert "Reminder failed" in failed and "The number has no WhatsApp account" in failed
    assert day.failed.citizen_name in failed and clock(day.failed.starts_at.astimezone(MADRID)) in failed
    assert "No answer yet (read)" in row_text(follow_up, day.unanswered.id)
    for a in (day.failed, day.unanswered):
        assert mask(day.number(a)) in row_html(follow_up, a.id)
        assert 'data-test="reveal"' in row_html(follow_up, a.id)


async def test_show_reveals_the_number_as_a_tel_link_and_logs_who_did(booking, console):
    day = await a_day_with_reminders(booking, console)
    staff = await console.client("staff")
    page = f"/console/day?date={day.day.isoformat()}&office={day.office_id}"
    _, html = await staff.get(page)
    # Pressing the row's Show button sends the page's one shared form.
    action, form = press_show(html, row_html(section(html, "follow-up"), day.failed.id))
    assert action == "/console/reveal" and form["next"] == page
    status, html = await staff.post(action, form)
    assert status == 200
    number = day.number(day.failed)
    assert f'href="tel:{number}"' in row_html(section(html, "follow-up"), day.failed.id)
    assert day.number(day.unanswered) not in html, "only the number shown was revealed"

    reveal = console.accounts.reveals()[0]
    assert (reveal.username, reveal.reference, reveal.purpose, reveal.masked_number) == \
        ("staff", f"appointment:{day.failed.id}", "call", mask(number))

    # An appointment without a reminder: its number comes from the booking system.
    await staff.post("/console/reveal", {"reference": f"appointment:{day.without_reminder.id}",
                                         "purpose": "call", "next": page})
    _, html = await staff.get(page)
    expected = to_e164(day.without_reminder.phone)
    assert f'href="tel:{expected}"' in row_html(section(html, "appointments"), day.without_reminder.id)


async def test_the_csv_has_the_day_masked_by_default_and_full_numbers_are_logged(booking, console):
    day = await a_day_with_reminders(booking, console)
    staff = await console.client("staff")
    _, html = await staff.get("/console/day", **day.query)
    assert "numbers=full" in html and "is logged" in html, "both downloads offered, the full one with its note"

    status, body, headers = await staff.get_raw("/console/day.csv", **day.query)
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    rows = {r["Appointment"]: r for r in csv.DictReader(io.StringIO(body.decode("utf-8-sig")))}
    assert set(rows) == {a.id for a in day.appointments}
    assert rows[day.confirmed.id]["Answer"] == "Confirmed" and rows[day.confirmed.id]["Answered by"] == "button"
    assert rows[day.confirmed.id]["Answered at"].endswith(clock(day.confirmed_at).zfill(5))
    assert rows[day.failed.id]["Reminder"] == "Failed"
    assert rows[day.failed.id]["Reason"] == "The number has no WhatsApp account"
    assert rows[day.without_reminder.id]["Reminder"] == "No reminder"
    assert day.number(day.failed) not in body.decode("utf-8-sig")
    assert mask(day.number(day.failed)) in rows[day.failed.id]["Phone"]
    assert console.accounts.reveals() == [], "a masked download reveals nothing"

    status, body, _ = await staff.get_raw("/console/day.csv", numbers="full", **day.query)
    assert status == 200
    rows = {r["Appointment"]: r for r in csv.DictReader(io.StringIO(body.decode("utf-8-sig")))}
    assert rows[day.failed.id]["Phone"] == day.number(day.failed)
    reveal = console.accounts.reveals()[0]
    assert (reveal.username, reveal.reference, reveal.purpose) == \
        ("staff", f"day:{day.day.isoformat()}:{day.office_id}", "csv")


async def test_without_a_choice_the_page_shows_the_next_service_day_of_the_first_office(booking, console):
    staff = await console.client("staff")
    status, html = await staff.get("/console/day")
    assert status == 200
    expected_day = next_service_day(madrid_today())
    first_office = (await booking.list_offices())[0]
    assert f'value="{expected_day.isoformat()}"' in html
    assert f'<option value="{first_office.id}" selected>{first_office.name}</option>' in html
    assert f"date={previous_service_day(expected_day).isoformat()}" in html
    assert f"date={next_service_day(expected_day).isoformat()}" in html


async def test_with_the_booking_system_down_the_store_still_tells_states_and_answers(booking, outage, console):
    day = await a_day_with_reminders(booking, console)
    staff = await console.client("staff")
    outage.set_outage(True)
    status, html = await staff.get("/console/day", **day.query)
    assert status == 200
    assert 'data-test="booking-down"' in html and "booking system is not answering" in html
    table = section(html, "appointments")
    assert "Confirmed" in row_text(table, day.confirmed.id) and "button" in row_text(table, day.confirmed.id)
    assert "Cancelled" in row_text(table, day.cancelled.id)
    assert "Failed" in row_text(table, day.failed.id)
    assert "Read" in row_text(table, day.unanswered.id)
    assert day.confirmed.citizen_name not in html, "names come from the booking system only"
    listed = set(re.findall(r'<tr data-appointment="([^"]+)">', section(html, "follow-up")))
    assert listed == {day.failed.id, day.unanswered.id}
    assert figure(html, "confirmed") == "1" and figure(html, "failed") == "1"

    # The number to call is in the store: it can still be revealed.
    page = f"/console/day?date={day.day.isoformat()}&office={day.office_id}"
    await staff.post("/console/reveal", {"reference": f"appointment:{day.failed.id}", "purpose": "call",
                                         "next": page})
    _, html = await staff.get(page)
    assert f'href="tel:{day.number(day.failed)}"' in html


async def test_a_bad_date_or_an_unknown_office_is_a_clear_400(booking, console):
    staff = await console.client("staff")
    status, html = await staff.get("/console/day", date="2026-13-45")
    assert status == 400 and "is not valid" in html and "YYYY-MM-DD" in html
    status, html = await staff.get("/console/day", date="0001-01-01")
    assert status == 400 and "too far off" in html
    status, html = await staff.get("/console/day", office="nowhere")
    assert status == 400 and "There is no office" in html
    status, _, _ = await staff.get_raw("/console/day.csv", date="yesterday")
    assert status == 400


async def test_the_page_speaks_catalan_and_spanish_too(booking, console):
    day = await a_day_with_reminders(booking, console)
    staff = await console.client("staff")
    page = f"/console/day?date={day.day.isoformat()}&office={day.office_id}"
    await staff.get(page)
    for language, words in (("ca", ("A qui cal trucar", "El número no té WhatsApp", "Confirmat")),
                            ("es", ("A quién hay que llamar", "El número no tiene WhatsApp", "Confirmado"))):
        status, html = await staff.post("/console/language", {"language": language, "next": page})
        assert status == 200
        for word in words:
            assert word in html
        untranslated = re.findall(r"\bday_[a-z_]+\b", text_of(html))
        assert untranslated == [], f"texts missing in {language}: {untranslated}"
