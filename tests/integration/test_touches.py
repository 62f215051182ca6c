"""Touches per office (offices.yml): an early reminder a few service days
before and the day-before one; the later touch goes only to those who have
not answered; quiet hours; each office's sending hour; wording variants.
The job runs in-process against a small booking system, with a stand-in for
the assistant that claims and "sends" exactly as the connector does and
notes which template each send used. Every moment is relative to the clock."""
from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Dict, List
from zoneinfo import ZoneInfo

import pytest

from bot.booking import Appointment, AppointmentNotFound, BookingSystem, Office
from bot.foundation import clock as recorda_clock
from bot.foundation.settings import Settings
from bot.offices.service_days import service_days_after
from bot.offices.settings import OfficeSettingsError, for_office
from bot.reminders import states
from bot.reminders.job import run_job, run_touches
from bot.reminders.store import ReminderStore
from bot.reminders.variant_choice import VariantRetirements
from bot.reminders.wording import missing_templates, reminder_template

MADRID = ZoneInfo("Europe/Madrid")
CENTRE, PLATJA = "oac-centre", "oac-la-platja"

OFFICES_YML = """
defaults:
  reply_window: "23h40m"
offices:
  oac-centre:
    touches:
      - {name: early, days_before: 3, template: appointment_reminder_early, reply_window: "20h"}
      - {name: day_before, days_before: 1}
    quiet_hours: "21:00-09:00"
  oac-la-platja:
    send_at: "15:00"
"""


class Town(BookingSystem):
    """Two offices; appointments added by the tests."""

    def __init__(self):
        self.appointments: List[Appointment] = []

    def add(self, office_id: str, day: date, phone: str, hour: int = 10) -> Appointment:
        appointment = Appointment(f"{office_id}-{day}-{len(self.appointments)}", office_id, "padro",
                                  datetime(day.year, day.month, day.day, hour, tzinfo=MADRID), "Anna Puig",
                                  phone, "ca", "booked")
        self.appointments.append(appointment)
        return appointment

    async def list_offices(self):
        return [Office(o, o, "Plaça 1", "https://map", "938100120") for o in (CENTRE, PLATJA)]

    async def list_appointments(self, day, office_id):
        return [a for a in self.appointments if a.starts_at.date() == day and a.office_id == office_id]

    async def _unused(self, *args):
        raise AppointmentNotFound("not in these tests")

    get_office = get_procedure = upcoming_appointments = get_appointment = _unused
    confirm = cancel = record_attendance = booking_link = _unused


class Assistant:
    """Claims and sends as the connector does; remembers each send's template."""

    def __init__(self, store: ReminderStore):
        self.store = store
        self.sends: Counter = Counter()
        self.templates: Dict[str, List[str]] = {}

    async def __call__(self, phone: str, appointment: Appointment) -> None:
        if self.store.claim_for_sending(appointment.id, phone, appointment.language):
            template = reminder_template(self.store.get(appointment.id))
            self.sends[appointment.id] += 1
            self.templates.setdefault(appointment.id, []).append(template)
            self.store.mark_sent(appointment.id, f"msg-{uuid.uuid4().hex}")


@pytest.fixture
def offices(tmp_path, monkeypatch):
    path = tmp_path / "offices.yml"
    path.write_text(OFFICES_YML)
    monkeypatch.setenv("RECORDA_OFFICES_FILE", str(path))
    return path


@pytest.fixture
def monday(clock):
    """The next Monday at 17:30 in Madrid, whatever today is."""
    today = recorda_clock.now(MADRID).date()
    day = today + timedelta(days=7 - today.weekday())
    return clock.set(datetime(day.year, day.month, day.day, 17, 30, tzinfo=MADRID))


def settings(db_url: str) -> Settings:
    return Settings(db_url=db_url, booking_url="http://unused", booking_token="", rasa_url="http://unused",
                    rasa_token="t", timezone=MADRID, default_region="ES", default_language="ca")


async def run_at(db_url, town, assistant, moment: datetime, **options):
    return await run_touches(settings(db_url), town, moment.date(), now=moment, trigger=assistant, **options)


def day_after(moment: datetime, service_days: int) -> date:
    return service_days_after(moment.date(), service_days)[-1]


async def test_the_early_touch_goes_three_service_days_before_and_the_day_before_one_the_day_before(
        offices, db_url, clock, monday):
    town, store = Town(), ReminderStore(db_url)
    assistant = Assistant(store)
    centre_thursday = town.add(CENTRE, day_after(monday, 3), "+34612000001")
    centre_tuesday = town.add(CENTRE, day_after(monday, 1), "+34612000002")
    platja_thursday = town.add(PLATJA, day_after(monday, 3), "+34612000003")
    platja_tuesday = town.add(PLATJA, day_after(monday, 1), "+34612000004")

    summaries = await run_at(db_url, town, assistant, monday)

    assert [(s.touch, s.service_day, s.sent) for s in summaries] == [
        ("early", day_after(monday, 3), 1), ("day_before", day_after(monday, 1), 2)]
    assert assistant.templates == {centre_thursday.id: ["appointment_reminder_early"],
                                   centre_tuesday.id: ["appointment_reminder"],
                                   platja_tuesday.id: ["appointment_reminder"]}
    assert store.get(platja_thursday.id) is None  # la Platja has only the day-before touch
    early = store.get(centre_thursday.id)
    assert early.touch == "early" and early.window_closes_at - early.sent_at == timedelta(hours=20)

    again = await run_at(db_url, town, assistant, monday + timedelta(minutes=30))
    assert sum(s.sent for s in again) == 0 and sum(s.already_done for s in again) == 3
    assert set(assistant.sends.values()) == {1}


async def test_the_day_before_touch_goes_only_to_those_who_did_not_answer_the_early_one(
        offices, db_url, clock, monday):
    town, store = Town(), ReminderStore(db_url)
    assistant = Assistant(store)
    thursday = day_after(monday, 3)
    answered = town.add(CENTRE, thursday, "+34612000011")
    cancelled = town.add(CENTRE, thursday, "+34612000012")
    silent = town.add(CENTRE, thursday, "+34612000013")
    await run_at(db_url, town, assistant, monday)
    store.record_answer(answered.id, states.CONFIRMED, "button")
    store.record_answer(cancelled.id, states.CANCELLED, "button")
    early_message = store.get(silent.id).provider_message_id
    clock.advance(hours=21)
    assert [r.appointment_id for r in store.expire_due()] == [silent.id]

    wednesday = monday + timedelta(days=2)
    clock.set(wednesday)
    summaries = await run_at(db_url, town, assistant, wednesday)

    day_before = next(s for s in summaries if s.touch == "day_before")
    assert (day_before.service_day, day_before.sent, day_before.answered_earlier) == (thursday, 1, 2)
    assert assistant.templates[silent.id] == ["appointment_reminder_early", "appointment_reminder"]
    assert assistant.sends[answered.id] == assistant.sends[cancelled.id] == 1
    reminder = store.get(silent.id)
    assert (reminder.touch, reminder.state) == ("day_before", states.SENT)
    assert reminder.provider_message_id != early_message

    # The early message's late status is kept in the history, and moves nothing.
    store.apply_provider_status(early_message, "read", wednesday)
    assert store.get(silent.id).state == states.SENT
    late = store.history(silent.id)[-1]
    assert (late.event, late.applied, late.detail["touch"]) == ("earlier:read", False, "early")

    # An answer to either touch closes the appointment's reminders.
    assert store.record_answer(silent.id, states.CONFIRMED, "button").state == states.CONFIRMED
    rerun = await run_at(db_url, town, assistant, wednesday + timedelta(hours=1))
    assert sum(s.sent for s in rerun) == 0


async def test_a_later_touch_is_sent_once_after_a_crash_at_any_point(offices, db_url, clock, monday):
    town, store = Town(), ReminderStore(db_url)
    assistant = Assistant(store)
    thursday = day_after(monday, 3)
    crashed_after_rearm = town.add(CENTRE, thursday, "+34612000021")
    crashed_mid_send = town.add(CENTRE, thursday, "+34612000022")
    await run_at(db_url, town, assistant, monday)
    wednesday = clock.set(monday + timedelta(days=2))
    # A run killed after re-arming one reminder, and one killed between the claim and the send.
    store.rearm_for_touch(crashed_after_rearm.id, "day_before", ["early"])
    store.rearm_for_touch(crashed_mid_send.id, "day_before", ["early"])
    assert store.claim_for_sending(crashed_mid_send.id)

    summaries = await run_at(db_url, town, assistant, wednesday)
    summaries += await run_at(db_url, town, assistant, wednesday + timedelta(minutes=5))

    assert assistant.sends[crashed_after_rearm.id] == 2  # the early touch, then the day-before one
    assert assistant.sends[crashed_mid_send.id] == 1     # left to the interrupted-send check
    assert store.get(crashed_mid_send.id).state == states.SENDING
    assert sum(s.sent for s in summaries) == 1


async def test_a_reminder_scheduled_before_touches_existed_is_sent_once(offices, db_url, clock, monday):
    # A run of an older Recorda, killed after scheduling: its row names no touch.
    town, store = Town(), ReminderStore(db_url)
    assistant = Assistant(store)
    appointment = town.add(PLATJA, day_after(monday, 1), "+34612000051")
    store.schedule(appointment.id, appointment.starts_at.date(), PLATJA, "+34612000051", "ca")

    await run_at(db_url, town, assistant, monday)
    await run_at(db_url, town, assistant, monday + timedelta(minutes=10))

    assert assistant.sends[appointment.id] == 1 and store.get(appointment.id).state == states.SENT


async def test_nothing_goes_to_an_office_in_its_quiet_hours_and_a_later_run_sends_it(
        offices, db_url, clock, monday):
    town, store = Town(), ReminderStore(db_url)
    assistant = Assistant(store)
    late_evening = clock.set(monday.replace(hour=22, minute=15))
    centre = town.add(CENTRE, day_after(monday, 1), "+34612000031")
    platja = town.add(PLATJA, day_after(monday, 1), "+34612000032")

    summaries = await run_at(db_url, town, assistant, late_evening)

    day_before = next(s for s in summaries if s.touch == "day_before")
    assert (day_before.sent, day_before.quiet_hours, day_before.held_offices) == (1, 1, [CENTRE])
    assert list(assistant.sends) == [platja.id]
    assert store.get(centre.id) is None
    next_morning = clock.set(late_evening + timedelta(hours=11))  # 09:15, after the quiet hours
    # Tuesday 09:15: the appointment (Tuesday 10:00) is still ahead; --date sends that day's.
    summary = await run_job(settings(db_url), town, centre.starts_at.date(), trigger=assistant, now=next_morning)
    assert summary.sent == 1 and assistant.sends[centre.id] == 1


async def test_the_hourly_timer_sends_each_office_from_its_own_hour(offices, db_url, clock, monday):
    town, store = Town(), ReminderStore(db_url)
    assistant = Assistant(store)
    centre = town.add(CENTRE, day_after(monday, 1), "+34612000041")
    platja = town.add(PLATJA, day_after(monday, 1), "+34612000042")

    at_four = clock.set(monday.replace(hour=16, minute=0))
    await run_at(db_url, town, assistant, at_four, only_due_offices=True)
    assert list(assistant.sends) == [platja.id]  # la Platja sends from 15:00, the centre from 17:00

    at_five = clock.set(monday.replace(hour=17, minute=0))
    await run_at(db_url, town, assistant, at_five, only_due_offices=True)
    assert assistant.sends == Counter({platja.id: 1, centre.id: 1})


EXPERIMENT_YML = """
offices:
  oac-centre:
    experiment:
      name: cost-sentence
      variants:
        plain: {}
        cost: {day_before: appointment_reminder_cost}
"""


async def test_each_appointment_keeps_its_wording_variant_and_a_retired_one_is_no_longer_given(
        tmp_path, monkeypatch, db_url, clock, monday):
    path = tmp_path / "offices.yml"
    path.write_text(EXPERIMENT_YML)
    monkeypatch.setenv("RECORDA_OFFICES_FILE", str(path))
    town, store = Town(), ReminderStore(db_url)
    assistant = Assistant(store)
    tuesday = day_after(monday, 1)
    first = [town.add(CENTRE, tuesday, f"+3461200{i:04d}") for i in range(200)]

    await run_at(db_url, town, assistant, monday)

    variants = {a.id: store.get(a.id).variant for a in first}
    counts = Counter(variants.values())
    assert set(counts) == {"plain", "cost"} and min(counts.values()) > 70  # about half each
    for appointment in first:
        expected = "appointment_reminder_cost" if variants[appointment.id] == "cost" else "appointment_reminder"
        assert assistant.templates[appointment.id] == [expected]

    VariantRetirements(db_url).retire(CENTRE, for_office(CENTRE).experiment, "cost", by="admin")
    later = [town.add(CENTRE, day_after(monday, 2), f"+3462200{i:04d}") for i in range(20)]
    wednesday_eve = clock.set(monday + timedelta(days=1))
    await run_at(db_url, town, assistant, wednesday_eve)
    assert {store.get(a.id).variant for a in later} == {"plain"}
    assert {a.id: store.get(a.id).variant for a in first} == variants  # already sent: unchanged


def test_a_mistake_in_offices_yml_names_the_office_and_the_setting(tmp_path, monkeypatch):
    path = tmp_path / "offices.yml"
    path.write_text("offices:\n  oac-centre:\n    touches:\n      - {name: day_before, days_before: 1}\n"
                    "      - {name: early, days_before: 3}\n")
    monkeypatch.setenv("RECORDA_OFFICES_FILE", str(path))
    with pytest.raises(OfficeSettingsError, match="offices.oac-centre.touches: list them earliest first"):
        for_office(CENTRE)


def test_every_template_offices_yml_names_exists(tmp_path, monkeypatch):
    assert missing_templates() == []  # the repository's offices.yml
    path = tmp_path / "offices.yml"
    path.write_text(OFFICES_YML.replace("appointment_reminder_early", "appointment_reminder_soon"))
    monkeypatch.setenv("RECORDA_OFFICES_FILE", str(path))
    assert missing_templates() == ["oac-centre: appointment_reminder_soon"]
