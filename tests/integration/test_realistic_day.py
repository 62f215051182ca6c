"""A realistic day: the citizens' behaviour profile (bot.dev.sandbox.citizen_behaviour),
its live replay in the real WhatsApp simulator process, and the history of
past service days (bot.dev.sandbox.history) against the real booking sandbox,
judged by the service figures (bot.reports)."""
from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import timedelta, timezone
from itertools import count

import pytest

import bot.foundation.clock
from bot.apps.reports import gather_figures, parse_args
from bot.booking import ATTENDED, BOOKED, CANCELLED, CONFIRMED, NO_SHOW
from bot.booking.rest import RestBookingSystem
from bot.dev.sandbox import booking_seed
from bot.dev.sandbox.citizen_behaviour import (
    ANSWER_TEXTS,
    BEHAVIOURS,
    DEFAULT_SHARES,
    Profile,
    ProfileError,
    load_profile,
)
from bot.dev.sandbox.history import fill_history, past_days
from bot.dev.sandbox.past_reminders import MADRID, shows_up
from bot.foundation.settings import PROJECT_ROOT, Settings
from bot.offices.service_days import previous_service_day
from bot.reminders import states
from bot.reminders.follow_up import EXPIRED_READ, EXPIRED_UNREAD, FAILED, follow_up_list
from bot.reminders.store import ReminderStore
from connectors.messagebird_signature import HEADER, verify_webhook
from tests.support.booking_sandbox import madrid_today
from tests.support.simulator import CHANNEL_ID, SIGNING_KEY, realistic_simulator, sim_call, sim_send

NUMBERS = [f"+3460{n:07d}" for n in range(2000)]
LIVE_SEED = 11
LIVE_SCALE = 0.00002  # a day lasts 1.7 s


# ------------------------------------------------------------------ the profile

def test_assignment_is_deterministic_and_depends_on_the_seed():
    first, again, other = Profile.realistic(seed=7), Profile.realistic(seed=7), Profile.realistic(seed=8)
    assert [first.behaviour_of(n).name for n in NUMBERS] == [again.behaviour_of(n).name for n in NUMBERS]
    assert [first.behaviour_of(n) for n in NUMBERS] != [other.behaviour_of(n) for n in NUMBERS]
    assert first.rng("+34600000001", 1).random() == again.rng("+34600000001", 1).random()


@pytest.mark.parametrize("profile", [Profile.realistic(seed=7), Profile.realistic(seed=123),
                                     Profile.realistic(seed=7, cancel_button=0.30, never_reads=0.0)])
def test_shares_come_out_as_configured(profile):
    counts = profile.assignment(NUMBERS)
    assert set(profile.shares) == set(BEHAVIOURS) and abs(sum(profile.shares.values()) - 1) < 1e-9
    for name, share in profile.shares.items():
        tolerance = 4 * (share * (1 - share) / len(NUMBERS)) ** 0.5 + 0.005
        assert abs(counts[name] / len(NUMBERS) - share) <= tolerance, (name, counts[name], share)


def test_default_shares_are_those_of_the_reference_deployment():
    shares = Profile.realistic().shares
    assert 0.055 <= shares["no_whatsapp"] <= 0.065 and 0.055 <= shares["phone_off"] <= 0.065
    assert 0.005 <= shares["no_such_number"] <= 0.01
    answering = sum(share for name, share in shares.items() if BEHAVIOURS[name].answers)
    cancelling = sum(share for name, share in shares.items() if BEHAVIOURS[name].answer == CANCELLED)
    assert 0.60 <= answering <= 0.70 and 0.12 <= cancelling <= 0.15
    assert DEFAULT_SHARES.keys() == BEHAVIOURS.keys()


def test_profiles_from_files_and_bad_ones(tmp_path):
    assert not load_profile("manual").active and load_profile("realistic").active
    path = tmp_path / "town.yml"
    path.write_text("profile: realistic\nseed: 3\ntime_scale: 0.01\nshares: {cancel_text: 0.2}\n")
    profile = load_profile(str(path))
    assert (profile.seed, profile.time_scale) == (3, 0.01)
    assert profile.shares["cancel_text"] > DEFAULT_SHARES["cancel_text"]
    (tmp_path / "town.json").write_text(json.dumps({"profile": "realistic", "seed": 4}))
    assert load_profile(str(tmp_path / "town.json")).seed == 4
    for bad in ({"profile": "chaotic"}, {"time_scale": 0}, {"time_scale": 2},
                {"shares": {"teleports": 0.1}}, {"shares": {"cancel_text": -1}}, {"speed": 1}):
        with pytest.raises(ProfileError):
            Profile.from_dict(bad)
    with pytest.raises(ProfileError):
        load_profile(str(tmp_path / "missing.yml"))


# -------------------------------------------------------- live, in the simulator

def numbers_behaving(profile: Profile, *names: str) -> dict:
    """A number for each behaviour asked for."""
    found = {}
    for n in count():
        number = f"+3460{n:07d}"
        name = profile.behaviour_of(number).name
        if name in names and name not in found:
            found[name] = number
        if len(found) == len(names):
            return found


def reminder(to: str, language: str, appointment_id: str) -> dict:
    payloads = [f'/confirm_appointment{{"appointment_id":"{appointment_id}"}}',
                f'/cancel_appointment{{"appointment_id":"{appointment_id}"}}']
    components = [{"type": "body", "parameters": [{"type": "text", "text": p} for p in
                                                  ["Anna", "demà a les 10:00", "Padró", "OAC Centre",
                                                   "https://maps.example.org", "https://docs.example.org"]]}]
    components += [{"type": "button", "sub_type": "quick_reply", "index": str(i),
                    "parameters": [{"type": "payload", "payload": p}]} for i, p in enumerate(payloads)]
    return {"to": to, "from": CHANNEL_ID, "type": "hsm", "content": {"hsm": {
        "namespace": "recorda", "templateName": "recorda_appointment_reminder",
        "language": {"code": language}, "components": components}}}


def ask_back(to: str, appointment_id: str) -> dict:
    """What the assistant sends when it is not sure a cancellation in words was one."""
    buttons = [{"id": f'/cancel_appointment{{"appointment_id":"{appointment_id}"}}', "type": "reply",
                "title": "Anular 3/12"},
               {"id": f'/confirm_appointment{{"appointment_id":"{appointment_id}"}}', "type": "reply",
                "title": "No, mantenerla"}]
    return {"to": to, "from": CHANNEL_ID, "type": "interactive", "content": {"interactive": {
        "type": "button", "body": {"text": "¿Quiere anular su cita?"}, "action": {"buttons": buttons}}}}


@pytest.fixture(scope="module")
def simulator(receiver):
    with realistic_simulator(receiver, LIVE_SCALE, LIVE_SEED) as sim:
        yield sim


def statuses(receiver, message_id):
    return [e["message"]["status"] for e in receiver.events(message_id) if e["type"] == "message.updated"]


async def test_citizens_of_a_realistic_profile_act_by_themselves(live, receiver, http):
    profile = Profile.realistic(seed=LIVE_SEED, time_scale=LIVE_SCALE)
    who = numbers_behaving(profile, "no_whatsapp", "no_such_number", "phone_off", "confirm_button",
                           "cancel_text", "confirm_text", "hides_receipts", "reads_late", "never_reads")
    status, shown = await sim_call(http, live, "GET", f"/sim/behaviour?msisdn={who['cancel_text']}")
    assert status == 200 and shown["profile"] == "realistic" and shown["seed"] == LIVE_SEED
    assert shown["number"]["behaviour"] == "cancel_text"
    languages = {"cancel_text": "es", "confirm_text": "en"}
    sent = {name: await sim_send(http, live, reminder(number, languages.get(name, "ca"), f"A-{name}"))
            for name, number in who.items()}

    def done(_):
        return (len(receiver.messages_from(who["confirm_button"])) == 1
                and len(receiver.messages_from(who["cancel_text"])) == 1
                and len(receiver.messages_from(who["confirm_text"])) == 1
                and len(receiver.messages_from(who["hides_receipts"])) == 1
                and len(receiver.messages_from(who["reads_late"])) == 1
                and "failed" in statuses(receiver, sent["no_such_number"])
                and "failed" in statuses(receiver, sent["no_whatsapp"])
                # Statuses are webhooks of their own, not ordered with the
                # answers: wait for the last one each behaviour brings.
                and statuses(receiver, sent["phone_off"]) == ["sent"]
                and statuses(receiver, sent["never_reads"]) == ["sent", "delivered"]
                and statuses(receiver, sent["confirm_button"]) == ["sent", "delivered", "read"]
                and statuses(receiver, sent["hides_receipts"]) == ["sent", "delivered"])
    await receiver.wait_for(done, timeout=15)
    await asyncio.sleep(0.5)  # time enough for anything that should not happen

    [failed] = [e["message"] for e in receiver.events(sent["no_whatsapp"]) if e["message"]["status"] == "failed"]
    assert failed["error"]["code"] == 302 and statuses(receiver, sent["no_whatsapp"]) == ["failed"]
    assert [e["message"]["error"]["code"] for e in receiver.events(sent["no_such_number"])] == [1002]
    assert statuses(receiver, sent["phone_off"]) == ["sent"]          # never delivered
    assert statuses(receiver, sent["never_reads"]) == ["sent", "delivered"]
    assert not receiver.messages_from(who["phone_off"]) and not receiver.messages_from(who["never_reads"])

    [tap] = receiver.messages_from(who["confirm_button"])
    assert tap["type"] == "button" and tap["replyTo"]["id"] == sent["confirm_button"]
    assert tap["content"]["button"]["payload"].startswith("/confirm_appointment")
    assert statuses(receiver, sent["confirm_button"]) == ["sent", "delivered", "read"]

    [spanish] = receiver.messages_from(who["cancel_text"])
    assert spanish["type"] == "text" and spanish["content"]["text"] in ANSWER_TEXTS["es"][CANCELLED]
    [english] = receiver.messages_from(who["confirm_text"])
    assert english["content"]["text"] in ANSWER_TEXTS["en"][CONFIRMED]

    # Read receipts off: delivered, answered, never "read".
    assert statuses(receiver, sent["hides_receipts"]) == ["sent", "delivered"]
    assert receiver.messages_from(who["hides_receipts"])[0]["type"] == "button"
    assert statuses(receiver, sent["reads_late"]) == ["sent", "delivered", "read"]

    # The same path as /sim/reply: signed like every webhook.
    request = next(r for r in receiver.requests if r.json["message"]["id"] == spanish["id"])
    verify_webhook(SIGNING_KEY, request.headers[HEADER.lower()], receiver.url, request.body)

    # No WhatsApp: the phone page cannot write either.
    status, _ = await sim_call(http, live, "POST", "/sim/reply", {"msisdn": who["no_whatsapp"], "text": "hola"})
    assert status == 409
    contacts = {c["msisdn"]: c for c in (await sim_call(http, live, "GET", "/sim/contacts"))[1]}
    assert contacts[who["no_whatsapp"]]["has_whatsapp"] is False
    assert contacts[who["cancel_text"]]["behaviour"] == "cancel_text"


async def test_asked_back_after_cancelling_in_words_the_citizen_taps_cancel(live, receiver, http):
    number = numbers_behaving(Profile.realistic(seed=LIVE_SEED), "cancel_text")["cancel_text"]
    await sim_send(http, live, reminder(number, "es", "A-7"))
    await receiver.wait_for(lambda _: receiver.messages_from(number), timeout=10)
    question = await sim_send(http, live, ask_back(number, "A-7"))   # as the assistant would
    await receiver.wait_for(lambda _: len(receiver.messages_from(number)) == 2, timeout=10)
    tap = receiver.messages_from(number)[1]
    assert tap["type"] == "interactive" and tap["replyTo"]["id"] == question
    assert tap["content"]["interactive"]["reply"]["id"].startswith("/cancel_appointment")


async def test_the_profile_is_switched_at_run_time(live, receiver, http):
    status, manual = await sim_call(http, live, "POST", "/sim/behaviour", {"profile": "manual"})
    assert status == 200 and manual["profile"] == "manual" and manual["behaviours"] == []
    number = numbers_behaving(Profile.realistic(seed=LIVE_SEED), "confirm_button")["confirm_button"]
    message_id = await sim_send(http, live, reminder(number, "ca", "A-8"))
    await receiver.wait_for(lambda _: statuses(receiver, message_id) == ["sent", "delivered", "read"])
    await asyncio.sleep(0.3)
    assert not receiver.messages_from(number)  # manual: the phone page answers, nobody else

    status, chosen = await sim_call(http, live, "POST", "/sim/behaviour",
                                {"profile": "realistic", "time_scale": LIVE_SCALE, "seed": 7,
                                 "shares": {"confirm_button": 1000}})
    assert status == 200 and chosen["seed"] == 7 and chosen["shares"]["confirm_button"] > 0.99
    message_id = await sim_send(http, live, reminder(number, "ca", "A-9"))
    await receiver.wait_for(lambda _: receiver.messages_from(number), timeout=10)
    for bad in ({"profile": "chaotic"}, {"profile": "realistic", "time_scale": -1}):
        status, answer = await sim_call(http, live, "POST", "/sim/behaviour", bad)
        assert status == 422 and answer["errors"][0]["parameter"] == "profile"
    live.reset()  # back to the profile it started with
    assert (await sim_call(http, live, "GET", "/sim/behaviour"))[1]["seed"] == LIVE_SEED


# ------------------------------------------------------------------- the past days

def test_the_seed_has_twenty_past_service_days_of_a_town():
    today = madrid_today()
    rows = booking_seed.build_appointments(today)
    days = booking_seed.past_service_days(today)
    assert len(days) == 20 and days[-1] == previous_service_day(today)
    town = [r for r in rows if int(r["id"][-6:]) >= booking_seed.TOWN_ID_BASE]
    per_office_day = Counter((r["office_id"], r["starts_at"].date()) for r in town)
    assert set(d for _, d in per_office_day) == set(days)
    assert min(per_office_day.values()) >= 10 and max(per_office_day.values()) <= 30
    for r in town:
        assert (r["status"] == CONFIRMED) <= (r["confirmed_at"] is not None)
        assert (r["status"] == CANCELLED) == (r["cancelled_at"] is not None)
        assert (r["status"] == ATTENDED) == (r["attended_at"] is not None)
    last = [r["status"] for r in town if r["starts_at"].date() == days[-1]]
    assert set(last) <= {BOOKED, CONFIRMED, CANCELLED} and BOOKED in last and CONFIRMED in last
    older = Counter(r["status"] for r in town if r["starts_at"].date() < days[-1])
    assert set(older) == {ATTENDED, NO_SHOW, CANCELLED}
    # A past day is the same whoever seeds it; only its attendance comes later.
    tomorrow = booking_seed.build_appointments(today + timedelta(days=1))
    shared = {r["id"]: r for r in tomorrow}
    for r in town:
        if r["starts_at"].date() < days[-1] and r["starts_at"].date() in booking_seed.past_service_days(
                today + timedelta(days=1)):
            assert shared[r["id"]] == r


@pytest.fixture(scope="module")
def history_env(booking_service, tmp_path_factory):
    db_url = f"sqlite:///{tmp_path_factory.mktemp('history') / 'recorda.db'}"
    return dict(os.environ, RECORDA_DB_URL=db_url, RECORDA_BOOKING_URL=booking_service.api_url,
                RECORDA_BOOKING_TOKEN=booking_service.token, PYTHONPATH=str(PROJECT_ROOT))


def run_history(env, *args) -> str:
    result = subprocess.run([sys.executable, "-m", "bot.dev.sandbox.history", *args], cwd=PROJECT_ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def history(history_env):
    output = run_history(history_env, "--days", "20")
    settings = dataclasses.replace(Settings.from_env(), db_url=history_env["RECORDA_DB_URL"],
                                   booking_url=history_env["RECORDA_BOOKING_URL"],
                                   booking_token=history_env["RECORDA_BOOKING_TOKEN"])
    return settings, output


async def figures_of(settings, first, last):
    args = parse_args(["--from", first.isoformat(), "--to", last.isoformat()])
    return await gather_figures(args, settings)


async def test_history_figures_look_like_the_reference_town(history):
    settings, output = history
    days = past_days(madrid_today(), 20)
    assert "reminders written" in output and "python -m bot.apps.reports" in output
    figures = await figures_of(settings, days[0], days[-1])
    assert figures.volume.reminders_attempted >= 20 * 30
    assert 0.50 <= figures.answers.answer_rate.value <= 0.75
    assert 0.08 <= figures.answers.cancelled_share_of_appointments.value <= 0.18
    assert 0.35 <= figures.answer_times.within_2h.value <= 0.65
    reasons = figures.delivery.failures_by_reason
    assert 0.03 <= reasons["no_whatsapp_account"].value <= 0.09
    assert 0.03 <= reasons["not_delivered"].value <= 0.09
    assert reasons["number_does_not_exist"].part > 0
    assert figures.answers.by_channel["button"].part > figures.answers.by_channel["text"].part > 0
    by_outcome = figures.no_shows.by_outcome
    assert by_outcome["confirmed"].recorded > 100 and by_outcome["no_answer"].recorded > 50
    assert by_outcome["confirmed"].rate < by_outcome["failed"].rate < by_outcome["no_answer"].rate
    assert figures.no_shows.overall.rate < 0.15


async def test_history_is_in_the_past_with_plausible_times(history):
    settings, _ = history
    store = ReminderStore(settings.db_url)
    days = past_days(madrid_today(), 20)
    reminders = store.between(days[0], days[-1])
    histories = store.histories_between(days[0], days[-1])
    now = bot.foundation.clock.now(timezone.utc)
    for reminder in reminders:
        events = histories[reminder.id]
        assert all(e.at < now for e in events)
        assert [e.at for e in events] == sorted(e.at for e in events) or reminder.state in states.ANSWERS
        if reminder.sent_at is None:
            assert reminder.state == states.FAILED and reminder.reason in ("not_mobile", "invalid_number")
            continue
        sent = reminder.sent_at.astimezone(MADRID)
        assert sent.date() == previous_service_day(reminder.service_date) and 16 <= sent.hour <= 18
        assert [e.event for e in events][:3] == [states.SCHEDULED, states.SENDING, states.SENT]
        if reminder.state == states.EXPIRED:
            assert events[-1].event == states.EXPIRED
            assert events[-1].at - reminder.window_closes_at < timedelta(minutes=1)
    assert {r.state for r in reminders} == {states.CONFIRMED, states.CANCELLED, states.FAILED, states.EXPIRED}


async def test_attendance_follows_the_outcomes_and_the_last_day_awaits_staff(history):
    settings, _ = history
    days = past_days(madrid_today(), 20)
    store = ReminderStore(settings.db_url)
    booking = RestBookingSystem(settings.booking_url, settings.booking_token)
    try:
        profile = Profile.realistic()
        for day in (days[0], days[-2]):
            reminders = {r.appointment_id: r for r in store.for_day(day)}
            for office in booking_seed.OFFICES:
                for a in await booking.list_appointments(day, office["id"]):
                    reminder = reminders.get(a.id)
                    if a.status == CANCELLED or reminder is None:
                        continue
                    outcome = {"confirmed": "confirmed", "failed": "failed"}.get(reminder.state, "no_answer")
                    assert a.status == (ATTENDED if shows_up(profile, a.id, outcome) else NO_SHOW)
        follow_up = await follow_up_list(store, booking, days[-1])
    finally:
        await booking.close()
    categories = Counter(item.category for item in follow_up)
    assert categories[FAILED] and categories[EXPIRED_UNREAD] + categories[EXPIRED_READ]
    assert all(item.appointment.status in (BOOKED, CONFIRMED) for item in follow_up)


async def test_history_runs_once(history, history_env):
    settings, _ = history
    before = len(ReminderStore(settings.db_url).between(*past_days(madrid_today(), 20)[::19]))
    assert "there already" in run_history(history_env, "--days", "20", "--if-empty")
    again = await fill_history(settings, days=20)
    assert again.reminders == 0 and again.kept == before and again.attendance_recorded == 0


async def test_history_refuses_a_booking_system_elsewhere(history):
    settings, _ = history
    elsewhere = dataclasses.replace(settings, booking_url="https://citaprevia.example.org/api/v1")
    with pytest.raises(RuntimeError, match="not on this machine"):
        await fill_history(elsewhere, days=2)
