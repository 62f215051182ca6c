"""The sandbox booking service: its seed, its HTTP surface (raw, as any
client sees it), its board page and its agreement with openapi.yaml."""
from __future__ import annotations

import copy
import re
import uuid
from collections import Counter
from datetime import date
from urllib.parse import quote

import jsonschema
import pytest
import yaml
from sqlalchemy import create_engine, func, select

from bot.booking import ATTENDED, BOOKED, CANCELLED, CONFIRMED, NO_SHOW
from bot.dev.sandbox.booking_seed import (
    OFFICES,
    appointments,
    build_appointments,
    next_service_day,
    office_slots,
    previous_service_day,
    seed,
)
from bot.dev.sandbox.booking_service import create_app
from bot.dev.sandbox.citizens import CITIZENS
from bot.foundation.phone import check_for_whatsapp
from tests.support import ROOT
from tests.support.booking_sandbox import madrid_today

SPEC_PATH = ROOT / "bot" / "booking" / "openapi.yaml"
FRIDAY = date(2026, 12, 4)
SUNDAY = date(2026, 12, 6)


@pytest.fixture(scope="module")
def spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text())


def _nullable_to_json_schema(node):
    """OpenAPI 3.0's `nullable` is not JSON Schema: turn it into a null type."""
    if isinstance(node, dict):
        node = {k: _nullable_to_json_schema(v) for k, v in node.items()}
        if node.pop("nullable", False):
            node["type"] = [node["type"], "null"]
        return node
    if isinstance(node, list):
        return [_nullable_to_json_schema(v) for v in node]
    return node


def assert_matches(spec: dict, schema_name: str, instance) -> None:
    document = _nullable_to_json_schema(copy.deepcopy(spec))
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": document["components"]}
    jsonschema.validate(instance, schema, format_checker=jsonschema.FormatChecker())


# --- seed ------------------------------------------------------------------------

def test_service_days_skip_weekends():
    assert next_service_day(FRIDAY) == date(2026, 12, 7)
    assert next_service_day(SUNDAY) == date(2026, 12, 7)
    assert previous_service_day(date(2026, 12, 7)) == FRIDAY


@pytest.mark.parametrize("today", [FRIDAY, SUNDAY, date(2026, 3, 25)])
def test_every_citizen_has_one_booked_appointment_on_the_next_service_day(today):
    rows = build_appointments(today)
    next_day = [r for r in rows if r["starts_at"].date() == next_service_day(today)]
    assert sorted(r["citizen_name"] for r in next_day) == sorted(c.name for c in CITIZENS)
    assert {r["status"] for r in next_day} == {BOOKED}
    assert build_appointments(today) == rows  # deterministic


def test_seed_is_realistic():
    rows = build_appointments(FRIDAY)
    assert len({r["id"] for r in rows}) == len(rows)
    assert all(re.fullmatch(r"VLD-2026-\d{6}", r["id"]) for r in rows)
    slots = {(o["id"], s) for o in OFFICES for d in {r["starts_at"].date() for r in rows}
             for s in office_slots(o, d)}
    assert all((r["office_id"], r["starts_at"]) in slots for r in rows)
    assert len({(r["office_id"], r["starts_at"]) for r in rows}) == len(rows)  # one desk suffices
    upcoming = Counter(r["citizen_name"] for r in rows
                       if r["starts_at"].date() > FRIDAY and r["status"] in (BOOKED, CONFIRMED))
    assert 2 in upcoming.values()
    past_statuses = {r["status"] for r in rows if r["starts_at"].date() < FRIDAY}
    assert {ATTENDED, NO_SHOW} <= past_statuses
    assert all(r["cancelled_at"] for r in rows if r["status"] == CANCELLED)


def test_bench_appointments_have_distinct_usable_mobiles():
    plain = build_appointments(FRIDAY)
    rows = build_appointments(FRIDAY, bench_appointments=1000)[len(plain):]
    assert len(rows) == 1000
    assert {r["starts_at"].date() for r in rows} == {next_service_day(FRIDAY)}
    checks = [check_for_whatsapp(r["phone"]) for r in rows]
    assert all(c.usable for c in checks)
    citizen_numbers = {r["phone_e164"] for r in plain}
    numbers = {c.e164 for c in checks}
    assert len(numbers) == 1000 and not numbers & citizen_numbers


def test_seeding_replaces_the_database(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'b.db'}", future=True)
    count = select(func.count()).select_from(appointments)
    seed(engine, FRIDAY)
    with engine.connect() as conn:
        first = conn.execute(count).scalar()
    seed(engine, FRIDAY, bench_appointments=10)
    with engine.connect() as conn:
        assert conn.execute(count).scalar() == first + 10


# --- the API as a client sees it -------------------------------------------------------

def test_openapi_describes_every_api_route(spec, tmp_path):
    app = create_app(str(tmp_path / "b.db"), "t", name=f"booking_spec_{uuid.uuid4().hex}")
    base = spec["servers"][0]["url"].strip("/") + "/"
    served = {(re.sub(r"<(\w+)(:[^>]*)?>", r"{\1}", "/" + route.path[len(base):]), method.lower())
              for route in app.router.routes if route.path.startswith(base)
              for method in route.methods}
    described = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert served == described


def test_responses_match_the_openapi_schemas(spec, booking_service):
    status, offices = booking_service.request("GET", "/api/v1/offices")
    assert status == 200 and offices
    for office in offices:
        assert_matches(spec, "Office", office)
    for procedure in booking_service.request("GET", "/api/v1/procedures")[1]:
        assert_matches(spec, "Procedure", procedure)
    day = next_service_day(madrid_today())
    status, listed = booking_service.request("GET", f"/api/v1/appointments?date={day}&office_id=oac-centre")
    assert status == 200 and listed
    for appointment in listed:
        assert_matches(spec, "Appointment", appointment)
    for path, expected in (("/api/v1/appointments/nope", 404),
                           ("/api/v1/appointments?date=x&office_id=a", 400),
                           ("/api/v1/appointments?date=2026-01-01&office_id=nope", 404)):
        status, body = booking_service.request("GET", path)
        assert status == expected
        assert_matches(spec, "Error", body)


def test_missing_or_wrong_token_is_401(booking_service):
    for token in ("", "wrong"):
        status, body = booking_service.request("GET", "/api/v1/offices", token=token)
        assert status == 401 and body["error"]["code"] == "unauthorized"


def test_phone_query_normalises_any_format(booking_service):
    day = next_service_day(madrid_today())
    for phone in ("0034 612 34 56 78", "+34 612345678", "612345678"):
        status, found = booking_service.request(
            "GET", f"/api/v1/appointments?phone={quote(phone)}&from={day}")
        assert status == 200
        assert "Montserrat Puig i Ferrer" in {a["citizen_name"] for a in found}
    status, body = booking_service.request("GET", f"/api/v1/appointments?phone=61234&from={day}")
    assert status == 400 and body["error"]["code"] == "bad_request"


def test_attendance_needs_a_boolean(booking_service):
    path = "/api/v1/appointments/VLD-2026-000001/attendance"
    for body in ({"attended": "yes"}, {}, None):
        status, answer = booking_service.request("POST", path, body)
        assert status == 400 and answer["error"]["code"] == "bad_request"


def test_outage_hook_makes_the_api_answer_503(booking_service):
    try:
        booking_service.set_outage(True)
        status, body = booking_service.request("GET", "/api/v1/offices")
        assert status == 503 and body["error"]["code"] == "unavailable"
        assert booking_service.request("GET", "/sandbox/health")[1]["down"] is True
        assert "Outage simulated" in booking_service.request("GET", "/sandbox/board")[1]
    finally:
        booking_service.set_outage(False)
    assert booking_service.request("GET", "/api/v1/offices")[0] == 200


# --- the board page -------------------------------------------------------------------

def test_board_page_is_self_contained_and_polls(booking_service):
    status, page = booking_service.request("GET", "/", token="")
    assert status == 200
    assert all(o["name"] in page for o in OFFICES)
    assert "Montserrat Puig i Ferrer" in page
    assert 'fetch("/sandbox/board"' in page and "setInterval(refresh, 2000)" in page
    assert not re.search(r"<(script|link)[^>]+(src|href)=", page)  # no CDN, nothing external


def test_board_shows_a_cancel_at_once(booking_service):
    day = next_service_day(madrid_today())
    listed = booking_service.request("GET", f"/api/v1/appointments?date={day}&office_id=oac-can-mas")[1]
    target = next(a for a in listed if a["status"] == BOOKED)
    status, cancelled = booking_service.request("POST", f"/api/v1/appointments/{target['id']}/cancel")
    assert status == 200
    board = booking_service.request("GET", "/sandbox/board", token="")[1]
    row = re.search(rf'<tr id="{target["id"]}"[^>]*>.*?</tr>', board).group(0)
    assert 'data-status="cancelled"' in row
    assert "cancelled " + cancelled["cancelled_at"][11:19] in row
