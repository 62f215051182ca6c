"""Waiting lists and booking a freed slot for someone on them: through
RestBookingSystem against the real sandbox booking service, plus the
sandbox's own guarantee that concurrent writers cannot double-book.

The module shares one sandbox database: each test uses its own people
(phones from `new_phone`) and asks for a slot that is free at that moment."""
from __future__ import annotations

import asyncio
import itertools
import threading
from datetime import date, datetime, time, timedelta, timezone
from typing import List, Set

import pytest
import yaml

import bot.foundation.clock
from bot.booking import (
    ACTIVE_STATUSES,
    BOOKED,
    NOT_SUPPORTED,
    AppointmentNotFound,
    BookingRefused,
    BookingSystem,
    BookingUnavailable,
    SlotTaken,
    WaitingListEntry,
)
from bot.booking.rest import RestBookingSystem
from bot.dev.processes import free_port
from bot.dev.sandbox.booking_seed import MADRID, OFFICES, PROCEDURES, office_slots
from bot.dev.sandbox.booking_store import ApiError, Store, open_database
from bot.dev.served_app import serve, shut
from bot.foundation.phone import to_e164
from bot.offices.service_days import next_service_day, previous_service_day, service_days_after
from tests.integration.test_booking_sandbox import SPEC_PATH, assert_matches
from tests.support.booking_sandbox import madrid_today
from tests.support.town_booking import TownBooking

TODAY = madrid_today()
NEXT_DAY = next_service_day(TODAY)
LATER_DAY = service_days_after(NEXT_DAY, 4)[-1]  # few seeded appointments: many free slots
_phones = itertools.count(1)


def new_phone() -> str:
    """A mobile no one in the seed has (72x numbers)."""
    return f"+34 72{next(_phones):07d}"


async def join(booking: BookingSystem, office_id: str, procedure_id: str, name: str = "Anna Test",
               phone: str = "", language: str = "ca") -> WaitingListEntry:
    return await booking.join_waiting_list(office_id, procedure_id, name, phone or new_phone(), language)


async def free_slot(booking: BookingSystem, office_id: str, day: date = LATER_DAY) -> datetime:
    """The last slot of the office that day that no active appointment holds now."""
    office = next(o for o in OFFICES if o["id"] == office_id)
    taken = {a.starts_at for a in await booking.list_appointments(day, office_id) if a.is_active}
    free = [s.replace(tzinfo=MADRID) for s in office_slots(office, day)
            if s.replace(tzinfo=MADRID) not in taken]
    assert free, f"{office_id} has a free slot on {day}"
    return free[-1]


async def ids_waiting(booking: BookingSystem, office_id: str, procedure_id: str) -> List[str]:
    return [e.id for e in await booking.waiting_list(office_id, procedure_id)]


# --- waiting lists -----------------------------------------------------------------------

@pytest.mark.asyncio
async def test_the_seed_has_people_waiting_on_every_list_oldest_first(booking):
    now = bot.foundation.clock.now(MADRID)
    for office in OFFICES:
        for procedure in PROCEDURES:
            entries = await booking.waiting_list(office["id"], procedure["id"])
            assert entries, f"someone waits for {procedure['id']} at {office['id']}"
            assert [e.position for e in entries] == list(range(1, len(entries) + 1))
            assert [e.created_at for e in entries] == sorted(e.created_at for e in entries)
            assert all(e.created_at < now and e.created_at.tzinfo is not None for e in entries)
            assert {(e.office_id, e.procedure_id) for e in entries} == {(office["id"], procedure["id"])}


@pytest.mark.asyncio
async def test_joining_twice_keeps_one_place_in_line(booking):
    before = await ids_waiting(booking, "oac-can-mas", "targeta-rosa")
    anna = await join(booking, "oac-can-mas", "targeta-rosa", "Anna Soler", "+34 720 100 001", "es")
    assert anna.position == len(before) + 1
    assert (anna.citizen_name, anna.phone, anna.language) == ("Anna Soler", "+34 720 100 001", "es")
    # The same number typed another way is the same person.
    again = await join(booking, "oac-can-mas", "targeta-rosa", "Anna Soler", "0034 720100001", "es")
    assert again == anna
    pau = await join(booking, "oac-can-mas", "targeta-rosa", "Pau Ribas")
    assert pau.position == anna.position + 1
    assert await ids_waiting(booking, "oac-can-mas", "targeta-rosa") == before + [anna.id, pau.id]
    # Another list is another place.
    elsewhere = await join(booking, "oac-centre", "targeta-rosa", "Anna Soler", "+34 720 100 001", "es")
    assert elsewhere.id != anna.id


@pytest.mark.asyncio
async def test_leaving_is_idempotent_and_joining_again_goes_to_the_end(booking):
    first = await join(booking, "oac-la-platja", "bonificacio-ibi", phone="+34 720 100 002")
    behind = await join(booking, "oac-la-platja", "bonificacio-ibi")
    await booking.leave_waiting_list(first.id)
    await booking.leave_waiting_list(first.id)  # a retry after a lost answer
    waiting = await booking.waiting_list("oac-la-platja", "bonificacio-ibi")
    assert first.id not in [e.id for e in waiting]
    assert next(e for e in waiting if e.id == behind.id).position == behind.position - 1
    back = await join(booking, "oac-la-platja", "bonificacio-ibi", phone="+34 720 100 002")
    assert back.id != first.id and back.position == len(waiting) + 1
    with pytest.raises(AppointmentNotFound):
        await booking.leave_waiting_list("WL-1")


@pytest.mark.asyncio
async def test_a_list_of_an_unknown_office_or_procedure_is_not_found(booking):
    with pytest.raises(AppointmentNotFound):
        await booking.waiting_list("oac-nowhere", "alta-padro")
    with pytest.raises(AppointmentNotFound):
        await join(booking, "oac-centre", "no-such-procedure")


# --- booking a slot -------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_booking_a_slot_makes_an_appointment_and_takes_the_person_off_the_list(booking):
    entry = await join(booking, "oac-centre", "obres-menors", "Jordi Obres", "+34 720 100 003", "en")
    slot = await free_slot(booking, "oac-centre")
    appointment = await booking.book_slot("oac-centre", "obres-menors", slot, entry.id)
    assert (appointment.office_id, appointment.procedure_id, appointment.starts_at) == (
        "oac-centre", "obres-menors", slot)
    assert (appointment.citizen_name, appointment.phone, appointment.language) == (
        "Jordi Obres", "+34 720 100 003", "en")
    assert appointment.status == BOOKED and appointment.duration_minutes == 30
    assert entry.id not in await ids_waiting(booking, "oac-centre", "obres-menors")
    assert appointment in await booking.list_appointments(slot.date(), "oac-centre")
    assert appointment in await booking.upcoming_appointments(to_e164("+34 720 100 003"), TODAY)
    assert await booking.get_appointment(appointment.id) == appointment


@pytest.mark.asyncio
async def test_a_retried_booking_returns_the_same_appointment(booking):
    entry = await join(booking, "oac-can-mas", "alta-padro")
    slot = await free_slot(booking, "oac-can-mas")
    booked = await booking.book_slot("oac-can-mas", "alta-padro", slot, entry.id)
    assert await booking.book_slot("oac-can-mas", "alta-padro", slot, entry.id) == booked
    # The same slot in another UTC offset is the same slot.
    assert await booking.book_slot("oac-can-mas", "alta-padro", slot.astimezone(timezone.utc),
                                   entry.id) == booked
    day = [a for a in await booking.list_appointments(slot.date(), "oac-can-mas") if a.starts_at == slot]
    assert day == [booked]
    # Having got a slot, the entry is used up: it cannot take a second one.
    with pytest.raises(AppointmentNotFound):
        await booking.book_slot("oac-can-mas", "alta-padro", await free_slot(booking, "oac-can-mas"), entry.id)


@pytest.mark.asyncio
async def test_a_taken_slot_is_refused_and_the_person_keeps_waiting(booking):
    seeded = next(a for a in await booking.list_appointments(NEXT_DAY, "oac-centre") if a.is_active)
    entry = await join(booking, "oac-centre", seeded.procedure_id)
    with pytest.raises(SlotTaken) as taken:
        await booking.book_slot("oac-centre", seeded.procedure_id, seeded.starts_at, entry.id)
    assert taken.value.code == "slot_taken" and isinstance(taken.value, BookingRefused)
    assert entry.id in await ids_waiting(booking, "oac-centre", seeded.procedure_id)
    # Whatever its procedure, an appointment at that time holds the slot (one desk per office).
    other = next(str(p["id"]) for p in PROCEDURES if p["id"] != seeded.procedure_id)
    with pytest.raises(SlotTaken):
        await booking.book_slot("oac-centre", other, seeded.starts_at, (await join(booking, "oac-centre", other)).id)


@pytest.mark.asyncio
async def test_a_cancelled_appointment_frees_its_slot_for_the_next_person(booking):
    first = await join(booking, "oac-la-platja", "registre-general")
    slot = await free_slot(booking, "oac-la-platja")
    cancelled = await booking.cancel((await booking.book_slot("oac-la-platja", "registre-general",
                                                              slot, first.id)).id)
    second = await join(booking, "oac-la-platja", "registre-general")
    rebooked = await booking.book_slot("oac-la-platja", "registre-general", slot, second.id)
    assert rebooked.id != cancelled.id and rebooked.is_active
    # The first person's retry still answers their (cancelled) appointment, not a second one.
    assert await booking.book_slot("oac-la-platja", "registre-general", slot, first.id) == cancelled


@pytest.mark.asyncio
async def test_the_place_of_a_cancelled_appointment_is_taken_once(booking):
    # Offices with several desks have several appointments at one time: a
    # cancellation frees the place of that one appointment, named by its id.
    slot = await free_slot(booking, "oac-can-mas")
    first = await booking.book_slot("oac-can-mas", "alta-padro", slot,
                                    (await join(booking, "oac-can-mas", "alta-padro")).id)
    latecomer = await join(booking, "oac-can-mas", "alta-padro")
    with pytest.raises(BookingRefused, match="no cancelled appointment"):  # an active one frees nothing
        await booking.book_slot("oac-can-mas", "alta-padro", slot, latecomer.id, first.id)
    freed = await booking.cancel(first.id)
    takers = [await join(booking, "oac-can-mas", "alta-padro") for _ in range(5)]

    outcomes = await asyncio.gather(
        *(booking.book_slot("oac-can-mas", "alta-padro", slot, t.id, freed.id) for t in takers),
        return_exceptions=True)

    winners = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(winners) == 1 and all(isinstance(o, SlotTaken) for o in outcomes if o is not winners[0])
    with pytest.raises(SlotTaken):  # its place taken, the cancelled appointment frees nothing more
        await booking.book_slot("oac-can-mas", "alta-padro", slot, latecomer.id, freed.id)
    with pytest.raises(SlotTaken):  # and the one desk's time is busy again
        await booking.book_slot("oac-can-mas", "alta-padro", slot, latecomer.id)


@pytest.mark.asyncio
async def test_twenty_people_tapping_at_once_get_one_slot(booking):
    entries = [await join(booking, "oac-centre", "alta-padro", f"Tap {i}") for i in range(20)]
    slot = await free_slot(booking, "oac-centre")
    outcomes = await asyncio.gather(
        *(booking.book_slot("oac-centre", "alta-padro", slot, e.id) for e in entries),
        return_exceptions=True)
    winners = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(o, SlotTaken) for o in outcomes if o is not winners[0])
    holders = [a for a in await booking.list_appointments(slot.date(), "oac-centre")
               if a.starts_at == slot and a.status in ACTIVE_STATUSES]
    assert holders == winners
    still_waiting = set(await ids_waiting(booking, "oac-centre", "alta-padro"))
    assert {e.id for e in entries} - still_waiting == {e.id for e in entries
                                                       if e.citizen_name == winners[0].citizen_name}


@pytest.mark.asyncio
async def test_a_time_that_is_not_a_bookable_slot_is_refused(booking):
    entry = await join(booking, "oac-can-mas", "ajuts-socials")
    slot = await free_slot(booking, "oac-can-mas")
    past = datetime.combine(previous_service_day(TODAY), time(9, 0), MADRID)
    wrong = [slot + timedelta(minutes=7),                                 # off the 15-minute grid
             datetime.combine(LATER_DAY, time(15, 0), MADRID),           # after closing
             past]
    for starts_at in wrong:
        with pytest.raises(BookingRefused) as refused:
            await booking.book_slot("oac-can-mas", "ajuts-socials", starts_at, entry.id)
        assert refused.value.code == "not_bookable", starts_at
    with pytest.raises(BookingRefused) as refused:  # the entry waits on another list
        await booking.book_slot("oac-can-mas", "alta-padro", slot, entry.id)
    assert refused.value.code == "not_bookable"
    assert entry.id in await ids_waiting(booking, "oac-can-mas", "ajuts-socials")


@pytest.mark.asyncio
async def test_an_unknown_or_departed_entry_is_not_found(booking):
    slot = await free_slot(booking, "oac-la-platja")
    for entry_id in ("WL-1", "nonsense", "../appointments"):
        with pytest.raises(AppointmentNotFound):
            await booking.book_slot("oac-la-platja", "alta-padro", slot, entry_id)
    gone = await join(booking, "oac-la-platja", "alta-padro")
    await booking.leave_waiting_list(gone.id)
    with pytest.raises(AppointmentNotFound):
        await booking.book_slot("oac-la-platja", "alta-padro", slot, gone.id)
    with pytest.raises(AppointmentNotFound):
        await booking.book_slot("oac-nowhere", "alta-padro", slot, gone.id)
    assert await free_slot(booking, "oac-la-platja") == slot  # nothing was booked


@pytest.mark.asyncio
async def test_a_time_without_its_offset_is_a_bad_request(booking):
    entry = await join(booking, "oac-centre", "certificat-convivencia")
    slot = await free_slot(booking, "oac-centre")
    with pytest.raises(BookingRefused) as refused:
        await booking.book_slot("oac-centre", "certificat-convivencia", slot.replace(tzinfo=None), entry.id)
    assert refused.value.code == "bad_request" and "offset" in str(refused.value)


# --- the adapter's side -----------------------------------------------------------------------

@pytest.mark.asyncio
async def test_answers_in_an_unknown_shape_are_unavailable_not_a_crash():
    from sanic import Sanic, response
    app = Sanic(f"malformed_waiting_list_{free_port()}")
    entry = {"id": "WL-1", "office_id": "o", "procedure_id": "p", "citizen_name": "Anna",
             "phone": "+34720000001", "language": "ca", "created_at": "2026-12-01T10:00:00+01:00",
             "position": 1}

    @app.route("/api/v1/waiting-list", methods=["GET", "POST"])
    async def waiting(request):
        if request.method == "GET":
            return response.json([{"id": "WL-1"}])
        return response.json({**entry, "created_at": "2026-12-01T10:00:00"})  # no offset

    @app.route("/api/v1/waiting-list/<entry_id>", methods=["DELETE"])
    async def leave(request, entry_id):
        return response.text("<html>gone</html>")

    @app.route("/api/v1/slots/book", methods=["POST"])
    async def book(request):
        return response.json({**entry, "position": 0})  # an entry where the appointment belongs
    port = free_port()
    server = await serve(app, port)
    system = RestBookingSystem(f"http://127.0.0.1:{port}/api/v1", "t", timeout=2.0, retries=0)
    try:
        calls = (system.waiting_list("o", "p"), system.join_waiting_list("o", "p", "Anna", "+34720000001", "ca"),
                 system.leave_waiting_list("WL-1"),
                 system.book_slot("o", "p", datetime(2026, 12, 1, 10, tzinfo=MADRID), "WL-1"))
        for call in calls:
            with pytest.raises(BookingUnavailable):
                await call
    finally:
        await system.close()
        await shut(server)


@pytest.mark.asyncio
async def test_a_booking_system_without_waiting_lists_refuses_them_clearly():
    town = TownBooking()
    calls = (town.waiting_list("oac-centre", "padro"),
             town.join_waiting_list("oac-centre", "padro", "Anna", "+34720000001", "ca"),
             town.leave_waiting_list("WL-1"),
             town.book_slot("oac-centre", "padro", datetime(2026, 12, 1, 10, tzinfo=MADRID), "WL-1"))
    for call in calls:
        with pytest.raises(BookingRefused) as refused:
            await call
        assert refused.value.code == NOT_SUPPORTED and "TownBooking" in str(refused.value)


# --- the HTTP surface -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text())


def test_malformed_requests_are_answered_400(spec, booking_service):
    good_join = {"office_id": "oac-centre", "procedure_id": "alta-padro", "citizen_name": "Anna",
                 "phone": "+34 720 999 001", "language": "ca"}
    good_book = {"office_id": "oac-centre", "procedure_id": "alta-padro",
                 "starts_at": "2026-12-01T10:30:00+01:00", "waiting_list_entry_id": "WL-1"}
    bad = [("POST", "/api/v1/waiting-list", None),
           ("POST", "/api/v1/waiting-list", [good_join]),
           ("POST", "/api/v1/waiting-list", {**good_join, "language": "fr"}),
           ("POST", "/api/v1/waiting-list", {**good_join, "citizen_name": "  "}),
           ("POST", "/api/v1/waiting-list", {**good_join, "phone": "61234"}),
           ("POST", "/api/v1/waiting-list", {**good_join, "phone": 34720999001}),
           ("POST", "/api/v1/slots/book", {k: v for k, v in good_book.items() if k != "starts_at"}),
           ("POST", "/api/v1/slots/book", {**good_book, "starts_at": "tomorrow at ten"}),
           ("POST", "/api/v1/slots/book", {**good_book, "starts_at": 1796117400}),
           ("POST", "/api/v1/slots/book", {**good_book, "waiting_list_entry_id": 1}),
           ("GET", "/api/v1/waiting-list?office_id=oac-centre", None)]
    for method, path, body in bad:
        status, answer = booking_service.request(method, path, body)
        assert status == 400 and answer["error"]["code"] == "bad_request", (path, body, answer)
        assert_matches(spec, "Error", answer)


def test_waiting_list_answers_match_the_openapi_schemas(spec, booking_service):
    status, listed = booking_service.request("GET", "/api/v1/waiting-list?office_id=oac-centre"
                                                    "&procedure_id=alta-padro")
    assert status == 200 and listed
    for entry in listed:
        assert_matches(spec, "WaitingListEntry", entry)
    body = {"office_id": "oac-centre", "procedure_id": "bonificacio-ibi", "citizen_name": "Rita",
            "phone": new_phone(), "language": "es"}
    status, joined = booking_service.request("POST", "/api/v1/waiting-list", body)
    assert status == 201
    assert_matches(spec, "WaitingListEntry", joined)
    assert booking_service.request("POST", "/api/v1/waiting-list", body) == (200, joined)
    status, taken = booking_service.request("POST", "/api/v1/slots/book", {
        "office_id": "oac-centre", "procedure_id": "bonificacio-ibi",
        "starts_at": listed_active_start(booking_service), "waiting_list_entry_id": joined["id"]})
    assert status == 409 and taken["error"]["code"] == "slot_taken"
    assert_matches(spec, "Error", taken)
    assert booking_service.request("DELETE", f"/api/v1/waiting-list/{joined['id']}") == (204, "")


def listed_active_start(booking_service) -> str:
    _, day = booking_service.request("GET", f"/api/v1/appointments?date={NEXT_DAY}&office_id=oac-centre")
    return next(a["starts_at"] for a in day if a["status"] in ACTIVE_STATUSES)


# --- the sandbox's own guarantee ----------------------------------------------------------------

def test_writers_on_separate_connections_cannot_double_book(tmp_path):
    """As if the service ran in several processes on one database file: each
    thread has its own engine, so only the database's locking keeps them apart."""
    today = date(2026, 12, 3)  # a Thursday: the next service day is Friday the 4th
    now = datetime.combine(today, time(10), MADRID)
    db = str(tmp_path / "booking.db")
    open_database(db, today).dispose()
    stores = [Store(open_database(db, today), lambda: now) for _ in range(20)]
    entries = [stores[0].join_waiting_list("oac-centre", "alta-padro", f"Race {i}", f"72{i:07d}",
                                           f"+3472{i:07d}", "ca")[0] for i in range(20)]
    day = date(2026, 12, 4)
    taken: Set[str] = {a["starts_at"] for a in stores[0].day_appointments(day, "oac-centre")}
    slot = next(s.replace(tzinfo=MADRID) for s in office_slots(OFFICES[0], day)
                if s.replace(tzinfo=MADRID).isoformat() not in taken)
    start = threading.Barrier(len(stores))
    booked, refused = [], []

    def tap(store: Store, entry_id: str) -> None:
        start.wait()
        try:
            booked.append(store.book_slot("oac-centre", "alta-padro", slot, entry_id))
        except ApiError as exc:
            refused.append(exc.code)

    threads = [threading.Thread(target=tap, args=(s, e["id"])) for s, e in zip(stores, entries)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(booked) == 1 and refused == ["slot_taken"] * 19
    holders = [a for a in stores[0].day_appointments(day, "oac-centre")
               if a["starts_at"] == slot.isoformat() and a["status"] in ACTIVE_STATUSES]
    assert holders == booked
    for store in stores:
        store.engine.dispose()
