"""WhatsApp platform simulator: a local stand-in for MessageBird.

It speaks the subset of the MessageBird Conversations API that Recorda uses
(`POST /v1/send`, `GET /v1/messages/{id}`, `Authorization: AccessKey ...`,
the error envelope) and calls the bot back with signed `message.created` /
`message.updated` webhooks, so the connector runs the same code here as
against https://conversations.messagebird.com/v1/. On top of that:

* `POST /messages` is the SMS API, for the SMS fallback (bot.dev.sandbox.sms_center);
* `/sim/reply` is the citizen's phone: write, tap a button, send media;
* `/sim/...` is a test and inspection API (faults, no-WhatsApp numbers, logs);
* `/sim/behaviour` switches the citizens from manual to a behaviour profile
  (bot.dev.sandbox.citizen_behaviour) that reads and answers like a real town;
* `/` is a phone-like page for demos.

Everything is kept in memory. Run it with
`python -m bot.dev.sandbox.whatsapp_simulator --help`.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import timezone
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import aiohttp
from sanic import Sanic, response
from sanic.exceptions import MethodNotSupported, NotFound

import bot.foundation.clock
from bot.foundation.phone import mask, to_e164
from bot.dev.sandbox.citizen_behaviour import (NOT_ON_WHATSAPP, CitizenReplay, Profile, ProfileError,
                                           describe_profile, load_profile, with_overrides)
from bot.dev.sandbox.citizens import CITIZENS, numbers_without_whatsapp
from bot.messaging.templates import TemplateText, find_template, load_templates
from bot.dev.sandbox.provider_api import (ApiError, authorize as _authorize, field as _field,
                                      invalid as _invalid, json_body as _json_body,
                                      text as _text)
from bot.dev.sandbox.sms_center import ROUTES as SMS_ROUTES, SmsCenter
from connectors.messagebird_signature import HEADER as SIGNATURE_HEADER, sign_webhook

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
REGION = "ES"

# An outbound message only ever moves forward along these, or to "failed".
STATUS_STEPS = ("pending", "sent", "delivered", "read")
FAULT_STATUSES = {429: (429, "Too many requests"), 500: (99, "Internal error"),
                  503: (99, "Service temporarily unavailable")}
MEDIA_URL = "https://media.messagebird.com/v1/media/{}"
SAMPLE_LOCATION = {"latitude": 41.3825, "longitude": 2.1769}  # Plaça de Sant Jaume
WEBHOOK_TIMEOUT = aiohttp.ClientTimeout(total=15)
MAX_DELIVERIES = 5


def _now() -> str:
    return bot.foundation.clock.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _new_id() -> str:
    return uuid.uuid4().hex


# ----------------------------------------------------------------- validation

def _object(value, parameter: str) -> dict:
    if not isinstance(value, dict):
        raise _invalid(parameter, f"{parameter} must be an object")
    return value


def _url(obj: dict, key: str, parameter: str, required: bool = True) -> None:
    value = _text(obj, key, parameter, 2048, required)
    if value is not None and not re.match(r"https?://\S+$", value):
        raise _invalid(parameter, f"{parameter} must be an http(s) URL")


def _unique(values: list, parameter: str) -> None:
    if len(set(values)) != len(values):
        raise _invalid(parameter, f"{parameter} must be unique")


def _check_text(content: dict, templates: dict) -> None:
    _text(content, "text", "content.text", 4096)


def _check_image(content: dict, templates: dict) -> None:
    image = _field(content, "image", "content.image")
    _url(image, "url", "content.image.url")
    _text(image, "caption", "content.image.caption", 1024, required=False)


def _check_interactive(content: dict, templates: dict) -> None:
    base = "content.interactive"
    interactive = _field(content, "interactive", base)
    kind = _text(interactive, "type", base + ".type")
    checks = {"button": _check_reply_buttons, "list": _check_list}
    if kind not in checks:
        raise _invalid(base + ".type", f"{base}.type must be one of: {', '.join(checks)}")
    _text(_field(interactive, "body", base + ".body"), "text", base + ".body.text", 1024)
    footer = _field(interactive, "footer", base + ".footer", required=False)
    if footer is not None:
        _text(footer, "text", base + ".footer.text", 60)
    checks[kind](interactive, _field(interactive, "action", base + ".action"))


def _check_reply_buttons(interactive: dict, action: dict) -> None:
    base = "content.interactive"
    header = _field(interactive, "header", base + ".header", required=False)
    if header is not None:
        kind = _text(header, "type", base + ".header.type")
        if kind not in ("text", "image", "video", "document"):
            raise _invalid(base + ".header.type", "header type must be text, image, video or document")
        if kind == "text":
            _text(header, "text", base + ".header.text", 60)
    buttons = _field(action, "buttons", base + ".action.buttons", list)
    if not 1 <= len(buttons) <= 3:
        raise _invalid(base + ".action.buttons", "an interactive message takes 1 to 3 buttons")
    for i, button in enumerate(buttons):
        where = f"{base}.action.buttons[{i}]"
        button = _object(button, where)
        _text(button, "id", where + ".id", 256)
        _text(button, "title", where + ".title", 20)
        if button.get("type") != "reply":
            raise _invalid(where + ".type", f'{where}.type must be "reply"')
    _unique([b["id"] for b in buttons], base + ".action.buttons[].id")
    _unique([b["title"] for b in buttons], base + ".action.buttons[].title")


def _check_list(interactive: dict, action: dict) -> None:
    base = "content.interactive.action"
    _text(action, "button", base + ".button", 20)
    sections = _field(action, "sections", base + ".sections", list)
    if not 1 <= len(sections) <= 10:
        raise _invalid(base + ".sections", "a list message takes 1 to 10 sections")
    ids = []
    for i, section in enumerate(sections):
        where = f"{base}.sections[{i}]"
        section = _object(section, where)
        # WhatsApp needs titles to tell several sections apart.
        _text(section, "title", where + ".title", 24, required=len(sections) > 1)
        rows = _field(section, "rows", where + ".rows", list)
        for j, row in enumerate(rows):
            row = _object(row, f"{where}.rows[{j}]")
            ids.append(_text(row, "id", f"{where}.rows[{j}].id", 200))
            _text(row, "title", f"{where}.rows[{j}].title", 24)
            _text(row, "description", f"{where}.rows[{j}].description", 72, required=False)
    if not 1 <= len(ids) <= 10:
        raise _invalid(base + ".sections", "a list message takes 1 to 10 rows in all")
    _unique(ids, base + ".sections[].rows[].id")


def _check_hsm(content: dict, templates: dict) -> None:
    base = "content.hsm"
    hsm = _field(content, "hsm", base)
    _text(hsm, "namespace", base + ".namespace", 256)
    name = _text(hsm, "templateName", base + ".templateName", 512)
    code = _text(_field(hsm, "language", base + ".language"), "code", base + ".language.code", 16)
    template = find_template(templates, name, code)
    if template is None:
        raise _invalid(base + ".templateName", f"template {name!r} does not exist in language {code!r}")
    components = _field(hsm, "components", base + ".components", list, required=False) or []
    body_parameters, button_indexes = [], []
    for i, component in enumerate(components):
        where = f"{base}.components[{i}]"
        component = _object(component, where)
        kind = _text(component, "type", where + ".type")
        if kind == "body":
            body_parameters += _body_parameters(component, where)
        elif kind == "button":
            button_indexes.append(_quick_reply_index(component, where, len(template.buttons)))
        else:
            raise _invalid(where + ".type", f"component type {kind!r} is not in this template")
    if len(body_parameters) != template.parameter_count:
        raise _invalid(base + ".components", f"template {name!r} takes {template.parameter_count} "
                                             f"body parameters, got {len(body_parameters)}")
    _unique(button_indexes, base + ".components[].index")


def _body_parameters(component: dict, where: str) -> list:
    parameters = _field(component, "parameters", where + ".parameters", list)
    for i, parameter in enumerate(parameters):
        parameter = _object(parameter, f"{where}.parameters[{i}]")
        if parameter.get("type") != "text":
            raise _invalid(f"{where}.parameters[{i}].type", 'body parameters must be of type "text"')
        _text(parameter, "text", f"{where}.parameters[{i}].text", 1024)
    return parameters


def _quick_reply_index(component: dict, where: str, button_count: int) -> int:
    if component.get("sub_type") != "quick_reply":
        raise _invalid(where + ".sub_type", 'button components must have sub_type "quick_reply"')
    index = str(component.get("index", ""))
    if not index.isdigit() or int(index) >= button_count:
        raise _invalid(where + ".index", f"index must be one of 0..{button_count - 1}")
    parameters = _field(component, "parameters", where + ".parameters", list)
    if len(parameters) != 1 or _object(parameters[0], where + ".parameters[0]").get("type") != "payload":
        raise _invalid(where + ".parameters", "a quick reply takes exactly one payload parameter")
    _text(parameters[0], "payload", where + ".parameters[0].payload")
    return int(index)


CONTENT_CHECKS: Dict[str, Callable[[dict, dict], None]] = {
    "text": _check_text, "interactive": _check_interactive, "hsm": _check_hsm, "image": _check_image,
}


def check_send(body: dict, channel_id: str, templates: dict) -> str:
    """Validates a /v1/send body as the platform would; returns the recipient in E.164."""
    if _text(body, "from", "from") != channel_id:
        raise _invalid("from", "from must be the id of one of your channels")
    recipient = to_e164(_text(body, "to", "to", 32), REGION)
    if recipient is None:
        raise _invalid("to", "to is not a valid phone number")
    kind = _text(body, "type", "type")
    if kind not in CONTENT_CHECKS:
        raise _invalid("type", f"type must be one of: {', '.join(CONTENT_CHECKS)}")
    CONTENT_CHECKS[kind](_field(body, "content", "content"), templates)
    _url(body, "reportUrl", "reportUrl", required=False)
    return recipient


# ------------------------------------------------------------------ templates

def _hsm_template(hsm: dict, templates: dict) -> TemplateText:
    return find_template(templates, hsm["templateName"], hsm["language"]["code"])


def render_hsm(hsm: dict, templates: dict) -> str:
    """The template body with the message's parameters filled in."""
    parameters = [p["text"] for c in hsm.get("components", []) if c["type"] == "body"
                  for p in c["parameters"]]
    return _hsm_template(hsm, templates).render(parameters)


# -------------------------------------------------------- what a citizen taps

@dataclass(frozen=True)
class Choice:
    """Something tappable under a received message, and the reply a tap sends."""
    title: str
    description: Optional[str]
    reply_type: str
    reply_content: dict


def choices(message: dict, templates: dict) -> List[Choice]:
    kind, content = message["type"], message["content"]
    if kind == "interactive" and content["interactive"]["type"] == "button":
        return _button_choices(content["interactive"]["action"]["buttons"])
    if kind == "interactive":
        return _list_choices(content["interactive"]["action"]["sections"])
    if kind == "hsm":
        return _quick_reply_choices(content["hsm"], templates)
    return []


def _button_choices(buttons: list) -> List[Choice]:
    return [Choice(b["title"], None, "interactive", {"interactive": {
        "type": "button_reply", "reply": {"id": b["id"], "text": b["title"]}}}) for b in buttons]


def _list_choices(sections: list) -> List[Choice]:
    listed = []
    for row in (row for section in sections for row in section["rows"]):
        reply = {"id": row["id"], "text": row["title"]}
        if row.get("description"):
            reply["description"] = row["description"]
        listed.append(Choice(row["title"], row.get("description"), "interactive",
                             {"interactive": {"type": "list_reply", "reply": reply}}))
    return listed


def _quick_reply_choices(hsm: dict, templates: dict) -> List[Choice]:
    payloads = {int(c["index"]): c["parameters"][0]["payload"]
                for c in hsm.get("components", []) if c["type"] == "button"}
    # Without a payload from the sender, WhatsApp reports the button's title.
    return [Choice(title, None, "button", {"button": {"text": title, "payload": payloads.get(i, title)}})
            for i, title in enumerate(_hsm_template(hsm, templates).buttons)]


def media_content(kind: str) -> Tuple[str, dict]:
    """(message type, content) of a photo, voice note, location or sticker from the phone."""
    url = MEDIA_URL.format(_new_id())
    contents = {
        "image": ("image", {"image": {"url": url}}),
        "audio": ("audio", {"audio": {"url": url}}),
        "location": ("location", {"location": dict(SAMPLE_LOCATION)}),
        "sticker": ("whatsappSticker", {"whatsappSticker": {"link": url}}),
    }
    if kind not in contents:
        raise _invalid("media", f"media must be one of: {', '.join(contents)}")
    return contents[kind]


# ------------------------------------------------------------------- webhooks

class WebhookSender:
    """POSTs signed events to the bot and logs every attempt."""

    def __init__(self, url: str, signing_key: str):
        self.url, self.signing_key = url, signing_key
        self.log: List[dict] = []
        self.session: Optional[aiohttp.ClientSession] = None  # opened on the server's loop

    async def post(self, event: dict, times: int = 1) -> List[Optional[int]]:
        """Delivers the same body `times` times; returns each HTTP status (None: unreachable)."""
        body = json.dumps(event, ensure_ascii=False).encode("utf-8")
        return [await self._post_once(event, body) for _ in range(times)]

    async def _post_once(self, event: dict, body: bytes) -> Optional[int]:
        # Signed per delivery, like a provider's retry: a fresh token, the same body.
        headers = {SIGNATURE_HEADER: sign_webhook(self.signing_key, self.url, body),
                   "Content-Type": "application/json"}
        status, error = None, None
        try:
            async with self.session.post(self.url, data=body, headers=headers) as reply:
                status = reply.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            error = str(exc) or type(exc).__name__
            logger.warning("webhook %s to %s failed: %s", event["type"], self.url, error)
        message = event["message"]
        self.log.append({"type": event["type"], "message_id": message["id"],
                         "message_status": message["status"], "status_code": status,
                         "error": error, "at": _now()})
        return status


# ---------------------------------------------------------------------- state

@dataclass
class Contact:
    msisdn: str  # E.164
    name: str
    id: str = field(default_factory=_new_id)
    conversation: Optional[dict] = None  # made with the first message


def _citizens_by_number() -> dict:
    return {e164: c for c in CITIZENS if (e164 := to_e164(c.phone, REGION))}


def _citizen_number(message: dict) -> str:
    return message["to"] if message["direction"] == "sent" else message["from"]


class Simulator:
    """The platform: contacts, conversations, messages and their delivery."""

    def __init__(self, channel_id: str, delays: Tuple[float, float, float],
                 templates: dict, webhooks: WebhookSender, citizens: Optional[Profile] = None):
        self.channel_id, self.delays = channel_id, delays
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
                await self.webhooks.post(self._event("message.updated", message))

    def _set_status(self, message: dict, status: str, error: Optional[dict] = None) -> None:
        message["status"] = status
        message["updatedDatetime"] = _now()
        if status == "failed":
            message["error"] = dict(error or NOT_ON_WHATSAPP)
        logger.info("message %s to %s: %s", message["id"], mask(message["to"]), status)

    # -- citizen side

    def has_whatsapp(self, msisdn: str) -> bool:
        return msisdn not in self.no_whatsapp and self.replay.on_whatsapp(msisdn)

    def choices_of(self, message: dict) -> List[Choice]:
        return choices(message, self.templates)

    async def reply(self, body: dict) -> Tuple[dict, list]:
        """What the phone sends: {msisdn, text | button:{message_id, index} | media,
        deliveries?}; the path of `/sim/reply` and of the simulated citizens."""
        msisdn = _msisdn(body.get("msisdn"))
        if not self.has_whatsapp(msisdn):
            raise ApiError(409, 10, "this number has no WhatsApp account", "msisdn")
        deliveries = _field(body, "deliveries", "deliveries", int, required=False) or 1
        if not 1 <= deliveries <= MAX_DELIVERIES:
            raise _invalid("deliveries", f"deliveries must be 1..{MAX_DELIVERIES}")
        kind, content, reply_to = _inbound(body, msisdn, self)
        return await self.receive(msisdn, kind, content, reply_to, deliveries)

    async def receive(self, msisdn: str, kind: str, content: dict,
                      reply_to: Optional[str] = None, deliveries: int = 1) -> Tuple[dict, list]:
        """The citizen writes or taps; returns the inbound message and the webhook statuses."""
        if self.replay.shows_read_receipts(msisdn):
            await self._mark_read(msisdn)
        message = self._new_message(msisdn, "received", kind, content, reply_to)
        return message, await self.webhooks.post(self._event("message.created", message), deliveries)

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
            now = _now()
            contact.conversation = {"id": _new_id(), "contactId": contact.id, "status": "active",
                                    "createdDatetime": now, "updatedDatetime": now}
        return contact.conversation

    def _new_message(self, msisdn: str, direction: str, kind: str, content: dict,
                     reply_to: Optional[str] = None) -> dict:
        conversation = self._conversation(self.contact(msisdn))
        now = _now()
        outbound = direction == "sent"
        message = {
            "id": _new_id(), "conversationId": conversation["id"], "channelId": self.channel_id,
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

    def _event(self, kind: str, message: dict) -> dict:
        contact = self.contacts[_citizen_number(message)]
        return {"type": kind,
                "contact": {"id": contact.id, "msisdn": int(contact.msisdn.lstrip("+")),
                            "displayName": contact.name},
                "conversation": dict(contact.conversation),
                "message": message}

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


# ----------------------------------------------------------------- HTTP: glue

def _sim(request) -> Simulator:
    return request.app.ctx.sim


def _msisdn(value, parameter: str = "msisdn") -> str:
    number = to_e164(value, REGION) if isinstance(value, (str, int)) else None
    if number is None:
        raise _invalid(parameter, f"{parameter} is not a valid phone number")
    return number


async def _api_error(request, exc: ApiError):
    return exc.response()


async def _http_error(request, exc):
    code = 20 if exc.status_code == 404 else 21
    return ApiError(exc.status_code, code, str(exc)).response()


# ------------------------------------------------------ HTTP: the provider API

async def send_message(request):
    _authorize(request)
    sim = _sim(request)
    fault = sim.take_fault()
    if fault:
        code, description = FAULT_STATUSES[fault]
        raise ApiError(fault, code, description, headers={"Retry-After": "0"} if fault == 429 else None)
    body = _json_body(request)
    recipient = check_send(body, sim.channel_id, sim.templates)
    message = sim.send(recipient, body["type"], body["content"])
    return response.json({"id": message["id"], "status": "accepted"}, status=202)


async def read_message(request, message_id: str):
    _authorize(request)
    message = _sim(request).messages.get(message_id)
    if message is None:
        raise ApiError(404, 20, "message not found", "id")
    return response.json(message)


# ------------------------------------------------------ HTTP: the citizen side

async def citizen_reply(request):
    """The phone: {msisdn, text | button:{message_id, index} | media, deliveries?}."""
    message, statuses = await _sim(request).reply(_json_body(request))
    return response.json({"message": message, "webhook_statuses": statuses})


def _inbound(body: dict, msisdn: str, sim: Simulator) -> Tuple[str, dict, Optional[str]]:
    """(type, content, replyTo id) of what the citizen sends."""
    given = [key for key in ("text", "button", "media") if key in body]
    if len(given) != 1:
        raise _invalid(None, "give exactly one of text, button, media")
    if given == ["text"]:
        return "text", {"text": _text(body, "text", "text", 4096)}, None
    if given == ["media"]:
        return (*media_content(_text(body, "media", "media")), None)
    return _tap(_field(body, "button", "button"), msisdn, sim)


def _tap(button: dict, msisdn: str, sim: Simulator) -> Tuple[str, dict, str]:
    message = sim.messages.get(_text(button, "message_id", "button.message_id"))
    if message is None or message["direction"] != "sent" or message["to"] != msisdn:
        raise ApiError(404, 20, "this citizen received no such message", "button.message_id")
    if message["status"] == "failed":
        raise ApiError(409, 10, "this message never reached the phone", "button.message_id")
    listed = choices(message, sim.templates)
    index = _field(button, "index", "button.index", int)
    if not 0 <= index < len(listed):
        raise _invalid("button.index", f"the message has {len(listed)} buttons")
    return listed[index].reply_type, listed[index].reply_content, message["id"]


# ---------------------------------------------------- HTTP: test & inspection

async def list_messages(request):
    sim = _sim(request)
    if request.args.get("msisdn") is None:
        return response.json([sim.describe(m) for m in sim.messages.values()])
    return response.json(sim.phone_thread(_msisdn(request.args.get("msisdn"))))


async def list_contacts(request):
    return response.json(_sim(request).contact_list())


async def add_no_whatsapp(request):
    msisdn = _msisdn(_json_body(request).get("msisdn"))
    _sim(request).no_whatsapp.add(msisdn)
    return response.json({"msisdn": msisdn, "has_whatsapp": False})


async def arm_faults(request):
    """The next `count` sends fail with `status` (0 disarms)."""
    body = _json_body(request)
    status = _field(body, "status", "status", int)
    count = _field(body, "count", "count", int)
    if status not in FAULT_STATUSES or count < 0:
        raise _invalid("status", f"status must be one of {sorted(FAULT_STATUSES)}, count >= 0")
    sim = _sim(request)
    sim.fault_status, sim.fault_count = status, count
    return response.json({"status": status, "count": count})


def _behaviour_view(sim: Simulator) -> dict:
    profile = sim.replay.profile
    return {**profile.to_dict(), "behaviours": describe_profile(profile) if profile.active else []}


async def get_behaviour(request):
    """The citizens' profile; with ?msisdn=, also that number's behaviour."""
    sim = _sim(request)
    view = _behaviour_view(sim)
    if request.args.get("msisdn") is not None:
        msisdn = _msisdn(request.args.get("msisdn"))
        behaviour = sim.replay.behaviour(msisdn)
        view["number"] = {"msisdn": msisdn, "behaviour": behaviour.name if behaviour else None,
                          "has_whatsapp": sim.has_whatsapp(msisdn)}
    return response.json(view)


async def set_behaviour(request):
    """{"profile": "realistic"|"manual", "time_scale"?, "seed"?, "shares"?}."""
    sim = _sim(request)
    try:
        profile = Profile.from_dict(_json_body(request))
    except ProfileError as exc:
        raise _invalid("profile", str(exc)) from None
    sim.replay.configure(profile)
    return response.json(_behaviour_view(sim))


async def reset(request):
    _sim(request).reset()
    return response.json({"status": "reset"})


async def health(request):
    sim = _sim(request)
    return response.json({"status": "ok", "channelId": sim.channel_id,
                          "webhookUrl": sim.webhooks.url, "messages": len(sim.messages)})


async def webhook_log(request):
    return response.json(_sim(request).webhooks.log)


async def phone_page(request):
    return await response.file(STATIC_DIR / "index.html")


ROUTES = [
    (send_message, "/v1/send", "POST"),
    (read_message, "/v1/messages/<message_id>", "GET"),
    (citizen_reply, "/sim/reply", "POST"),
    (list_messages, "/sim/messages", "GET"),
    (list_contacts, "/sim/contacts", "GET"),
    (add_no_whatsapp, "/sim/no-whatsapp", "POST"),
    (arm_faults, "/sim/faults", "POST"),
    (get_behaviour, "/sim/behaviour", "GET"),
    (set_behaviour, "/sim/behaviour", "POST"),
    (reset, "/sim/reset", "POST"),
    (health, "/sim/health", "GET"),
    (webhook_log, "/sim/webhooks", "GET"),
    (phone_page, "/", "GET"),
]


def create_app(access_key: str, signing_key: str, channel_id: str, webhook_url: str,
               status_delays: Tuple[float, float, float] = (0.5, 1.5, 4.0),
               name: Optional[str] = None, citizens: Optional[Profile] = None) -> Sanic:
    """The simulator as a Sanic app; `name` must be unique in the process;
    `citizens` is the behaviour profile it starts (and resets) with."""
    # Logging is the host process's business (main() or whoever embeds the app).
    app = Sanic(name or f"whatsapp_simulator_{_new_id()[:8]}", configure_logging=False)
    app.config.FALLBACK_ERROR_FORMAT = "json"
    webhooks = WebhookSender(webhook_url, signing_key)
    app.ctx.access_key = access_key
    app.ctx.sim = Simulator(channel_id, tuple(status_delays), load_templates(), webhooks, citizens)
    app.ctx.sms = app.ctx.sim.sms
    for handler, uri, method in ROUTES + SMS_ROUTES:
        app.add_route(handler, uri, methods=[method])
    app.static("/static", STATIC_DIR)
    app.exception(ApiError)(_api_error)
    app.exception(NotFound, MethodNotSupported)(_http_error)

    @app.before_server_start
    async def open_session(app, loop):
        webhooks.session = aiohttp.ClientSession(timeout=WEBHOOK_TIMEOUT)

    @app.after_server_stop
    async def close_session(app, loop):
        app.ctx.sim.reset()
        await webhooks.session.close()

    return app


# ------------------------------------------------------------------------ CLI

def _delays(text: str) -> Tuple[float, float, float]:
    delays = tuple(float(part) for part in text.split(","))
    if len(delays) != 3 or any(d < 0 for d in delays) or list(delays) != sorted(delays):
        raise argparse.ArgumentTypeError("three increasing seconds: sent,delivered,read")
    return delays


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description="WhatsApp platform simulator (MessageBird API subset).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--access-key", default="sandbox-access-key")
    parser.add_argument("--signing-key", default="sandbox-signing-key-for-the-local-demo")
    parser.add_argument("--channel-id", default="sandbox-whatsapp-channel")
    parser.add_argument("--webhook-url", default="http://127.0.0.1:5005/webhooks/messagebird/webhook")
    parser.add_argument("--status-delays", type=_delays, default=(0.5, 1.5, 4.0),
                        help="seconds after a send until sent, delivered, read (default 0.5,1.5,4)")
    parser.add_argument("--citizens", default="manual", metavar="PROFILE",
                        help="what citizens do with a reminder: manual (default: only what the phone "
                             "page or /sim/reply does), realistic, or a JSON/YAML profile file")
    parser.add_argument("--time-scale", type=float, metavar="FACTOR",
                        help="real seconds per simulated second of the citizens' delays (0.001: 2 h "
                             "last 7.2 s); default the profile's")
    parser.add_argument("--seed", type=int, help="seed of the citizens' behaviours; default the profile's")
    args = parser.parse_args(argv)
    try:
        citizens = with_overrides(load_profile(args.citizens), args.seed, args.time_scale)
    except (ProfileError, ValueError) as exc:
        parser.error(f"--citizens: {exc}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app(args.access_key, args.signing_key, args.channel_id, args.webhook_url,
                     args.status_delays, name="whatsapp_simulator", citizens=citizens)
    app.run(host=args.host, port=args.port, workers=1, access_log=False, motd=False)


if __name__ == "__main__":
    main()
