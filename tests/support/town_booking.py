"""An in-process booking system for the console's security and robustness
tests: one office and two appointments whose names a citizen could have
typed to cause trouble (markup, a spreadsheet formula)."""
from __future__ import annotations

from datetime import datetime, timedelta

import bot.foundation.clock
from bot.booking import Appointment, AppointmentNotFound, BookingRefused, BookingSystem, Office, Procedure
from bot.dev.sandbox.booking_seed import MADRID
from bot.offices.service_days import next_service_day

ANNA_AS_TYPED = "612 34 56 78"          # as the clerk typed it into the booking system
OFFICE = "oac-centre"
NASTY_NAME = "<script>alert('x')</script> \"Anna\" d'Urgell"
FORMULA_NAME = "=HYPERLINK(\"http://evil.example\",\"Anna\")"
TODAY = bot.foundation.clock.now(MADRID).date()
DAY = next_service_day(TODAY, ())


class TownBooking(BookingSystem):
    """One office, one procedure, two appointments on DAY."""

    def __init__(self):
        at = datetime.combine(DAY, datetime.min.time(), MADRID).replace(hour=9)
        self.office = Office(OFFICE, "OAC Centre <b>'Vila'</b>", "Plaça de la Vila, 1", "https://map", "938100120")
        self.appointments = [
            Appointment("A1", OFFICE, "padro", at, NASTY_NAME, ANNA_AS_TYPED, "ca", "booked"),
            Appointment("A2", OFFICE, "padro", at + timedelta(minutes=15), FORMULA_NAME, "+34622334455",
                        "ca", "booked"),
        ]

    async def list_offices(self):
        return [self.office]

    async def get_office(self, office_id):
        if office_id != OFFICE:
            raise AppointmentNotFound(office_id)
        return self.office

    async def get_procedure(self, procedure_id):
        return Procedure(procedure_id, {"ca": "Alta al padró <i>d'habitants</i>"}, "https://docs")

    async def list_appointments(self, day, office_id):
        return [a for a in self.appointments if a.starts_at.date() == day and a.office_id == office_id]

    async def upcoming_appointments(self, phone_e164, from_day):
        return []

    async def get_appointment(self, appointment_id):
        for appointment in self.appointments:
            if appointment.id == appointment_id:
                return appointment
        raise AppointmentNotFound(appointment_id)

    async def _refused(self, *args):
        raise BookingRefused("not_here", "not in these tests")

    confirm = cancel = record_attendance = booking_link = _refused
