"""The figures page: the reports command's figures for a range and office,
as tables, chart data and CSV, against the real sandbox booking service.

The reminder store gets a known set of reminders for past sandbox days (the
way tests/integration/test_reports.py writes histories); the sandbox lists those days'
appointments with attendance recorded."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from html.parser import HTMLParser
from typing import Dict, List, Optional

from bot.booking import ATTENDED, NO_SHOW, Appointment
from bot.dev.sandbox.booking_seed import MADRID
from bot.offers.store import OfferStore
from bot.offices.service_days import previous_service_day
from bot.offices.settings import for_office
from bot.reminders import states
from bot.reminders.provider_status import NO_WHATSAPP, NOT_MOBILE
from bot.reminders.store import ReminderStore
from bot.reminders.variant_choice import VariantRetirements
from bot.reports.load import service_days
from tests.support.booking_sandbox import appointments_on, madrid_today
from tests.support.freed_slot_seed import seed_freed_slots
from tests.support.touch_history_seed import CENTRE as CENTRE_OFFICE
from tests.support.touch_history_seed import MONDAY as SEED_MONDAY
from tests.support.touch_history_seed import OFFICES_YML, seed_touch_history
from tests.support.touch_history_seed import THURSDAY as SEED_THURSDAY

OFFICE, OTHER_OFFICE = "oac-centre", "oac-can-mas"


# --- a known history -----------------------------------------------------------------
def sandbox_past_days():
    """Three past service days: the two before the last have attendance recorded."""
    last = previous_service_day(madrid_today())
    return previous_service_day(previous_service_day(last)), last


def sent_at(appointment: Appointment) -> datetime:
    """17:00 in Madrid on the service day before the appointment."""
    return datetime.combine(previous_service_day(appointment.starts_at.date()), time(17), tzinfo=MADRID)


def send(store: ReminderStore, appointment: Appointment) -> datetime:
    at = sent_at(appointment)
    store.schedule(appointment.id, appointment.starts_at.date(), appointment.office_id, "+34612345678", "ca")
    assert store.claim_for_sending(appointment.id)
    store.mark_sent(appointment.id, f"m-{appointment.id}", at=at)
    return at


def delivered(store: ReminderStore, appointment: Appointment, at: datetime) -> None:
    store.apply_provider_status(f"m-{appointment.id}", "delivered", at=at + timedelta(minutes=1))


@dataclass
class History:
    """What was put into the store, to find it again in the page."""
    first: date
    last: date
    office_appointments: int
    came_or_not: Appointment
    listed: List[Appointment] = field(default_factory=list)


async def seed(booking, console) -> History:
    """In oac-centre: 5 reminders attempted, 4 sent, 2 answered (a button
    confirmation in 30 min, a cancel in writing after 3 h), 1 WhatsApp
    failure, 1 landline. In oac-can-mas: 1 sent and confirmed."""
    first, last = sandbox_past_days()
    listed = [a for day in service_days(first, last) for a in await appointments_on(booking, day)]
    in_office = [a for a in listed if a.office_id == OFFICE]
    recorded = [a for a in in_office if a.status in (ATTENDED, NO_SHOW)]
    came_or_not = recorded[0]
    confirmed, cancelled, silent, failed, landline = [came_or_not] + [a for a in in_office
                                                                     if a is not came_or_not][:4]
    store = ReminderStore(console.settings.db_url)

    at = send(store, confirmed)
    delivered(store, confirmed, at)
    store.record_answer(confirmed.id, states.CONFIRMED, "button", at=at + timedelta(minutes=30))
    at = send(store, cancelled)
    delivered(store, cancelled, at)
    store.record_answer(cancelled.id, states.CANCELLED, "text", at=at + timedelta(hours=3))
    at = send(store, silent)
    delivered(store, silent, at)
    at = send(store, failed)
    store.apply_provider_status(f"m-{failed.id}", "failed", at=at + timedelta(minutes=1), error_code=302,
                                reason=NO_WHATSAPP)
    store.record_unsendable(landline.id, landline.starts_at.date(), OFFICE, "+34931234567", "ca", NOT_MOBILE)

    elsewhere = next(a for a in listed if a.office_id == OTHER_OFFICE)
    at = send(store, elsewhere)
    delivered(store, elsewhere, at)
    store.record_answer(elsewhere.id, states.CONFIRMED, "button", at=at + timedelta(minutes=10))
    return History(first, last, len(in_office), came_or_not, listed)


# --- reading the page ------------------------------------------------------------------
VOID = {"input", "meta", "link", "br", "img", "hr", "source"}


@dataclass
class Node:
    tag: str
    attrs: Dict[str, Optional[str]]
    children: list = field(default_factory=list)

    def text(self) -> str:
        return " ".join("".join(c if isinstance(c, str) else " " + c.text() + " " for c in self.children).split())

    def all(self, tag: str, **attrs) -> List["Node"]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if child.tag == tag and all(child.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items()):
                    found.append(child)
                found += child.all(tag, **attrs)
        return found

    def one(self, tag: str, **attrs) -> "Node":
        found = self.all(tag, **attrs)
        assert len(found) == 1, f"{len(found)} <{tag} {attrs}>"
        return found[0]


class _TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def page(html: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(html)
    return builder.root


def table_of(document: Node, section_id: str) -> Dict[str, List[str]]:
    """A section's table: row label -> the other cells' texts."""
    section = document.one("section", id=section_id)
    rows = {}
    for tr in section.one("tbody").all("tr"):
        cells = [cell.text() for cell in tr.children if isinstance(cell, Node) and cell.tag in ("th", "td")]
        rows[cells[0]] = cells[1:]
    return rows


def chart_of(document: Node, section_id: str) -> dict:
    return json.loads(document.one("section", id=section_id).one("canvas").attrs["data-chart"])


def headlines(document: Node) -> Dict[str, str]:
    found = {}
    for figure in document.all("div", data_test="headline"):
        label, value = figure.all("span")[0].text(), figure.one("strong").text()
        found[label] = value
    return found


def read_csv(body: bytes) -> List[List[str]]:
    text = body.decode("utf-8")
    assert text.startswith("\ufeff"), "a BOM, so that spreadsheets read UTF-8"
    return list(csv.reader(io.StringIO(text[1:])))


# --- the page ------------------------------------------------------------------------
async def test_the_page_shows_the_figures_of_the_range_and_office(booking, console):
    history = await seed(booking, console)
    staff = await console.client("staff")
    status, html = await staff.get("/console/figures", **{"from": history.first.isoformat(),
                                                          "to": history.last.isoformat(), "office": OFFICE})
    assert status == 200, html
    document = page(html)
    assert 'data-test="booking-down"' not in html

    recorded = [a for a in history.listed if a.office_id == OFFICE and a.status in (ATTENDED, NO_SHOW)]
    no_shows = sum(a.status == NO_SHOW for a in recorded)
    assert headlines(document) == {"Reminders sent": "4", "Answer rate": "50.0 %",
                                   "Cancelled through Recorda": f"{100 / history.office_appointments:.1f} %",
                                   "Answered within 2 h": "50.0 %",
                                   "No-show rate": f"{100 * no_shows / len(recorded):.1f} %"}

    answers = table_of(document, "answer-rate")
    assert answers["Answered (of sent)"] == ["2", "4", "50.0 %", "60 % – 63 %"]
    assert answers["With a button (of answers)"] == ["1", "2", "50.0 %", "–"]
    assert answers["In writing (of answers)"] == ["1", "2", "50.0 %", "–"]
    assert answers["Through the SMS link (of answers)"] == ["0", "2", "0.0 %", "–"]
    assert answers["Not answered (of sent)"] == ["2", "4", "50.0 %", "–"]
    # The chart draws the same numbers: the slices add up to the reminders sent.
    chart = chart_of(document, "answer-rate")
    assert chart["type"] == "doughnut" and chart["locale"] == "en-GB"
    assert chart["labels"][0] == "With a button (of answers)"
    assert chart["datasets"][0]["data"] == [1, 1, 0, 0, 2]

    failures = table_of(document, "failures")
    assert failures["The number has no WhatsApp account"] == ["1", "5", "20.0 %", "6.07 %"]
    assert failures["A landline (no WhatsApp)"] == ["1", "5", "20.0 %", "–"]
    assert failures["Could not be delivered (phone off or old app)"] == ["0", "5", "0.0 %", "6.19 %"]
    assert failures["Failed (of attempted)"] == ["2", "5", "40.0 %", "–"]
    failure_chart = chart_of(document, "failures")
    assert [d["label"] for d in failure_chart["datasets"]] == ["Share", "Reference"]
    assert failure_chart["datasets"][0]["data"][:2] == [20.0, 20.0]

    cancellations = table_of(document, "cancellations")
    assert cancellations["Cancelled through Recorda"][:2] == ["1", str(history.office_appointments)]
    assert cancellations["Appointments in the period"][0] == str(history.office_appointments)

    times = table_of(document, "answer-time")
    assert times["15-60 min"] == ["1", "2", "50.0 %"] and times["2-4 h"] == ["1", "2", "50.0 %"]
    assert table_of(document, "send-hour") == {"17:00": ["4", "2", "50.0 %"]}

    # The confirmed reminder's appointment has its attendance in the sandbox.
    no_show = "1" if history.came_or_not.status == NO_SHOW else "0"
    assert table_of(document, "no-shows")["Confirmed"][:2] == ["1", no_show]

    cost = table_of(document, "cost")
    assert cost["Total"][0] == "3", "three reminders delivered in oac-centre"

    # Every section has its CSV link for the same range and office.
    links = [a.attrs["href"] for a in document.all("a", data_test="csv")]
    assert len(links) == 11
    assert all(f"office={OFFICE}" in link and f"from={history.first}" in link for link in links)


async def test_cost_priced_by_the_provider_per_billable_message(booking, tmp_path):
    """WhatsApp Cloud API statuses carry Meta's pricing: the cost table
    prices billable messages by category (RECORDA_WHATSAPP_CATEGORY_PRICES)
    and free ones at nothing."""
    from tests.support.console import start_console, stop_console
    # As the `console` fixture starts it, with a category price.
    served, server = await start_console(tmp_path, booking, whatsapp_category_prices=(("utility", 0.0141),))
    try:
        first, last = sandbox_past_days()
        listed = [a for day in service_days(first, last) for a in await appointments_on(booking, day)]
        billable, free = [a for a in listed if a.office_id == OFFICE][:2]
        store = ReminderStore(served.settings.db_url)
        for appointment, priced in ((billable, {"billable": True, "category": "utility", "model": "PMP"}),
                                    (free, {"billable": False, "category": "service", "model": "PMP"})):
            at = send(store, appointment)
            store.apply_provider_status(f"m-{appointment.id}", "delivered", at=at + timedelta(minutes=1),
                                        pricing=priced)
        staff = await served.client("staff")
        status, html = await staff.get("/console/figures", **{"from": first.isoformat(),
                                                              "to": last.isoformat(), "office": OFFICE})
    finally:
        await stop_console(served, server)
    assert status == 200, html
    document = page(html)
    assert table_of(document, "cost")["Total"] == ["2", "1", "€0.01"]
    notes = [p.text() for p in document.one("section", id="cost").all("p")]
    assert "WhatsApp category “service”: 0 of 1 messages billable, €0.00." in notes
    assert "WhatsApp category “utility”: 1 of 1 messages billable, €0.01." in notes
    # Every message was priced by the provider: no price per conversation applies.
    assert not any("per delivered reminder" in note for note in notes)


async def test_by_default_the_last_30_days_of_every_office(booking, console):
    await seed(booking, console)
    staff = await console.client("staff")
    status, html = await staff.get("/console/figures")
    assert status == 200
    document = page(html)
    today = madrid_today()
    assert document.one("input", name="from").attrs["value"] == (today - timedelta(days=29)).isoformat()
    assert document.one("input", name="to").attrs["value"] == today.isoformat()
    assert table_of(document, "answer-rate")["Answered (of sent)"][:3] == ["3", "5", "60.0 %"]
    assert table_of(document, "failures")["Failed (of attempted)"][:3] == ["2", "6", "33.3 %"]
    offices = [o.attrs["value"] for o in document.one("select", name="office").all("option")]
    assert offices[0] == "" and {OFFICE, OTHER_OFFICE} <= set(offices)


async def test_labels_and_numbers_in_the_readers_language(booking, console):
    history = await seed(booking, console)
    staff = await console.client("staff")
    await staff.post("/console/language", {"language": "ca", "next": "/console/figures"})
    status, html = await staff.get("/console/figures", **{"from": history.first.isoformat(),
                                                          "to": history.last.isoformat(), "office": OFFICE})
    document = page(html)
    assert table_of(document, "answer-rate")["Han respost (dels enviats)"] == ["2", "4", "50,0 %", "60 % – 63 %"]
    assert table_of(document, "failures")["El número no té WhatsApp"] == ["1", "5", "20,0 %", "6,07 %"]
    chart = chart_of(document, "answer-rate")
    assert chart["locale"] == "ca-ES" and chart["labels"][-1] == "Sense resposta (dels enviats)"


# --- CSV --------------------------------------------------------------------------------
async def test_a_chart_downloads_as_its_table_in_csv(booking, console):
    history = await seed(booking, console)
    staff = await console.client("staff")
    query = f"from={history.first}&to={history.last}&office={OFFICE}"
    status, body, headers = await staff.get_raw(f"/console/figures/failures.csv?{query}")
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert f"recorda-failures-{history.first}-{history.last}-{OFFICE}.csv" in headers["Content-Disposition"]
    header, *rows = read_csv(body)
    assert header == ["Code", "Reason", "Number", "Out of", "Share", "Reference"]
    by_code = {row[0]: row for row in rows}
    assert by_code["no_whatsapp_account"] == ["no_whatsapp_account", "The number has no WhatsApp account",
                                              "1", "5", "20.0", "6.07"]
    assert by_code["not_mobile"] == ["not_mobile", "A landline (no WhatsApp)", "1", "5", "20.0", ""]
    assert by_code["failed"] == ["failed", "Failed (of attempted)", "2", "5", "40.0", ""]
    assert by_code["number_does_not_exist"][2:5] == ["0", "5", "0.0"]

    status, body, _ = await staff.get_raw(f"/console/figures/answer-rate.csv?{query}")
    by_code = {row[0]: row for row in read_csv(body)[1:]}
    assert by_code["answered"][2:] == ["2", "4", "50.0", "60-63"]
    assert [row[0] for row in read_csv(body)[1:]] == ["answered", "button", "text", "sms", "queued",
                                                       "not_answered"]

    status, body, _ = await staff.get_raw(f"/console/figures/send-hour.csv?{query}")
    assert read_csv(body) == [["Code", "Hour of sending", "Sent", "Answered", "Answer rate"],
                              ["17", "17:00", "4", "2", "50.0"]]


# --- touches, wording experiments and send-time advice ------------------------------------
async def seed_touches(console, clock, tmp_path, monkeypatch) -> Dict[str, str]:
    """tests/support/touch_history_seed.py's history in the console's store
    (the `cost` variant retired from the console); the query of its period."""
    offices = tmp_path / "offices.yml"
    offices.write_text(OFFICES_YML)
    monkeypatch.setenv("RECORDA_OFFICES_FILE", str(offices))
    started = clock()
    seed_touch_history(ReminderStore(console.settings.db_url), clock)
    VariantRetirements(console.settings.db_url).retire(CENTRE_OFFICE, for_office(CENTRE_OFFICE).experiment, "cost",
                                                       by="admin")
    clock.set(started)  # the console's sessions run on today's clock
    return {"from": SEED_MONDAY.isoformat(), "to": SEED_THURSDAY.isoformat()}


async def test_the_page_shows_touches_experiments_and_send_time_advice(booking, console, clock, tmp_path,
                                                                       monkeypatch):
    query = await seed_touches(console, clock, tmp_path, monkeypatch)
    staff = await console.client("staff")
    status, html = await staff.get("/console/figures", **query)
    assert status == 200, html
    document = page(html)

    touches = table_of(document, "touches")
    assert touches["oac-centre · early"] == ["20", "7", "35.0 %", "3", "15.0 %"]
    assert touches["oac-centre · day_before"] == ["13", "5", "38.5 %", "0", "0.0 %"]
    assert touches["oac-la-platja · day_before"] == ["75", "42", "56.0 %", "3", "4.0 %"]
    assert touches["early"] == ["20", "7", "35.0 %", "3", "15.0 %"]          # every office
    assert touches["day_before"] == ["88", "47", "53.4 %", "3", "3.4 %"]
    assert chart_of(document, "touches")["labels"] == ["oac-centre · early", "oac-centre · day_before",
                                                        "oac-la-platja · day_before"]

    experiments = table_of(document, "experiments")
    # Wilson intervals of 3/10, 1/10, 9/10 and 2/10 (tests/integration/test_touch_figures.py works them out);
    # the sandbox has no attendance for these made-up appointments.
    assert experiments["cost"] == ["Retired", "10", "30.0 %", "10.8 % – 60.3 %", "10.0 %", "1.8 % – 40.4 %",
                                   "0", "–", "–"]
    assert experiments["plain"] == ["Given", "10", "90.0 %", "59.6 % – 98.2 %", "20.0 %", "5.7 % – 51.0 %",
                                    "0", "–", "–"]
    notes = [p.text() for p in document.one("section", id="experiments").all("p")]
    assert ("cost-sentence (oac-centre): the answer rate of “plain” minus that of “cost” is 60 points "
            "(95 % interval: 17.1 to 80.9).") in notes
    assert "cost-sentence (oac-centre): “plain” is answered more." in notes
    assert ("cost-sentence (oac-centre): seeing a difference of 5 points in answer rate takes 1,471 "
            "appointments per variant; the smallest variant lacks 1,461.") in notes

    advice = table_of(document, "send-time")
    assert advice["oac-la-platja"] == ["17:00", "75", "10:00", "70.0 %", "52.1 % – 83.3 %",
                                       "17:00", "35.0 %", "22.1 % – 50.5 %", "35.0 %", "11.3 % – 53.5 %"]
    assert advice["oac-centre"] == ["18:00", "33", "18:00", "27.3 %", "15.1 % – 44.2 %",
                                    "18:00", "27.3 %", "15.1 % – 44.2 %", "–", "–"]
    notes = [p.text() for p in document.one("section", id="send-time").all("p")]
    assert "To change an office's sending hour, set send_at in offices.yml." in notes
    assert any("at least 30 sends" in note for note in notes)


async def test_the_new_tables_in_catalan_and_as_csv(booking, console, clock, tmp_path, monkeypatch):
    query = await seed_touches(console, clock, tmp_path, monkeypatch)
    staff = await console.client("staff")
    await staff.post("/console/language", {"language": "ca", "next": "/console/figures"})
    status, html = await staff.get("/console/figures", **query)
    document = page(html)
    assert table_of(document, "experiments")["cost"][:4] == ["Retirada", "10", "30,0 %", "10,8 % – 60,3 %"]
    assert "cost-sentence (oac-centre): «plain» es respon més." in document.one("section", id="experiments").text()
    assert document.one("section", id="touches").one("h2").text() == "Respostes per enviament"

    status, body, _ = await staff.get_raw(f"/console/figures/experiments.csv?from={query['from']}&to={query['to']}")
    header, *rows = read_csv(body)
    assert header[:4] == ["Codi", "Variant", "Estat", "Cites (recordatori enviat)"]
    by_code = {row[0]: row for row in rows}
    assert by_code["oac-centre:cost-sentence:cost"][2:6] == ["retired", "10", "30.0", "10.78 to 60.32"]
    status, body, _ = await staff.get_raw(f"/console/figures/send-time.csv?from={query['from']}&to={query['to']}")
    by_code = {row[0]: row for row in read_csv(body)[1:]}
    assert by_code["oac-la-platja"][2:6] == ["17:00", "75", "10:00", "70.0"]


def test_every_verdict_and_word_of_the_new_tables_has_its_words():
    from bot.apps.web.console.texts import Translator
    from bot.console.touch_figure_tables import ACTIVE, RETIRED
    from bot.foundation.languages import LANGUAGES
    from bot.reports import experiments

    verdicts = [value for name, value in vars(experiments).items() if name.startswith("VERDICT_")]
    assert len(verdicts) == 4
    keys = [f"figures_verdict_{verdict}" for verdict in verdicts]
    keys += [f"figures_word_{word}" for word in (ACTIVE, RETIRED)]
    keys += ["figures_note_experiment_difference", "figures_note_experiment_needed", "figures_note_send_time_min"]
    for language in LANGUAGES:
        t = Translator(language)
        assert [key for key in keys if t(key) == key] == [], language


# --- the waiting list ------------------------------------------------------------------------
async def seed_waiting_list(console, clock) -> Dict[str, str]:
    """tests/support/freed_slot_seed.py's freed slots and offers in the
    console's store; the query of its period."""
    started = clock()
    seed_freed_slots(OfferStore(console.settings.db_url), clock)
    clock.set(started)  # the console's sessions run on today's clock
    return {"from": SEED_MONDAY.isoformat(), "to": SEED_THURSDAY.isoformat()}


async def test_the_page_shows_the_waiting_list(booking, console, clock):
    query = await seed_waiting_list(console, clock)
    staff = await console.client("staff")
    status, html = await staff.get("/console/figures", **query)
    assert status == 200, html
    document = page(html)

    section = document.one("section", id="waiting-list")
    assert section.one("h2").text() == "Freed slots offered to the waiting list"
    assert [th.text() for th in section.one("thead").all("th")] == [
        "Office", "Freed", "Could be offered", "Offered", "Offer messages sent", "Booked again",
        "Booked again (of offered)", "Re-used (of freed)", "Median time to book again, min", "Not offered"]
    # tests/integration/test_waiting_list_figures.py works these out.
    assert table_of(document, "waiting-list") == {
        "oac-centre": ["2", "2", "2", "4", "2", "100.0 %", "100.0 %", "82.5", "0"],
        "oac-la-platja": ["3", "2", "1", "1", "0", "0.0 %", "0.0 %", "–", "2"],
        "All": ["5", "4", "3", "5", "2", "66.7 %", "40.0 %", "82.5", "2"],
    }
    notes = [p.text() for p in section.all("p")]
    assert "Not offered (nobody left on the list): 1." in notes
    assert "Not offered (too late: the appointment was too close): 1." in notes
    chart = chart_of(document, "waiting-list")
    assert chart["labels"] == ["oac-centre", "oac-la-platja"]
    assert [(d["label"], d["data"]) for d in chart["datasets"]] == [
        ("Freed", [2, 3]), ("Offered", [2, 1]), ("Booked again", [2, 0])]


async def test_the_waiting_list_in_catalan_and_as_csv(booking, console, clock):
    query = await seed_waiting_list(console, clock)
    staff = await console.client("staff")
    await staff.post("/console/language", {"language": "ca", "next": "/console/figures"})
    status, html = await staff.get("/console/figures", **query)
    assert status == 200, html
    document = page(html)
    section = document.one("section", id="waiting-list")
    assert section.one("h2").text() == "Hores alliberades ofertes a la llista d'espera"
    assert table_of(document, "waiting-list")["Totes"] == ["5", "4", "3", "5", "2", "66,7 %", "40,0 %", "82,5", "2"]
    assert "No ofertes (massa tard: la cita era massa a prop): 1." in [p.text() for p in section.all("p")]

    status, body, headers = await staff.get_raw(f"/console/figures/waiting-list.csv?from={query['from']}"
                                                f"&to={query['to']}")
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert f"recorda-waiting-list-{query['from']}-{query['to']}.csv" in headers["Content-Disposition"]
    header, *rows = read_csv(body)
    assert header == ["Codi", "Oficina", "Alliberades", "Es podien oferir", "Ofertes", "Missatges d'oferta enviats",
                      "Reservades de nou", "Reservades de nou (de les ofertes)", "Reaprofitades (de les alliberades)",
                      "Temps mitjà (mediana) fins a la nova reserva, min", "No ofertes"]
    assert rows == [["oac-centre", "oac-centre", "2", "2", "2", "4", "2", "100.0", "100.0", "82.5", "0"],
                    ["oac-la-platja", "oac-la-platja", "3", "2", "1", "1", "0", "0.0", "0.0", "", "2"],
                    ["all", "Totes", "5", "4", "3", "5", "2", "66.67", "40.0", "82.5", "2"]]


def test_every_reason_not_to_offer_has_its_words():
    from bot.apps.web.console.texts import Translator
    from bot.foundation.languages import LANGUAGES
    from bot.reports.freed_slot_figures import NOT_OFFERED_REASONS

    keys = [f"figures_word_{reason}" for reason in NOT_OFFERED_REASONS] + ["figures_note_not_offered"]
    for language in LANGUAGES:
        t = Translator(language)
        assert [key for key in keys if t(key) == key] == [], language


async def test_unknown_chart_is_404_and_a_signed_out_csv_is_401(console):
    staff = await console.client("staff")
    status, _, _ = await staff.get_raw("/console/figures/pie.csv")
    assert status == 404
    status, _, _ = await staff.get_raw("/console/figures/failures.json")
    assert status == 404
    anonymous = await console.client()
    status, body, _ = await anonymous.get_raw("/console/figures/failures.csv")
    assert status == 401 and b"Reason" not in body
    status, _, headers = await anonymous.get_raw("/console/figures")
    assert status == 303 and headers["Location"].startswith("/console/sign-in")


async def test_a_bad_range_is_a_400_page_that_says_why(console):
    staff = await console.client("staff")
    cases = {
        (("from", "2026-11-30"), ("to", "2026-11-01")): "The start date is after the end date.",
        (("from", "2026-13-01"), ("to", "2026-12-01")): "“2026-13-01” is not a date.",
        (("from", "30/11/2026"),): "“30/11/2026” is not a date.",
        (("from", "2025-01-01"), ("to", "2026-01-02")): "at most 366 days",
    }
    for params, message in cases.items():
        status, html = await staff.get("/console/figures", **dict(params))
        assert status == 400, params
        error = page(html).one("p", data_test="figures-error").text()
        assert message in error, (params, error)
        assert 'data-test="figures-section"' not in html
    status, _, _ = await staff.get_raw("/console/figures/failures.csv?from=2026-11-30&to=2026-11-01")
    assert status == 400
    # A whole leap year is allowed.
    status, _ = await staff.get("/console/figures", **{"from": "2028-01-01", "to": "2028-12-31"})
    assert status == 200


async def test_an_office_the_booking_system_does_not_list_is_a_400(booking, console):
    staff = await console.client("staff")
    status, html = await staff.get("/console/figures", office="nowhere")
    assert status == 400
    assert "There is no office “nowhere”" in page(html).one("p", data_test="figures-error").text()
    status, _, _ = await staff.get_raw("/console/figures/cost.csv?office=nowhere")
    assert status == 400


# --- no CDN, no inline script --------------------------------------------------------------
async def test_the_charts_come_from_the_consoles_own_static_files(console):
    staff = await console.client("staff")
    status, body, headers = await staff.get_raw("/console/figures")
    assert status == 200
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    document = page(body.decode())
    scripts = document.all("script")
    sources = [s.attrs.get("src") for s in scripts]
    assert "/static/vendor/chart.umd.min.js" in sources and "/static/console-figures.js" in sources
    assert all(src and src.startswith("/static/") for src in sources), "no inline or external script"
    for element in scripts + document.all("link"):
        assert "http" not in (element.attrs.get("src") or "") + (element.attrs.get("href") or "")

    status, chart_js, headers = await staff.get_raw("/static/vendor/chart.umd.min.js")
    assert status == 200 and b"Chart.js v4.6.1" in chart_js[:200]
    status, licence, _ = await staff.get_raw("/static/vendor/chart.js.LICENSE.md")
    assert status == 200 and b"MIT License" in licence
    status, script, _ = await staff.get_raw("/static/console-figures.js")
    assert status == 200 and b"data-chart" in script and b"http" not in script


# --- the booking system down -----------------------------------------------------------------
async def test_with_the_booking_system_down_the_store_figures_remain(booking, console, outage):
    history = await seed(booking, console)
    outage.set_outage(True)
    staff = await console.client("staff")
    status, html = await staff.get("/console/figures", **{"from": history.first.isoformat(),
                                                          "to": history.last.isoformat(), "office": OFFICE})
    assert status == 200, html
    document = page(html)
    assert "The booking system is not answering right now" in document.one("p", data_test="booking-down").text()
    assert table_of(document, "answer-rate")["Answered (of sent)"][:3] == ["2", "4", "50.0 %"]
    assert table_of(document, "failures")["Failed (of attempted)"][:3] == ["2", "5", "40.0 %"]
    # Cancellations through Recorda are counted; their share of appointments cannot be.
    assert table_of(document, "cancellations")["Cancelled through Recorda"][:3] == ["1", "–", "–"]
    no_shows = document.one("section", id="no-shows")
    assert "needs the appointments from the booking system" in no_shows.text()
    assert not no_shows.all("canvas")
    assert headlines(document)["No-show rate"] == "–"

    status, body, _ = await staff.get_raw(f"/console/figures/failures.csv?from={history.first}"
                                          f"&to={history.last}&office={OFFICE}")
    assert status == 200 and ["failed", "Failed (of attempted)", "2", "5", "40.0", ""] in read_csv(body)


# --- every word of every table exists in the three languages ------------------------------
def test_every_table_row_column_and_title_has_its_words():
    from bot.apps.web.console.texts import Translator
    from bot.console.figure_tables import cost_table, figure_tables
    from bot.console.figure_tables import headlines as headline_figures
    from bot.foundation.languages import LANGUAGES
    from bot.reminders.provider_status import REASON_LABELS
    from bot.reports.compute import compute_figures
    from bot.reports.figure_types import Period

    figures = compute_figures([], [], Period(date(2026, 11, 2), date(2026, 11, 3)))
    keys = {f"figures_head_{h.key}" for h in headline_figures(figures)}
    keys |= {f"reason_{reason}" for reason in REASON_LABELS}
    keys |= {note.key for note in cost_table(figures_priced_by_the_provider()).notes}
    for table in figure_tables(figures):
        name = table.name.replace("-", "_")
        keys |= {f"figures_{name}_title", f"figures_{name}_help", table.row_heading}
        keys |= {f"figures_col_{column.key}" for column in table.columns}
        keys |= {row.text_key for row in table.rows if row.text_key and not row.text_key.startswith("reason_")}
        keys |= {note.key for note in table.notes}
    for language in LANGUAGES:
        t = Translator(language)
        assert [key for key in sorted(keys) if t(key) == key] == [], language


def figures_priced_by_the_provider():
    """The figures of one reminder whose delivery status carried Meta's pricing."""
    from bot.reminders.records import Reminder, ReminderEvent
    from bot.reports.compute import compute_figures
    from bot.reports.figure_types import Period
    from bot.reports.reminder_history import ReminderHistory

    at = datetime(2026, 11, 2, 17, tzinfo=MADRID)
    reminder = Reminder(id=1, appointment_id="P1", service_date=date(2026, 11, 3), office_id=OFFICE,
                        phone="+34612345678", language="ca", state=states.DELIVERED, reason=None,
                        error_code=None, provider_message_id="wamid.P1", was_read=False, created_at=at,
                        updated_at=at, sent_at=at, window_closes_at=None)
    events = [ReminderEvent(states.SENT, True, at, "connector", None),
              ReminderEvent(states.DELIVERED, True, at, "provider",
                            {"pricing": {"billable": True, "category": "utility", "model": "PMP"}})]
    return compute_figures([ReminderHistory(reminder, events)], [], Period(date(2026, 11, 2), date(2026, 11, 3)))
