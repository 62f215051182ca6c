"""A slot a citizen cancels is offered to the people on the waiting list,
against the real sandbox booking service (one per module, fresh database):
the worker's offer round, the offer's template, and the [Take it] and
[No, thanks] taps as rasa-sdk runs the actions. The booking system decides
who gets a slot; Recorda never tells anyone something it did not do."""
from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any, List, Tuple

import pytest
import pytest_asyncio
from rasa.shared.core.domain import Domain

from actions.context import Services
from actions.offers import ActionDeclineOffer, ActionSendSlotOffer, ActionTakeOffer
from bot.booking import ACTIVE_STATUSES, Appointment
from bot.booking.rest import RestBookingSystem
from bot.foundation import clock as recorda_clock
from bot.foundation.phone import to_e164
from bot.foundation.settings import Settings
from bot.messaging import payloads
from bot.offers import store as offers
from bot.offers.offer_round import OfferRound
from bot.offers.store import Offer, OfferStore
from bot.offices.service_days import service_days_after
from bot.reminders import states
from bot.reminders.job import run_job
from bot.reminders.store import ReminderStore
from tests.integration.test_actions import ACTION_TOKEN, make_tracker, response_text, run
from tests.support import ROOT
from tests.support.booking_sandbox import MADRID, madrid_today

BOOKING_EXTRA_CITIZENS = 30  # more appointments on the next service day, to cancel

OFFICES_YML = """
defaults:
  waiting_list:
    enabled: true
    min_notice: "3h"
    offers_at_once: {at_once}
    offer_valid_for: "45m"
    max_offers_per_day: 2
"""


@pytest.fixture(scope="module")
def domain() -> dict:
    return Domain.load(str(ROOT / "domain.yml")).as_dict()


class Sender:
    """The worker's way to the assistant: runs the offer's action as Rasa
    does for the trigger, and keeps what it said."""

    def __init__(self, domain: dict):
        self.domain = domain
        self.sent: List[Tuple[str, Offer]] = []
        self.said: List[list] = []

    async def __call__(self, phone: str, offer: Offer) -> None:
        messages, _ = await run(ActionSendSlotOffer(), make_tracker(
            phone, "EXTERNAL_slot_offer", "EXTERNAL: EXTERNAL_slot_offer", {"offer_id": str(offer.id)},
            kind="external"), self.domain)
        self.sent.append((phone, offer))
        self.said.append(messages)


class World:
    def __init__(self, booking: RestBookingSystem, db_url: str, clock, domain: dict):
        self.booking = booking
        self.reminders = ReminderStore(db_url)
        self.offers = OfferStore(db_url)
        self.sender = Sender(domain)
        self.clock = clock
        self.round = OfferRound(self.offers, self.reminders, booking, self.sender, MADRID, "ES",
                                clock=lambda: recorda_clock.utc_now())
        self.used: set = set()

    async def appointment(self) -> Appointment:
        """An active seeded appointment of the coming service days that no
        earlier test cancelled (the module shares one booking service)."""
        for day in service_days_after(madrid_today(), 3):
            for office in ("oac-centre", "oac-can-mas", "oac-la-platja"):
                for appointment in await self.booking.list_appointments(day, office):
                    if appointment.status in ACTIVE_STATUSES and appointment.id not in self.used:
                        self.used.add(appointment.id)
                        return appointment
        raise AssertionError("the seed has no appointment left")

    async def cancel_through_recorda(self, appointment: Appointment) -> None:
        """What the cancel action does: the booking system, then the reminder."""
        await self.booking.cancel(appointment.id)
        self.reminders.schedule(appointment.id, appointment.starts_at.astimezone(MADRID).date(),
                                appointment.office_id, to_e164(appointment.phone, "ES"), appointment.language)
        self.reminders.record_answer(appointment.id, states.CANCELLED, "button")

    async def waiting(self, appointment: Appointment, count: int, prefix: str) -> list:
        """`count` people joining the list of the appointment's office and procedure."""
        for i in range(count):
            await self.booking.join_waiting_list(appointment.office_id, appointment.procedure_id,
                                                 f"Persona {prefix}{i}", f"+34 6{prefix}{i:06d}"[:15], "es")
        return await self.booking.waiting_list(appointment.office_id, appointment.procedure_id)


@pytest_asyncio.fixture
async def world(booking_service, db_url, monkeypatch, tmp_path, clock, domain):
    monkeypatch.setenv("RECORDA_BOOKING_URL", booking_service.api_url)
    monkeypatch.setenv("RECORDA_BOOKING_TOKEN", booking_service.token)
    monkeypatch.setenv("RECORDA_DB_URL", db_url)
    monkeypatch.setenv("RECORDA_ACTION_TOKEN", ACTION_TOKEN)
    offices_file = tmp_path / "offices.yml"
    offices_file.write_text(OFFICES_YML.format(at_once=2))
    monkeypatch.setenv("RECORDA_OFFICES_FILE", str(offices_file))
    monkeypatch.setattr(RestBookingSystem, "BACKOFF_SECONDS", 0.01)
    Services.reset()
    booking = RestBookingSystem(booking_service.api_url, booking_service.token)
    yield World(booking, db_url, clock, domain)
    await booking.close()
    if Services._booking is not None:
        await Services._booking.close()
    Services.reset()


def offer_tap(sender: str, intent: str, offer_id: int, language: str = "es", **options: Any):
    build = payloads.take_offer if intent == "take_offer" else payloads.decline_offer
    return make_tracker(sender, intent, build(offer_id), {"offer_id": str(offer_id)}, {"language": language},
                        kind=options.pop("kind", "button"), **options)


def texts(messages) -> List[str]:
    return [m.get("text") or "" for m in messages]


async def freed_and_offered(world: World, prefix: str, people: int = 3):
    appointment = await world.appointment()
    waiting = await world.waiting(appointment, people, prefix)
    await world.cancel_through_recorda(appointment)
    summary = await world.round.run_once()
    slot = world.offers.freed(appointment.id)
    return appointment, waiting, summary, slot


async def test_a_cancelled_slot_is_offered_to_the_first_people_waiting_and_the_first_tap_gets_it(
        world, domain):
    appointment, waiting, summary, slot = await freed_and_offered(world, "10")

    assert (summary.freed, summary.offered) == (1, 2)
    assert slot.state == offers.OPEN and slot.starts_at == appointment.starts_at
    first, second = (offer for _, offer in world.sender.sent)
    assert [first.entry_id, second.entry_id] == [w.id for w in waiting[:2]]  # the list's order
    assert first.expires_at - first.created_at == timedelta(minutes=45)

    # The assistant's turn for the worker's trigger: the approved template with both buttons.
    messages = world.sender.said[0]
    template = messages[0]["custom"]["whatsapp_template"]
    assert template["template"] == "slot_offer" and template["offer_id"] == first.id
    assert template["quick_replies"] == [payloads.take_offer(first.id), payloads.decline_offer(first.id)]
    assert waiting[0].citizen_name.split(" ")[0] in messages[0]["custom"]["text"]

    # Both tap [Take it] at the same moment: the booking system gives it to one.
    results = await asyncio.gather(
        run(ActionTakeOffer(), offer_tap(first.phone, "take_offer", first.id), domain),
        run(ActionTakeOffer(), offer_tap(second.phone, "take_offer", second.id), domain))
    said = [texts(messages)[0] for messages, _ in results]
    booked_text = [t for t in said if t.startswith("¡Hecho")]
    gone_text = [t for t in said if t == response_text("utter_offer_gone", "es")]
    assert len(booked_text) == 1 and len(gone_text) == 1

    winner, loser = (first, second) if said[0] in booked_text else (second, first)
    slot = world.offers.freed(appointment.id)
    assert slot.state == offers.REBOOKED
    new = await world.booking.get_appointment(slot.rebooked_appointment_id)
    assert (new.starts_at, new.office_id, to_e164(new.phone, "ES")) == (
        appointment.starts_at, appointment.office_id, winner.phone)
    assert world.offers.offer(winner.id).state == offers.ACCEPTED
    assert world.offers.offer(loser.id).state == offers.GONE
    still_waiting = [e.id for e in await world.booking.waiting_list(appointment.office_id,
                                                                     appointment.procedure_id)]
    assert winner.entry_id not in still_waiting and loser.entry_id in still_waiting

    # The trigger replayed once sent (a redelivery) sends nothing again.
    await world.sender(winner.phone, world.offers.offer(winner.id))
    assert world.sender.said[-1] == []
    # A second tap of the winner is told the same; nothing more is offered.
    messages, _ = await run(ActionTakeOffer(), offer_tap(winner.phone, "take_offer", winner.id), domain)
    assert texts(messages)[0] in booked_text
    assert (await world.round.run_once()).offered == 0

    # The new appointment gets its own day-before reminder from the daily job.
    reminded = []

    async def trigger(phone, booked):
        reminded.append(booked.id)

    settings = Settings.from_env()
    await run_job(settings, world.booking, new.starts_at.astimezone(MADRID).date(), [new.office_id],
                  trigger=trigger, now=recorda_clock.now(MADRID).replace(hour=17))
    assert new.id in reminded


async def test_unanswered_offers_expire_and_the_next_people_get_theirs(world, domain, clock):
    appointment, waiting, _, slot = await freed_and_offered(world, "20", people=4)
    first_batch = {offer.entry_id for _, offer in world.sender.sent}

    clock.advance(minutes=46)
    summary = await world.round.run_once()

    assert summary.expired == 2 and summary.offered == 2
    second_batch = {offer.entry_id for _, offer in world.sender.sent[2:]}
    assert second_batch == {w.id for w in waiting[2:4]} and not first_batch & second_batch
    late = world.sender.sent[0][1]
    messages, _ = await run(ActionTakeOffer(), offer_tap(late.phone, "take_offer", late.id), domain)
    assert texts(messages) == [response_text("utter_offer_gone", "es")]
    assert world.offers.freed(appointment.id).state == offers.OPEN  # nobody booked it


async def test_no_thanks_keeps_the_person_on_the_list_and_the_slot_goes_on(world, domain, clock):
    appointment, waiting, _, slot = await freed_and_offered(world, "30", people=3)
    first, second = (offer for _, offer in world.sender.sent)

    for offer in (first, second):
        messages, _ = await run(ActionDeclineOffer(), offer_tap(offer.phone, "decline_offer", offer.id), domain)
        assert texts(messages) == [response_text("utter_offer_declined", "es")]
    summary = await world.round.run_once()

    assert [world.offers.offer(o.id).state for o in (first, second)] == [offers.DECLINED, offers.DECLINED]
    assert [o.entry_id for _, o in world.sender.sent[2:]] == [w.id for w in waiting[2:4]]
    assert summary.offered == len(waiting[2:4])
    listed = [e.id for e in await world.booking.waiting_list(appointment.office_id, appointment.procedure_id)]
    assert first.entry_id in listed and second.entry_id in listed


async def test_only_the_offers_own_number_and_a_real_tap_can_take_it(world, domain):
    appointment, _, _, _ = await freed_and_offered(world, "40", people=2)
    offer = world.sender.sent[0][1]
    stranger = "+34699111222"

    for tracker in (offer_tap(stranger, "take_offer", offer.id),        # another number
                    offer_tap(offer.phone, "take_offer", offer.id, kind="text"),  # typed, not tapped
                    offer_tap(offer.phone, "take_offer", offer.id, sealed=False)):  # not through the channel
        await run(ActionTakeOffer(), tracker, domain)

    assert world.offers.offer(offer.id).state == offers.SENT
    assert world.offers.freed(appointment.id).state == offers.OPEN


async def test_nobody_gets_more_offers_a_day_than_the_office_allows(world, domain, tmp_path, monkeypatch):
    # Everyone waiting is offered each slot; one person would get three offers in a day.
    everyone = tmp_path / "everyone.yml"
    everyone.write_text(OFFICES_YML.format(at_once=50))
    monkeypatch.setenv("RECORDA_OFFICES_FILE", str(everyone))
    appointments = [await world.appointment() for _ in range(3)]
    phone = "+34650505050"
    for a in appointments:
        await world.booking.join_waiting_list(a.office_id, a.procedure_id, "Marta Vidal", phone, "ca")
    offered_to_marta = 0
    for a in appointments:
        await world.cancel_through_recorda(a)
        await world.round.run_once()
        offered_to_marta = sum(1 for p, _ in world.sender.sent if p == phone)
    assert offered_to_marta == 2


async def test_a_slot_too_close_or_of_an_office_without_a_waiting_list_is_not_offered(
        world, domain, clock, monkeypatch, tmp_path):
    start = recorda_clock.now()
    appointment = await world.appointment()
    await world.waiting(appointment, 1, "50")
    clock.set(appointment.starts_at - timedelta(hours=2))  # two hours before: too late
    await world.cancel_through_recorda(appointment)
    await world.round.run_once()
    slot = world.offers.freed(appointment.id)
    assert (slot.state, slot.reason) == (offers.NOT_OFFERED, "too_late") and world.sender.sent == []

    no_list = tmp_path / "none.yml"
    no_list.write_text("defaults: {}\n")
    monkeypatch.setenv("RECORDA_OFFICES_FILE", str(no_list))
    clock.set(start)
    other = await world.appointment()
    await world.cancel_through_recorda(other)
    await world.round.run_once()
    assert world.offers.freed(other.id).reason == "office_has_no_waiting_list"
    assert world.sender.sent == []


async def test_the_person_who_cancelled_is_not_offered_their_own_slot(world, domain, tmp_path, monkeypatch):
    everyone = tmp_path / "everyone.yml"
    everyone.write_text(OFFICES_YML.format(at_once=50))
    monkeypatch.setenv("RECORDA_OFFICES_FILE", str(everyone))
    appointment = await world.appointment()
    await world.booking.join_waiting_list(appointment.office_id, appointment.procedure_id,
                                          appointment.citizen_name, appointment.phone, appointment.language)
    waiting = await world.waiting(appointment, 2, "60")
    await world.cancel_through_recorda(appointment)

    await world.round.run_once()

    offered_to = {phone for phone, _ in world.sender.sent}
    canceller = to_e164(appointment.phone, "ES")
    assert canceller not in offered_to
    assert offered_to == {to_e164(w.phone, "ES") for w in waiting} - {canceller}


async def test_a_booking_system_without_waiting_lists_closes_the_slot_once(db_url, clock, tmp_path, monkeypatch):
    # TownBooking, like any adapter that does not implement them, answers not_supported.
    from bot.booking import CANCELLED
    from tests.support.town_booking import TownBooking

    everyone = tmp_path / "everyone.yml"
    everyone.write_text(OFFICES_YML.format(at_once=3))
    monkeypatch.setenv("RECORDA_OFFICES_FILE", str(everyone))
    town = TownBooking()
    cancelled = dataclasses.replace(town.appointments[0], status=CANCELLED)
    town.appointments[0] = cancelled
    reminders, store, sender = ReminderStore(db_url), OfferStore(db_url), []
    reminders.schedule(cancelled.id, cancelled.starts_at.astimezone(MADRID).date(), cancelled.office_id,
                       "+34612345678", "ca")
    reminders.record_answer(cancelled.id, states.CANCELLED, "button")
    clock.set(cancelled.starts_at - timedelta(days=1))

    async def send(phone, offer):
        sender.append(offer)

    offer_round = OfferRound(store, reminders, town, send, MADRID, "ES")
    await offer_round.run_once()
    await offer_round.run_once()

    slot = store.freed(cancelled.id)
    assert (slot.state, slot.reason) == (offers.NOT_OFFERED, "booking_system_has_no_waiting_list")
    assert sender == []


async def test_an_offer_the_assistant_could_not_send_is_offered_again_next_pass(world, domain, booking_service):
    send = world.sender

    async def during_an_outage(phone, offer):
        booking_service.set_outage(True)
        try:
            await send(phone, offer)
        finally:
            booking_service.set_outage(False)

    world.round.send = during_an_outage
    appointment, _, summary, _ = await freed_and_offered(world, "70", people=2)
    pending = [o for o in world.offers.offers_of(world.offers.freed(appointment.id).id)]
    assert summary.offered == 0 and world.sender.said[:2] == [[], []]
    assert {o.state for o in pending} == {offers.PENDING}

    world.round.send = send
    summary = await world.round.run_once()

    assert summary.offered == 2
    assert {world.offers.offer(o.id).state for o in pending} == {offers.SENT}
    assert all(messages[0]["custom"]["whatsapp_template"]["template"] == "slot_offer"
               for messages in world.sender.said[2:])
