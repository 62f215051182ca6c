"""The SMS fallback: personal links, the SMS client and the simulator's SMS
API, the worker's fallback duty and the citizen's page (the whole path end
to end: tests/e2e/test_sms_fallback_e2e.py).

The sandbox booking service is shared by the module (tests/integration/conftest.py),
so every test that changes an appointment takes its own citizen."""
from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import List, Optional
from zoneinfo import ZoneInfo

import aiohttp
import jwt
import pytest

import bot.foundation.clock
from bot.apps.web.app import create_app
from bot.booking import BOOKED, CANCELLED, CONFIRMED, Appointment, Office
from bot.booking.outbox import DONE, BookingOutbox, OutboxWorker
from bot.citizens.links import EXPIRED, FORGED, CitizenLinks, LinkClaims, LinkRefused, UsedLinks
from bot.citizens.texts import check_complete
from bot.dev.processes import free_port
from bot.dev.sandbox.booking_seed import OFFICES
from bot.dev.served_app import serve, shut
from bot.foundation.languages import format_when
from bot.foundation.phone import to_e164
from bot.foundation.settings import Settings
from bot.messaging.sms_text import is_gsm7, sms_parts, to_gsm7
from bot.offices.service_days import next_service_day
from bot.reminders import states
from bot.reminders.sms_fallback import (
    FAILED,
    RETRY,
    SENT,
    SKIPPED,
    SmsFallback,
    SmsFallbackStore,
    SmsOutcomeNotifier,
    compose,
    sms_sender_id,
    street,
)
from bot.reminders.store import ReminderStore
from connectors.messagebird_sms import MessageBirdError, MessageBirdSmsClient, SentSms
from tests.support.booking_sandbox import madrid_today
from tests.support.phone_helpers import form_token
from tests.support.recording_server import RecordingServer
from tests.support.simulator import ACCESS_KEY, start_simulator

MADRID = ZoneInfo("Europe/Madrid")
SECRET = "test-link-secret-0123456789-abcdefghijklmnop"
T0 = datetime(2026, 3, 2, 17, 0, tzinfo=timezone.utc)


def frozen(at: datetime):
    return lambda: at


# ------------------------------------------------------------------- links

def test_a_link_carries_the_appointment_the_number_and_expires_at_the_appointment():
    links = CitizenLinks(SECRET, "https://cita.example.org", clock=frozen(T0))
    starts = T0 + timedelta(hours=20)
    url = links.link("VLD-1", "+34619283746", starts)
    assert url.startswith("https://cita.example.org/c/")
    token = url.rsplit("/", 1)[1]
    claims = links.verify(token)
    assert (claims.appointment_id, claims.phone, claims.expires_at) == ("VLD-1", "+34619283746", starts)
    assert jwt.get_unverified_header(token) == {"alg": "HS256"}
    # Every link is its own: another jti.
    assert links.verify(links.token("VLD-1", "+34619283746", starts)).jti != claims.jti


def test_a_link_lives_at_most_72_hours():
    links = CitizenLinks(SECRET, clock=frozen(T0))
    claims = links.verify(links.token("VLD-1", "+34619283746", T0 + timedelta(days=6)))
    assert claims.expires_at == T0 + timedelta(hours=72)


@pytest.mark.parametrize("forge", ["other secret", "tampered", "alg none", "garbage", "missing claim"])
def test_a_forged_link_is_refused(forge):
    links = CitizenLinks(SECRET, clock=frozen(T0))
    good = links.token("VLD-1", "+34619283746", T0 + timedelta(hours=20))
    claims = {"a": "VLD-1", "p": "+34619283746", "exp": int((T0 + timedelta(hours=20)).timestamp()),
              "jti": "abc"}
    forged = {
        "other secret": jwt.encode(claims, "x" * 40, algorithm="HS256"),
        # Someone else's number in a genuine link's signature.
        "tampered": good.split(".")[0] + "." + jwt.utils.base64url_encode(json.dumps(
            {**claims, "p": "+34600000000"}).encode()).decode() + "." + good.split(".")[2],
        "alg none": jwt.encode(claims, None, algorithm="none"),
        "garbage": "not-a-token",
        "missing claim": jwt.encode({k: v for k, v in claims.items() if k != "p"}, SECRET, algorithm="HS256"),
    }[forge]
    with pytest.raises(LinkRefused) as refused:
        links.verify(forged)
    assert refused.value.reason == FORGED and refused.value.status == 403


def test_an_expired_link_is_refused_with_a_frozen_clock():
    starts = T0 + timedelta(hours=20)
    token = CitizenLinks(SECRET, clock=frozen(T0)).token("VLD-1", "+34619283746", starts)
    assert CitizenLinks(SECRET, clock=frozen(starts - timedelta(seconds=1))).verify(token)
    for later in (starts, starts + timedelta(days=1)):
        with pytest.raises(LinkRefused) as refused:
            CitizenLinks(SECRET, clock=frozen(later)).verify(token)
        assert refused.value.reason == EXPIRED and refused.value.status == 410


def test_a_link_is_used_once(db_url):
    used = UsedLinks(db_url)
    claims = LinkClaims("VLD-1", "+34619283746", T0, "jti1")
    assert not used.is_used(claims)
    assert used.claim(claims, "cancel")
    assert used.is_used(claims) and not used.claim(claims, "confirm")
    used.release(claims)
    assert not used.is_used(claims)


def test_the_form_token_belongs_to_one_link():
    links = CitizenLinks(SECRET)
    one, other = (links.verify(links.token("VLD-1", "+34619283746", bot.foundation.clock.now(timezone.utc)
                                           + timedelta(hours=5))) for _ in range(2))
    assert links.check_form_token(one, links.form_token(one))
    assert not links.check_form_token(one, links.form_token(other))
    assert not links.check_form_token(one, None)
    assert not CitizenLinks(SECRET.upper()).check_form_token(one, links.form_token(one))


def test_a_short_secret_is_refused():
    with pytest.raises(ValueError):
        CitizenLinks("short")


# ------------------------------------------------- stores (SQLite, PostgreSQL)

def test_the_sms_claim_is_taken_once_and_an_event_is_no_state(any_db_url, monkeypatch, tmp_path):
    offices_file(tmp_path, monkeypatch, ["oac-centre"])
    store, fallbacks, used = ReminderStore(any_db_url), SmsFallbackStore(any_db_url), UsedLinks(any_db_url)
    aid = f"T-{uuid.uuid4().hex[:10]}"
    tomorrow = bot.foundation.clock.now(MADRID).date() + timedelta(days=1)
    store.schedule(aid, tomorrow, "oac-centre", "+34619283746", "ca")
    store.mark_failed(aid, "no_whatsapp_account", 302)
    assert aid in [r.appointment_id for r in fallbacks.candidates(tomorrow, limit=10_000)]
    assert fallbacks.claim(aid) and not fallbacks.claim(aid)
    assert aid not in [r.appointment_id for r in fallbacks.candidates(tomorrow, limit=10_000)]
    fallbacks.retry_later(aid, "provider down", 1)
    assert not fallbacks.claim(aid)  # not due yet
    fallbacks.mark_sent(aid, "sms-1", 2)
    assert fallbacks.get(aid).state == SENT
    # An event that is not a state: kept, moves nothing, even through transition().
    assert store.record_event(aid, "sms_sent", "sms_fallback", {"message_id": "sms-1"})
    store.transition(aid, "sms_sent", bot.foundation.clock.now(timezone.utc), "test")
    assert states.next_state(states.SENT, "sms_sent") is None
    assert store.get(aid).state == states.FAILED
    assert [(e.event, e.applied) for e in store.history(aid)][-2:] == [("sms_sent", False)] * 2
    assert not store.record_event("no-such-appointment", "sms_sent", "test")
    claims = LinkClaims(aid, "+34619283746", T0, "jti")
    assert used.claim(claims, "cancel") and not used.claim(claims, "cancel")


# --------------------------------------------------------------- SMS texts

def test_sms_alphabet_and_parts():
    assert to_gsm7("anul·leu l’enllaç, miércoles, sábado") == "anul.leu l'enllac, miércoles, sabado"
    assert is_gsm7(to_gsm7("Plaça de la Vila, 1 — àèéíòóú ñ ¿?"))
    assert sms_parts("a" * 160) == 1 and sms_parts("a" * 161) == 2 and sms_parts("a" * 306) == 2
    assert sms_parts("a" * 307) == 3
    assert sms_parts("·" * 70) == 1 and sms_parts("·" * 71) == 2  # UCS-2
    assert sms_parts("€" * 80) == 1 and sms_parts("€" * 81) == 2  # two septets each


def test_every_language_has_every_text():
    assert check_complete() == {}


@pytest.mark.parametrize("language", ["ca", "es", "en"])
def test_the_sms_fits_in_two_parts_with_the_longest_dates(language):
    links = CitizenLinks(SECRET, "http://127.0.0.1:8080")
    office = Office("oac-la-platja", "OAC La Platja", "Passeig Marítim, 15, 08800 Vilademar",
                    "https://osm.example/x", "+34 938 100 140")
    for day in range(366):
        starts = datetime(2026, 1, 1, 10, 30, tzinfo=MADRID) + timedelta(days=day)
        appointment = Appointment("VLD-2026-054321", office.id, "alta-padro", starts, "N",
                                  "619 283 746", language, BOOKED)
        body = compose(appointment, office, links.link(appointment.id, "+34619283746", starts),
                       language, MADRID)
        assert sms_parts(body) <= 2 and is_gsm7(body), body
        assert to_gsm7(format_when(starts, language, MADRID)) in body and "OAC La Platja" in body
    assert street(office.address) == "Passeig Marítim, 15"


# ---------------------------------------------- SMS client and the simulator

@pytest.fixture(scope="module")
def simulator():
    with start_simulator() as sim:
        yield sim


async def test_sms_client_sends_through_the_simulator(simulator):
    client = MessageBirdSmsClient(simulator.url, ACCESS_KEY, "Ajuntament")
    try:
        sent = await client.send("+34619283746", "Cita dimarts. http://127.0.0.1:8080/c/abc",
                                 reference="VLD-1", validity=3600)
    finally:
        await client.close()
    assert sent.status == "sent" and len(sent.id) == 32
    status, api_view = simulator.call("GET", f"/messages/{sent.id}")
    assert status == 200 and api_view["recipients"]["items"][0]["recipient"] == 34619283746
    assert (api_view["originator"], api_view["reference"], api_view["validity"]) == ("Ajuntament", "VLD-1", 3600)
    status, thread = simulator.call("GET", "/sim/messages?msisdn=%2B34619283746")
    [sms] = [m for m in thread if m["id"] == sent.id]
    assert (sms["type"], sms["direction"], sms["body"], sms["parts"]) == (
        "sms", "sent", "Cita dimarts. http://127.0.0.1:8080/c/abc", 1)
    status, contacts = simulator.call("GET", "/sim/contacts")
    teresa = next(c for c in contacts if c["msisdn"] == "+34619283746")
    assert teresa["message_count"] >= 1 and not teresa["has_whatsapp"]


async def test_the_simulator_checks_the_key_and_the_parameters(simulator):
    bad_key = MessageBirdSmsClient(simulator.url, "wrong-key", "Ajuntament", max_attempts=1)
    with pytest.raises(MessageBirdError) as error:
        await bad_key.send("+34619283746", "hola")
    await bad_key.close()
    assert (error.value.status, error.value.code) == (401, 2) and not error.value.retryable
    cases = [({"originator": "Ajuntament de Vilademar", "body": "x", "recipients": [34619283746]}, "originator"),
             ({"originator": "Ajuntament", "body": "", "recipients": [34619283746]}, "body"),
             ({"originator": "Ajuntament", "body": "x", "recipients": ["not a number"]}, "recipients"),
             ({"originator": "Ajuntament", "body": "x"}, "recipients"),
             ({"originator": "Ajuntament", "body": "x", "recipients": [34619283746], "validity": "1h"}, "validity")]
    for body, parameter in cases:
        status, answer = simulator.call("POST", "/messages", body)
        assert status == 422 and answer["errors"][0]["parameter"] == parameter, (body, answer)


def test_the_originator_is_checked():
    with pytest.raises(ValueError):
        MessageBirdSmsClient("http://127.0.0.1:1", "k", "Ajuntament de Vilademar")
    assert MessageBirdSmsClient("http://127.0.0.1:1", "k", "+34938100100").originator == "+34938100100"


async def test_sms_client_retries_rate_limits_and_server_errors_with_the_shared_helper():
    server = await RecordingServer().start()
    server.script = [(429, {"errors": [{"code": 429, "description": "Too many"}]}, {"Retry-After": "0"}),
                     (503, {"errors": [{"code": 0, "description": "unavailable"}]}, {}),
                     (201, {"id": "sms-1", "recipients": {"items": [{"status": "sent"}]}}, {})]
    client = MessageBirdSmsClient(f"http://127.0.0.1:{server.port}", "key", backoff_base=0.01)
    try:
        assert await client.send("+34619283746", "hola") == SentSms("sms-1", "sent")
        server.script = [(422, {"errors": [{"code": 10, "description": "bad", "parameter": "body"}]}, {})]
        with pytest.raises(MessageBirdError) as error:
            await client.send("+34619283746", "hola")
    finally:
        await client.close()
        await server.stop()
    assert error.value.status == 422 and not error.value.retryable
    requests = [r for r in server.requests if r.path == "/messages"]
    assert len(requests) == 4
    assert requests[0].headers["Authorization"] == "AccessKey key"
    assert requests[0].body == {"originator": "Ajuntament", "body": "hola", "recipients": [34619283746]}


# --------------------------------------------------------- the fallback duty

class FakeSms:
    """Records what would be sent; slow enough for two workers to overlap."""

    def __init__(self, fail: Optional[MessageBirdError] = None):
        self.sent: List[dict] = []
        self.fail = fail

    async def send(self, to, body, reference=None, validity=None) -> SentSms:
        await asyncio.sleep(0.05)
        if self.fail:
            raise self.fail
        self.sent.append({"to": to, "body": body, "reference": reference, "validity": validity})
        return SentSms(f"sms-{len(self.sent)}", "sent")

    async def close(self):
        pass


def settings_for(db_url: str, booking_url: str = "http://127.0.0.1:1", public_url: str = "http://127.0.0.1:8080"):
    return Settings(db_url=db_url, booking_url=booking_url, booking_token="t", rasa_url="", rasa_token="",
                    timezone=MADRID, default_region="ES", default_language="ca", link_secret=SECRET,
                    public_url=public_url)


def offices_file(tmp_path: Path, monkeypatch, on: List[str], default: bool = False) -> None:
    """An offices.yml with the fallback on for `on` (a new file each time:
    bot.offices.settings caches a file's content by its path)."""
    lines = ["defaults:", f"  sms_fallback: {str(default).lower()}", "offices:"]
    lines += [f"  {office}:\n    sms_fallback: true" for office in on] or ["  {}"]
    path = tmp_path / f"offices-{time.monotonic_ns()}.yml"
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("RECORDA_OFFICES_FILE", str(path))


class Cast:
    """The next service day's booked appointments of Spanish mobiles, handed
    out once each: a test that changes one has it to itself."""

    def __init__(self, appointments: List[Appointment]):
        self.free = list(appointments)

    def take(self, language: Optional[str] = None, office: Optional[str] = None,
             not_office: Optional[str] = None) -> Appointment:
        for a in self.free:
            if ((language is None or a.language == language) and (office is None or a.office_id == office)
                    and (not_office is None or a.office_id != not_office)):
                self.free.remove(a)
                return a
        pytest.skip(f"no free sandbox appointment for {language or 'any language'} {office or ''}")

    def busiest_office(self) -> str:
        counts = {}
        for a in self.free:
            counts[a.office_id] = counts.get(a.office_id, 0) + 1
        return max(counts, key=counts.get)


@pytest.fixture(scope="module")
def cast(booking_service) -> Cast:
    day = next_service_day(madrid_today())
    found = []
    for office in OFFICES:
        status, body = booking_service.request(
            "GET", f"/api/v1/appointments?date={day.isoformat()}&office_id={office['id']}")
        assert status == 200, body
        found += [Appointment.from_dict(a) for a in body]
    return Cast([a for a in found if a.status == BOOKED and (to_e164(a.phone) or "").startswith("+346")])


def fail_reminder(store: ReminderStore, appointment: Appointment, reason="no_whatsapp_account"):
    store.schedule(appointment.id, appointment.starts_at.date(), appointment.office_id,
                   to_e164(appointment.phone), appointment.language)
    store.mark_failed(appointment.id, reason, 302)


async def test_one_sms_per_failed_reminder_even_run_twice_and_by_two_workers(
        cast, booking, db_url, tmp_path, monkeypatch):
    on = cast.busiest_office()
    failed, not_delivered, landline = (cast.take(office=on) for _ in range(3))
    elsewhere = cast.take(not_office=on)
    offices_file(tmp_path, monkeypatch, [on])
    store = ReminderStore(db_url)
    fail_reminder(store, failed)
    fail_reminder(store, not_delivered, "not_delivered")
    fail_reminder(store, landline, "not_mobile")           # no fallback for that reason
    fail_reminder(store, elsewhere)                         # an office without the fallback
    sms = FakeSms()
    settings = settings_for(db_url)
    workers = [SmsFallback.from_settings(settings, booking, sms) for _ in range(2)]
    counts = await asyncio.gather(*(w.run_once() for w in workers))
    counts.append(await workers[0].run_once())
    counts.append(await SmsFallback.from_settings(settings, booking, sms).run_once())  # a restart
    assert sum(counts) == 2
    assert sorted(s["reference"] for s in sms.sent) == sorted([failed.id, not_delivered.id])
    first = next(s for s in sms.sent if s["reference"] == failed.id)
    assert first["to"] == to_e164(failed.phone) and sms_parts(first["body"]) <= 2
    assert to_gsm7(format_when(failed.starts_at, failed.language, MADRID)) in first["body"]
    assert 0 < first["validity"] <= 4 * 24 * 3600
    link = re.search(r"http://127\.0\.0\.1:8080/c/(\S+)", first["body"]).group(1)
    claims = CitizenLinks(SECRET).verify(link)
    assert (claims.appointment_id, claims.phone) == (failed.id, to_e164(failed.phone))
    reminder = store.get(failed.id)
    assert reminder.state == states.FAILED and reminder.reason == "no_whatsapp_account"
    sms_events = [e for e in store.history(failed.id) if e.event == "sms_sent"]
    assert len(sms_events) == 1 and not sms_events[0].applied
    assert sms_events[0].detail["message_id"].startswith("sms-")
    fallbacks = SmsFallbackStore(db_url)
    assert fallbacks.get(failed.id).state == SENT
    assert fallbacks.get(elsewhere.id) is None and fallbacks.get(landline.id) is None


async def test_no_sms_when_the_fallback_is_off_or_the_appointment_is_cancelled(
        cast, booking, db_url, tmp_path, monkeypatch):
    waiting, cancelled = cast.take(), cast.take()
    store = ReminderStore(db_url)
    offices_file(tmp_path, monkeypatch, [])
    fail_reminder(store, waiting)
    sms = FakeSms()
    assert await SmsFallback.from_settings(settings_for(db_url), booking, sms).run_once() == 0
    # On by default, for every office: a cancelled appointment gets none.
    offices_file(tmp_path, monkeypatch, [], default=True)
    fail_reminder(store, cancelled)
    await booking.cancel(cancelled.id)
    assert await SmsFallback.from_settings(settings_for(db_url), booking, sms).run_once() == 1
    assert [s["reference"] for s in sms.sent] == [waiting.id]
    assert SmsFallbackStore(db_url).get(cancelled.id).state == SKIPPED


async def test_a_failed_send_is_retried_later_and_a_refused_one_is_final(
        cast, booking, db_url, tmp_path, monkeypatch):
    offices_file(tmp_path, monkeypatch, [], default=True)
    store, fallbacks = ReminderStore(db_url), SmsFallbackStore(db_url)
    down, refused = cast.take(), cast.take()
    fail_reminder(store, down)
    duty = SmsFallback.from_settings(settings_for(db_url), booking, FakeSms(MessageBirdError(503, 0, "down")))
    await duty.run_once()
    assert fallbacks.get(down.id).state == RETRY and fallbacks.get(down.id).attempts == 1
    assert await duty.run_once() == 0  # not due yet
    fail_reminder(store, refused)
    duty.client = FakeSms(MessageBirdError(422, 10, "recipients not valid"))
    await duty.run_once()
    assert fallbacks.get(refused.id).state == FAILED
    assert "sms_failed" in [e.event for e in store.history(refused.id)]
    assert store.get(refused.id).state == states.FAILED


# ------------------------------------------------------- the citizen's page

class Page:
    """bot.apps.web in this process, on a free port, against the sandbox booking service."""

    def __init__(self, db_url: str, booking_system, clock=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = settings_for(db_url, public_url=self.url)
        self.links = CitizenLinks(SECRET, self.url, **({"clock": clock} if clock else {}))
        self.app = create_app(self.settings, booking_system, self.links)

    async def start(self) -> "Page":
        self.server = await serve(self.app, self.port)
        return self

    async def stop(self) -> None:
        await shut(self.server)

    async def get(self, url: str):
        async with aiohttp.ClientSession() as session:
            async with session.get(url) as resp:
                return resp.status, await resp.text(), dict(resp.headers)

    async def post(self, url: str, form: Optional[str]):
        data = {"form": form} if form is not None else {}
        async with aiohttp.ClientSession() as session:
            async with session.post(url, data=data) as resp:
                return resp.status, await resp.text()


@pytest.fixture
async def page(db_url, booking):
    served = await Page(db_url, booking).start()
    yield served
    await served.stop()


async def test_the_page_shows_the_appointment_and_a_confirm_works_once(cast, page, booking, db_url):
    appointment = cast.take("es")
    store = ReminderStore(db_url)
    fail_reminder(store, appointment)
    url = page.links.link(appointment.id, to_e164(appointment.phone), appointment.starts_at)
    status, html, headers = await page.get(url)
    assert status == 200 and '<html lang="es">' in html
    assert format_when(appointment.starts_at, "es", MADRID) in html.replace("&#x27;", "'")
    office = await booking.get_office(appointment.office_id)
    procedure = await booking.get_procedure(appointment.procedure_id)
    for shown in (office.name, office.address, procedure.documents_url, procedure.name("es"), "Anular la cita"):
        assert shown.replace("'", "&#x27;") in html
    assert headers["Referrer-Policy"] == "no-referrer" and headers["Cache-Control"] == "no-store"
    assert "<script" not in html
    # No CSRF token, a wrong one: refused, nothing changed, the link still good.
    for bad in (None, "0" * 64):
        status, html2 = await page.post(url + "/confirm", bad)
        assert status == 403
    assert (await booking.get_appointment(appointment.id)).status == BOOKED
    status, done = await page.post(url + "/confirm", form_token(html))
    assert status == 200 and "Hemos confirmado su cita" in done
    assert (await booking.get_appointment(appointment.id)).status == CONFIRMED
    reminder = store.get(appointment.id)
    assert reminder.state == states.CONFIRMED
    assert store.history(appointment.id)[-1].detail == {"channel": "sms"}
    # Used: refused, on the page and on a second answer, and nothing changes.
    events = len(store.history(appointment.id))
    status, again = await page.post(url + "/cancel", form_token(html))
    assert status == 410 and "ya se ha usado" in again
    assert (await booking.get_appointment(appointment.id)).status == CONFIRMED
    assert len(store.history(appointment.id)) == events
    assert (await page.get(url))[0] == 410


async def test_someone_elses_forged_or_expired_link_changes_nothing(cast, page, booking, db_url, caplog):
    appointment = cast.take("ca")
    owner = to_e164(appointment.phone)
    not_theirs = page.links.link(appointment.id, "+34699999999", appointment.starts_at)
    status, html, _ = await page.get(not_theirs)
    assert status == 403 and "no correspon a cap cita" in html
    forged_key = CitizenLinks("another-secret-that-is-long-enough-123456", page.url)
    forged = forged_key.link(appointment.id, owner, appointment.starts_at)
    assert (await page.get(forged))[0] == 403
    token = not_theirs.rsplit("/", 1)[1]
    claims = page.links.verify(token)
    status, _ = await page.post(not_theirs + "/cancel", page.links.form_token(claims))
    assert status == 403
    status, _ = await page.post(forged + "/cancel", forged_key.form_token(forged_key.verify(forged.rsplit("/", 1)[1])))
    assert status == 403
    assert (await booking.get_appointment(appointment.id)).status == BOOKED
    assert "+34 6•• ••• •99" in caplog.text and "+34699999999" not in caplog.text
    # Expired: the app's clock is past the appointment.
    late = await Page(db_url, booking, clock=frozen(appointment.starts_at + timedelta(minutes=1))).start()
    try:
        link = late.links.link(appointment.id, owner, appointment.starts_at)
        status, html, _ = await late.get(link)
        assert status == 410 and "caducat" in html
    finally:
        await late.stop()
    assert (await booking.get_appointment(appointment.id)).status == BOOKED


async def test_booking_down_queues_the_cancel_and_the_worker_tells_by_sms(
        cast, page, booking, db_url, outage):
    appointment = cast.take("en")
    store = ReminderStore(db_url)
    fail_reminder(store, appointment)
    phone = to_e164(appointment.phone)
    url = page.links.link(appointment.id, phone, appointment.starts_at)
    status, html, _ = await page.get(url)
    outage.set_outage(True)
    status, queued = await page.post(url + "/cancel", form_token(html))
    assert status == 200 and "processing your request" in queued and "is cancelled" not in queued
    [op] = BookingOutbox(db_url).pending_for(appointment.id)
    assert (op.operation, op.sender_id) == ("cancel", sms_sender_id(phone))
    assert store.get(appointment.id).state == states.FAILED  # not done yet, not recorded yet
    assert (await page.post(url + "/cancel", form_token(html)))[0] == 410
    outage.set_outage(False)
    assert (await booking.get_appointment(appointment.id)).status == BOOKED
    sms = FakeSms()
    notifier = SmsOutcomeNotifier(sms, booking, store, MADRID)
    await OutboxWorker(BookingOutbox(db_url), booking, notifier).run_once()
    assert BookingOutbox(db_url).all()[-1].state == DONE
    assert (await booking.get_appointment(appointment.id)).status == CANCELLED
    assert store.get(appointment.id).state == states.CANCELLED
    assert store.history(appointment.id)[-1].detail == {"channel": "sms"}
    [told] = sms.sent
    assert told["to"] == phone and "cancelled" in told["body"]


async def test_an_already_cancelled_appointment_is_said_kindly(cast, page, booking, db_url):
    appointment = cast.take("ca")
    url = page.links.link(appointment.id, to_e164(appointment.phone), appointment.starts_at)
    status, html, _ = await page.get(url)
    token = form_token(html)
    await booking.cancel(appointment.id)
    status, said = await page.post(url + "/cancel", token)
    assert status == 200 and "ja estava anul·lada" in said.replace("&#x27;", "'")
    status, html, _ = await page.get(url)
    assert status == 200 and "està anul·lada" in html and "/cancel" not in html
