"""Offers of a freed slot to people on the waiting list (bot/offers).

The worker triggers EXTERNAL_slot_offer on the waiting citizen's
conversation, and the offer goes out as an approved template with
[Take it] [No, thanks]. Only those buttons act, and only from the number
the offer was sent to: a tap books the slot through the booking system,
which decides who gets it, so two people never share a slot. The citizen
is told what the booking system answered, nothing more."""
from __future__ import annotations

import abc
import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import trust
from actions.appointment import refuse_unverified, when
from actions.context import Services, is_tap, origin, sender_phone
from actions.reminder import first_name
from actions.speech import say
from bot.booking import AppointmentNotFound, BookingError, BookingRefused, BookingUnavailable, SlotTaken
from bot.foundation import clock
from bot.foundation.aio import in_thread
from bot.foundation.languages import format_when, normalise_language
from bot.messaging import payloads
from bot.messaging.templates import provider_name, render_body
from bot.offers import store as offers
from bot.offers.store import Offer

log = logging.getLogger(__name__)

OFFER_TEMPLATE = "slot_offer"  # whatsapp_templates/slot_offer.yml


def requested_offer(tracker: Tracker) -> Optional[Offer]:
    value = next(tracker.get_latest_entity_values("offer_id"), None)
    try:
        offer_id = int(str(value))
    except ValueError:
        return None
    return Services.offers().find_offer(offer_id)


class ActionSendSlotOffer(Action):
    def name(self) -> Text:
        return "action_send_slot_offer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        if origin(tracker) != trust.RECORDA:
            trust.log_refusal(tracker, self.name())  # only the worker, through Rasa's token, offers slots
            return []
        offer = await in_thread(requested_offer, tracker)
        if offer is None or offer.state != offers.SENDING or offer.phone != sender_phone(tracker):
            log.info("No offer sent on %s: unknown, not being sent, or another number's", tracker.sender_id)
            return []
        slot = await in_thread(Services.offers().slot, offer.freed_slot_id)
        booking = Services.booking()
        try:
            office = await booking.get_office(slot.office_id)
            procedure = await booking.get_procedure(slot.procedure_id)
        except BookingError as exc:
            # Back to pending: the worker's next pass offers it again.
            log.error("Offer %s not sent yet: booking system error %s", offer.id, exc)
            await in_thread(Services.offers().move, offer.id, (offers.SENDING,), offers.PENDING)
            return []
        language = normalise_language(offer.language, Services.settings().default_language)
        parameters = [first_name(offer.citizen_name),
                      format_when(slot.starts_at, language, Services.settings().timezone),
                      procedure.name(language), f"{office.name}, {office.address}"]
        dispatcher.utter_message(json_message={
            "whatsapp_template": {
                "template": OFFER_TEMPLATE, "offer_id": offer.id, "language": language,
                "parameters": parameters,
                "quick_replies": [payloads.take_offer(offer.id), payloads.decline_offer(offer.id)],
            },
            "text": render_body(language, parameters, provider_name(OFFER_TEMPLATE)),
        })
        return [SlotSet("language", language)]


async def _own_offer(dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any],
                     lang: str, action: str) -> Optional[Offer]:
    """The offer a tap names, if it is the sender's and a real tap; else None, said why."""
    if refuse_unverified(dispatcher, tracker, domain, lang, action):
        return None
    offer = await in_thread(requested_offer, tracker)
    if offer is None or offer.phone != sender_phone(tracker) or not is_tap(tracker):
        if offer is not None:
            log.warning("Refused: %s named offer %s, which is not theirs or not a tap", tracker.sender_id, offer.id)
        say(dispatcher, domain, "utter_offer_not_open", lang)
        return None
    return offer


class OfferAnswer(Action, abc.ABC):
    """A tap on one of an offer's buttons: acts only on the sender's own offer."""

    @abc.abstractmethod
    def name(self) -> Text: ...

    @abc.abstractmethod
    async def answer(self, dispatcher: CollectingDispatcher, domain: Dict[Text, Any], lang: str,
                     offer: Offer) -> List[Dict[Text, Any]]: ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        lang = normalise_language(tracker.get_slot("language") or "", Services.settings().default_language)
        offer = await _own_offer(dispatcher, tracker, domain, lang, self.name())
        return [] if offer is None else await self.answer(dispatcher, domain, lang, offer)


class ActionTakeOffer(OfferAnswer):
    def name(self) -> Text:
        return "action_take_offer"

    async def answer(self, dispatcher: CollectingDispatcher, domain: Dict[Text, Any], lang: str,
                     offer: Offer) -> List[Dict[Text, Any]]:
        store = Services.offers()
        slot = await in_thread(store.slot, offer.freed_slot_id)
        if offer.state == offers.ACCEPTED:  # a second tap: tell it again
            appointment = await _rebooked(slot.rebooked_appointment_id)
            say(dispatcher, domain, "utter_offer_booked", lang, name=first_name(offer.citizen_name),
                when=when(appointment, lang) if appointment else format_when(
                    slot.starts_at, lang, Services.settings().timezone))
            return []
        if offer.state not in offers.ANSWERABLE or offer.expires_at <= clock.utc_now():
            await in_thread(store.move, offer.id, offers.OUTSTANDING, offers.EXPIRED)
            say(dispatcher, domain, "utter_offer_gone", lang)
            return []
        try:
            appointment = await Services.booking().book_slot(slot.office_id, slot.procedure_id, slot.starts_at,
                                                             offer.entry_id, slot.appointment_id)
        except SlotTaken:
            await in_thread(store.move, offer.id, offers.OUTSTANDING, offers.GONE)
            say(dispatcher, domain, "utter_offer_gone", lang)
            return []
        except AppointmentNotFound:
            # No longer on the list (left it, or got another slot).
            await in_thread(store.move, offer.id, offers.OUTSTANDING, offers.GONE)
            say(dispatcher, domain, "utter_offer_not_open", lang)
            return []
        except BookingUnavailable as exc:
            log.warning("Offer %s: booking system unavailable: %s", offer.id, exc)
            say(dispatcher, domain, "utter_offer_try_again", lang)
            return []
        except BookingRefused as exc:
            log.warning("Offer %s refused by the booking system: %s %s", offer.id, exc.code, exc)
            await in_thread(store.move, offer.id, offers.OUTSTANDING, offers.GONE)
            say(dispatcher, domain, "utter_offer_gone", lang)
            return []
        await in_thread(store.accept, offer.id, appointment.id)
        log.info("Freed slot %s rebooked as %s through offer %s", slot.id, appointment.id, offer.id)
        say(dispatcher, domain, "utter_offer_booked", lang, name=first_name(offer.citizen_name),
            when=when(appointment, lang))
        return [SlotSet("appointment_id", appointment.id)]


async def _rebooked(appointment_id: Optional[str]):
    if not appointment_id:
        return None
    try:
        return await Services.booking().get_appointment(appointment_id)
    except BookingError:
        return None


class ActionDeclineOffer(OfferAnswer):
    def name(self) -> Text:
        return "action_decline_offer"

    async def answer(self, dispatcher: CollectingDispatcher, domain: Dict[Text, Any], lang: str,
                     offer: Offer) -> List[Dict[Text, Any]]:
        await in_thread(Services.offers().move, offer.id, offers.ANSWERABLE, offers.DECLINED)
        say(dispatcher, domain, "utter_offer_declined", lang)
        return []
