"""RestBookingSystem against the real sandbox booking service over HTTP."""
from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta

import pytest

import bot.foundation.clock
from bot.booking import (
    ACTIVE_STATUSES,
    ATTENDED,
    BOOKED,
    CANCELLED,
    CONFIRMED,
    NO_SHOW,
    AppointmentNotFound,
    BookingError,
    BookingRefused,
    BookingUnavailable,
)
from bot.booking.rest import RestBookingSystem, booking_system_from_settings
from bot.dev.processes import free_port
from bot.dev.sandbox.booking_seed import MADRID
from bot.dev.sandbox.citizens import CITIZENS
from bot.dev.served_app import serve, shut
from bot.foundation.settings import Settings
from bot.offices.service_days import next_service_day, previous_service_day, service_days_after
from tests.support.booking_sandbox import appointment_of, appointments_on, madrid_today

TODAY = madrid_today()
NEXT_DAY = next_service_day(TODAY)
PAST_DAY = previous_service_day(TODAY)


async def later_appointments(booking, status):
    """Seeded appointments after the next service day, in one status."""
    found = []
    for day in service_days_after(NEXT_DAY, 4):
        found += [a for a in await appointments_on(booking, day) if a.status == status]
    assert found, f"the seed has {status} appointments after the next service day"
    return found


async def past_appointment(booking, status):
    """One of the last service day's appointments whose attendance is still open."""
    return [a for a in await appointments_on(booking, PAST_DAY) if a.status == status][0]


@pytest.mark.asyncio
async def test_offices_and_procedures(booking):
    offices = {o.id: o for o in await booking.list_offices()}
    assert set(offices) == {"oac-centre", "oac-can-mas", "oac-la-platja"}
    centre = await booking.get_office("oac-centre")
    assert centre == offices["oac-centre"]
    assert centre.map_url.startswith("https://www.openstreetmap.org/?mlat=")
    assert {(h.opens, h.closes) for h in centre.opening_hours if h.weekday == 3} == {
        ("09:00", "14:00"), ("16:00", "19:00")}
    procedure = await booking.get_procedure("alta-padro")
    assert procedure.name("ca") == "Alta al padró d'habitants"
    assert "empadronamiento" in procedure.name("es")
    assert procedure.documents_url == "https://www.vilademar.cat/tramits/alta-padro"


@pytest.mark.asyncio
async def test_a_day_lists_every_citizen_ordered_and_in_madrid_time(booking):
    everyone = []
    for office in await booking.list_offices():
        day = await booking.list_appointments(NEXT_DAY, office.id)
        assert [a.starts_at for a in day] == sorted(a.starts_at for a in day)
        everyone += day
    assert sorted(a.citizen_name for a in everyone) == sorted(c.name for c in CITIZENS)
    for appointment in everyone:
        assert appointment.starts_at.date() == NEXT_DAY
        assert appointment.starts_at.utcoffset() == appointment.starts_at.astimezone(MADRID).utcoffset()


@pytest.mark.asyncio
async def test_upcoming_matches_a_phone_stored_in_another_format(booking):
    # Stored as "612 345 678" and "0034 667 890 123".
    for stored, e164 in (("612 345 678", "+34612345678"), ("0034 667 890 123", "+34667890123")):
        upcoming = await booking.upcoming_appointments(e164, NEXT_DAY)
        assert upcoming and all(a.phone == stored for a in upcoming)
        assert all(a.status in ACTIVE_STATUSES and a.starts_at.date() >= NEXT_DAY for a in upcoming)
        assert [a.starts_at for a in upcoming] == sorted(a.starts_at for a in upcoming)
    assert await booking.upcoming_appointments("+34699999999", TODAY) == []


@pytest.mark.asyncio
async def test_get_appointment(booking):
    listed = await appointment_of(booking, NEXT_DAY, "Emily Thompson")
    fetched = await booking.get_appointment(listed.id)
    assert fetched == listed
    assert fetched.language == "en" and fetched.phone == "677 88 99 00"


@pytest.mark.asyncio
async def test_unknown_ids_raise_not_found(booking):
    with pytest.raises(AppointmentNotFound):
        await booking.get_appointment("VLD-1999-000001")
    with pytest.raises(AppointmentNotFound):
        await booking.confirm("VLD-1999-000001")
    with pytest.raises(AppointmentNotFound):
        await booking.get_office("oac-nowhere")
    with pytest.raises(AppointmentNotFound):
        await booking.get_procedure("no-such-procedure")
    # An id is one path segment: it cannot reach another resource.
    with pytest.raises(AppointmentNotFound):
        await booking.get_appointment("../offices/oac-centre")


@pytest.mark.asyncio
async def test_confirm_is_idempotent(booking):
    booked = await appointment_of(booking, NEXT_DAY, "Montserrat Puig i Ferrer")
    confirmed = await booking.confirm(booked.id)
    assert confirmed.status == CONFIRMED
    assert abs(confirmed.confirmed_at - bot.foundation.clock.now(MADRID)) < timedelta(minutes=1)
    assert await booking.confirm(booked.id) == confirmed
    # A confirmation from yesterday keeps its time too.
    earlier = (await later_appointments(booking, CONFIRMED))[0]
    assert await booking.confirm(earlier.id) == earlier
    assert earlier.confirmed_at.date() < TODAY


@pytest.mark.asyncio
async def test_cancel_is_idempotent_and_keeps_the_original_time(booking):
    confirmed = await booking.confirm((await appointment_of(booking, NEXT_DAY, "Jordi Vila Soler")).id)
    cancelled = await booking.cancel(confirmed.id)
    assert cancelled.status == CANCELLED and cancelled.cancelled_at is not None
    assert await booking.cancel(confirmed.id) == cancelled
    earlier = (await later_appointments(booking, CANCELLED))[0]
    again = await booking.cancel(earlier.id)
    assert again == earlier and again.cancelled_at.date() < TODAY
    with pytest.raises(BookingRefused) as refused:
        await booking.confirm(cancelled.id)
    assert refused.value.code == "not_confirmable"


@pytest.mark.asyncio
async def test_a_past_appointment_cannot_be_cancelled_or_confirmed(booking):
    past = await past_appointment(booking, BOOKED)
    with pytest.raises(BookingRefused) as refused:
        await booking.cancel(past.id)
    assert refused.value.code == "not_cancellable" and str(refused.value)
    with pytest.raises(BookingRefused) as refused:
        await booking.confirm(past.id)
    assert refused.value.code == "not_confirmable"
    assert (await booking.get_appointment(past.id)).status == BOOKED


@pytest.mark.asyncio
async def test_attendance_is_recorded_after_the_fact(booking):
    past = await past_appointment(booking, CONFIRMED)
    attended = await booking.record_attendance(past.id, True)
    assert attended.status == ATTENDED
    assert await booking.record_attendance(past.id, True) == attended
    assert (await booking.record_attendance(past.id, False)).status == NO_SHOW
    with pytest.raises(BookingRefused):
        await booking.cancel(past.id)
    future = await appointment_of(booking, NEXT_DAY, "Laia Serra Font")
    with pytest.raises(BookingRefused) as refused:
        await booking.record_attendance(future.id, True)
    assert refused.value.code == "attendance_not_recordable"


@pytest.mark.asyncio
async def test_booking_link_per_language(booking):
    assert await booking.booking_link("ca") == "https://www.vilademar.cat/cita-previa"
    assert await booking.booking_link("es") == "https://www.vilademar.cat/cita-previa?lang=es"
    with pytest.raises(BookingRefused):
        await booking.booking_link("fr")


@pytest.mark.asyncio
async def test_a_bad_token_is_a_clear_booking_error(booking_service):
    system = RestBookingSystem(booking_service.api_url, "wrong-token")
    try:
        with pytest.raises(BookingError, match="token") as raised:
            await system.list_offices()
        assert not isinstance(raised.value, (BookingUnavailable, BookingRefused, AppointmentNotFound))
    finally:
        await system.close()


@pytest.mark.asyncio
async def test_outage_is_unavailable_until_lifted(booking, outage):
    appointment = await appointment_of(booking, NEXT_DAY, "Priya Sharma")
    outage.set_outage(True)
    with pytest.raises(BookingUnavailable):
        await booking.get_appointment(appointment.id)
    with pytest.raises(BookingUnavailable):
        await booking.cancel(appointment.id)
    outage.set_outage(False)
    assert await booking.get_appointment(appointment.id) == appointment


@pytest.mark.asyncio
async def test_a_retry_rides_out_a_short_outage(booking, outage):
    appointment = await appointment_of(booking, NEXT_DAY, "Oliver Brown")
    outage.set_outage(True)
    call = asyncio.create_task(booking.confirm(appointment.id))
    await asyncio.sleep(0.1)  # the first attempt fails; the retry comes after 0.2 s
    outage.set_outage(False)
    assert (await call).status == CONFIRMED


@pytest.mark.asyncio
async def test_an_unreachable_service_is_unavailable():
    system = RestBookingSystem(f"http://127.0.0.1:{free_port()}/api/v1", "any", timeout=1.0, retries=1)
    try:
        with pytest.raises(BookingUnavailable):
            await system.list_offices()
    finally:
        await system.close()


@pytest.mark.asyncio
async def test_factory_uses_the_settings(booking_service):
    settings = dataclasses.replace(Settings.from_env(), booking_url=booking_service.api_url,
                                   booking_token=booking_service.token)
    system = booking_system_from_settings(settings)
    try:
        assert len(await system.list_offices()) == 3
    finally:
        await system.close()


@pytest.mark.asyncio
async def test_an_answer_in_an_unknown_shape_is_unavailable_not_a_crash():
    """A booking system that answers 200 with the wrong shape (a proxy's JSON,
    a changed API) is treated as down, not as a KeyError in the caller."""
    from sanic import Sanic, response
    app = Sanic(f"malformed_booking_{free_port()}")
    shapes = {"/offices": {"offices": []}, "/appointments": [{"id": "A1"}], "/appointments/A1": ["x"]}

    @app.route("/api/v1/<path:path>")
    async def anything(request, path):
        return response.json(shapes["/" + path])
    port = free_port()
    server = await serve(app, port)
    system = RestBookingSystem(f"http://127.0.0.1:{port}/api/v1", "t", timeout=2.0, retries=0)
    try:
        for call in (system.list_offices(), system.list_appointments(datetime(2026, 12, 1).date(), "o"),
                     system.get_appointment("A1")):
            with pytest.raises(BookingUnavailable):
                await call
    finally:
        await system.close()
        await shut(server)
