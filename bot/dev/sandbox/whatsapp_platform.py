"""The WhatsApp simulator's state: contacts, conversations, messages and
their delivery (status steps at the configured delays, or as the simulated
citizens' behaviour has it), and what a citizen sends back. Everything is
kept in memory, in one shape whatever the provider played; the provider
edge (bot/dev/sandbox/provider_edge.py) makes the message ids and the
webhook bodies."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from bot.dev.sandbox.citizen_behaviour import NOT_ON_WHATSAPP, CitizenReplay, Profile
from bot.dev.sandbox.citizens import CITIZENS, numbers_without_whatsapp
from bot.dev.sandbox.provider_api import ApiError
from bot.dev.sandbox.provider_api import field as _field
from bot.dev.sandbox.provider_api import invalid as _invalid
from bot.dev.sandbox.provider_edge import ProviderEdge
from bot.dev.sandbox.sms_center import SmsCenter
from bot.dev.sandbox.whatsapp_checks import REGION, inbound, msisdn_of
from bot.dev.sandbox.whatsapp_messages import Choice, choices, new_id, now_stamp, render_hsm
from bot.dev.sandbox.whatsapp_webhooks import WebhookSender
from bot.foundation.phone import mask, to_e164

logger = logging.getLogger(__name__)

# An outbound message only ever moves forward along these, or to "failed".
STATUS_STEPS = ("pending", "sent", "delivered", "read")
MAX_DELIVERIES = 5


@dataclass
class Contact:
    msisdn: str  # E.164
    name: str
    id: str = field(default_factory=new_id)
    conversation: Optional[dict] = None  # made with the first message


def _citizens_by_number() -> dict:
    return {e164: c for c in CITIZENS if (e164 := to_e164(c.phone, REGION))}


def _citizen_number(message: dict) -> str:
    return message["to"] if message["direction"] == "sent" else message["from"]


class Simulator:
    """The platform: contacts, conversations, messages and their delivery."""

    def __init__(self, edge: ProviderEdge, delays: Tuple[float, float, float],
                 templates: dict, webhooks: WebhookSender, citizens: Optional[Profile] = None):
        self.edge, self.channel_id, self.delays = edge, edge.channel_id, delays
        self.templates, self.webhooks = templates, webhooks
        self.citizens = _citizens_by_number()
        self.sms = SmsCenter()  # the SMS side (bot.dev.sandbox.sms_center)
        # What the citizens do by themselves: nothing unless a profile says so.
        self.startup_profile = citizens or Profile()
        self.replay = CitizenReplay(self.startup_profile)
        self._tasks: set = set()
        self.reset()

    def reset(self) -> None:
        self.replay.configure(self.startup_profile)
        for task in self._tasks:
            task.cancel()
        self._tasks = set()
        self._locks: Dict[str, asyncio.Lock] = {}
        self.messages: Dict[str, dict] = {}  # by id, oldest first
        self.contacts: Dict[str, Contact] = {}  # by E.164 number
        self.no_whatsapp = numbers_without_whatsapp(REGION)
        self.fault_status, self.fault_count = None, 0
        self.webhooks.log.clear()
        self.sms.reset()

    # -- provider side

    def take_fault(self) -> Optional[int]:
        """The status the next send must fail with, if a fault is armed."""
        if self.fault_count <= 0:
            return None
        self.fault_count -= 1
        return self.fault_status

    def send(self, recipient: str, kind: str, content: dict) -> dict:
        message = self._new_message(recipient, "sent", kind, content)
        task = asyncio.get_running_loop().create_task(self._deliver(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self.replay.on_sent(self, message)
        return message

    async def _deliver(self, message: dict) -> None:
        """What the platform does after a send: status steps at the configured
        delays, or as the citizen's behaviour has it."""
        if message["to"] in self.no_whatsapp:
            plan = [(self.delays[0], "failed", NOT_ON_WHATSAPP)]
        else:
            plan = self.replay.delivery_plan(message["to"], self.delays) or [
                (delay, status, None) for status, delay in zip(STATUS_STEPS[1:], self.delays)]
        loop = asyncio.get_running_loop()
        started = loop.time()
        for delay, status, error in plan:
            await asyncio.sleep(max(0.0, started + delay - loop.time()))
            await self.advance(message, status, error)

    async def advance(self, message: dict, target: str, error: Optional[dict] = None) -> None:
        """Moves an outbound message forward to `target`, one webhook per step, never back."""
        async with self._locks.setdefault(message["id"], asyncio.Lock()):
            current = message["status"]
            if current not in STATUS_STEPS:
                return  # failed is final
            if target == "failed":
                steps = ["failed"]
            else:
                steps = list(STATUS_STEPS[STATUS_STEPS.index(current) + 1:STATUS_STEPS.index(target) + 1])
            for status in steps:
                self._set_status(message, status, error)
                await self._notify("message.updated", message)

    def _set_status(self, message: dict, status: str, error: Optional[dict] = None) -> None:
        message["status"] = status
        message["updatedDatetime"] = now_stamp()
        if status == "failed":
            message["error"] = dict(error or NOT_ON_WHATSAPP)
        # Three a message: at debug, but for a failure (the phone page shows them all).
        if status == "failed":
            logger.info("message %s to %s: %s", message["id"], mask(message["to"]), status)
        elif logger.isEnabledFor(logging.DEBUG):
            logger.debug("message %s to %s: %s", message["id"], mask(message["to"]), status)

    # -- citizen side

    def has_whatsapp(self, msisdn: str) -> bool:
        return msisdn not in self.no_whatsapp and self.replay.on_whatsapp(msisdn)

    def choices_of(self, message: dict) -> List[Choice]:
        return choices(message, self.templates)

    async def reply(self, body: dict) -> Tuple[dict, list]:
        """What the phone sends: {msisdn, text | button:{message_id, index} | media,
        deliveries?}; the path of `/sim/reply` and of the simulated citizens."""
        msisdn = msisdn_of(body.get("msisdn"))
        if not self.has_whatsapp(msisdn):
            raise ApiError(409, 10, "this number has no WhatsApp account", "msisdn")
        deliveries = _field(body, "deliveries", "deliveries", int, required=False) or 1
        if not 1 <= deliveries <= MAX_DELIVERIES:
            raise _invalid("deliveries", f"deliveries must be 1..{MAX_DELIVERIES}")
        kind, content, reply_to = inbound(body, msisdn, self.messages, self.templates)
        return await self.receive(msisdn, kind, content, reply_to, deliveries)

    async def receive(self, msisdn: str, kind: str, content: dict,
                      reply_to: Optional[str] = None, deliveries: int = 1) -> Tuple[dict, list]:
        """The citizen writes or taps; returns the inbound message and the webhook statuses."""
        if self.replay.shows_read_receipts(msisdn):
            await self._mark_read(msisdn)
        message = self._new_message(msisdn, "received", kind, content, reply_to)
        return message, await self._notify("message.created", message, deliveries)

    async def _mark_read(self, msisdn: str) -> None:
        # A citizen who answers has read what they got.
        for message in self.conversation_messages(msisdn):
            if message["direction"] == "sent" and message["status"] in STATUS_STEPS:
                await self.advance(message, "read")

    # -- shared

    def contact(self, msisdn: str) -> Contact:
        if msisdn not in self.contacts:
            citizen = self.citizens.get(msisdn)
            self.contacts[msisdn] = Contact(msisdn, citizen.name if citizen else msisdn)
        return self.contacts[msisdn]

    def _conversation(self, contact: Contact) -> dict:
        if contact.conversation is None:
            now = now_stamp()
            contact.conversation = {"id": new_id(), "contactId": contact.id, "status": "active",
                                    "createdDatetime": now, "updatedDatetime": now}
        return contact.conversation

    def _new_message(self, msisdn: str, direction: str, kind: str, content: dict,
                     reply_to: Optional[str] = None) -> dict:
        conversation = self._conversation(self.contact(msisdn))
        now = now_stamp()
        outbound = direction == "sent"
        message = {
            "id": self.edge.new_message_id(), "conversationId": conversation["id"], "channelId": self.channel_id,
            "platform": "whatsapp",
            "to": msisdn if outbound else self.channel_id,
            "from": self.channel_id if outbound else msisdn,
            "direction": direction, "status": "pending" if outbound else "received",
            "type": kind, "content": content, "createdDatetime": now, "updatedDatetime": now,
        }
        if reply_to:
            message["replyTo"] = {"id": reply_to}
        conversation["updatedDatetime"] = now
        self.messages[message["id"]] = message
        return message

    async def _notify(self, kind: str, message: dict, times: int = 1) -> List[Optional[int]]:
        """Tells the bot, in the provider's shape; returns each delivery's HTTP status."""
        body = self.edge.webhook_body(kind, message, self.contacts[_citizen_number(message)])
        return await self.webhooks.post(kind, message, body, times)

    def conversation_messages(self, msisdn: str) -> List[dict]:
        return [m for m in self.messages.values() if _citizen_number(m) == msisdn]

    def phone_thread(self, msisdn: str) -> List[dict]:
        """What the number's phone shows: its WhatsApp conversation and its
        SMS, oldest first."""
        listed = [self.describe(m) for m in self.conversation_messages(msisdn)]
        return sorted(listed + self.sms.for_number(msisdn), key=lambda m: m["createdDatetime"])

    def describe(self, message: dict) -> dict:
        """A message as the phone shows it: plus the filled-in template and its buttons."""
        view = dict(message)
        if message["type"] == "hsm":
            view["rendered"] = render_hsm(message["content"]["hsm"], self.templates)
        if message["direction"] == "sent":
            listed = choices(message, self.templates)
            if listed:
                view["buttons"] = [_button_view(i, c) for i, c in enumerate(listed)]
        return view

    def contact_list(self) -> List[dict]:
        """The sandbox citizens, then any other number seen."""
        listed = [self._contact_view(n, c.name, c.language) for n, c in self.citizens.items()]
        listed += [self._contact_view(n, c.name, None) for n, c in self.contacts.items()
                   if n not in self.citizens]
        listed += [self._contact_view(n, n, None) for n in self.sms.numbers()
                   if n not in self.citizens and n not in self.contacts]
        return listed

    def _contact_view(self, msisdn: str, name: str, language: Optional[str]) -> dict:
        messages = self.phone_thread(msisdn)
        view = {"msisdn": msisdn, "name": name, "language": language,
                "has_whatsapp": self.has_whatsapp(msisdn),
                "message_count": len(messages),
                "last_activity": messages[-1]["updatedDatetime"] if messages else None}
        behaviour = self.replay.behaviour(msisdn)
        if behaviour is not None:
            view["behaviour"] = behaviour.name
        return view


def _button_view(index: int, choice: Choice) -> dict:
    view = {"index": index, "title": choice.title}
    if choice.description:
        view["description"] = choice.description
    return view

