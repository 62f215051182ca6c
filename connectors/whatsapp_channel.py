"""What every WhatsApp channel does the same way, whoever the provider:

    WhatsAppOutput  splits long texts, sends buttons as the provider renders
                    them, and sends the reminder template once per appointment
                    (the reminder store's atomic claim), marking it sent or
                    failed with a reason a person understands
    WhatsAppInput   reads a webhook within a size limit, has the provider's
                    signature checked before anything is parsed, handles every
                    event of a (possibly batched) body once (webhook receipts),
                    seals each citizen message for the actions and applies
                    delivery statuses to the reminders; the reading and the
                    statuses serve Recorda's status receiver too
                    (bot/apps/status_receiver.py), which runs without Rasa

A provider is one module that subclasses both and fills in the hooks marked
"provider": how a message is rendered and sent, how a webhook is verified and
parsed (connectors/messagebird.py, connectors/whatsapp_cloud.py).
"""
from __future__ import annotations

import abc
import asyncio
import json
import logging
import os
from dataclasses import asdict, dataclass
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Sequence, Text, Union

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.exceptions import PayloadTooLarge
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import patches
from bot.foundation.aio import in_thread
from bot.foundation.phone import mask
from bot.messaging import seal as channel_seal
from bot.messaging.inbound import InboundMessage, StatusUpdate
from bot.messaging.sms import ProviderError
from bot.messaging.templates import REMINDER_FILE, REMINDER_TEMPLATE, provider_name
from bot.messaging.webhook_receipts import WebhookReceipts
from bot.offers.store import ANSWERABLE, FAILED, OfferStore
from bot.reminders.provider_status import reason_for_error
from bot.reminders.store import ReminderStore
from connectors.webhook_operations import handing_over, observed_webhook

MAX_TEXT = 4096  # WhatsApp's limit for a text message
# Webhooks are a few KB; unsigned bodies are refused beyond this before being read.
DEFAULT_MAX_BODY_BYTES = 1_000_000

Event = Union[InboundMessage, StatusUpdate]
OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class WebhookRefused(Exception):
    """The webhook is not the provider's: no or a wrong signature."""


@dataclass(frozen=True)
class VerifiedWebhook:
    """A webhook body read within the size limit, signed by the provider,
    and the events parsed from it."""
    raw: bytes
    events: Sequence[Event]


def webhook_answer(outcomes: Sequence[str]) -> HTTPResponse:
    """The answer to a body whose events were all handled (each "recorded",
    "handled", "duplicate" or "ignored")."""
    if not outcomes:
        return response.json({"status": "ignored"})
    if len(outcomes) == 1:
        return response.json({"status": outcomes[0]})
    return response.json({"status": "handled", "events": list(outcomes)})


def split_text(text: str, limit: int = MAX_TEXT) -> List[str]:
    """Parts of at most `limit` characters, cut at a line break when one is
    in the second half of the part."""
    parts, rest = [], text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        cut = cut if cut > limit // 2 else limit
        parts.append(rest[:cut])
        rest = rest[cut:].lstrip("\n")
    return parts + [rest]


def warn_if_rasa_unpatched(channel_log: logging.Logger) -> None:
    """At a channel's start-up, in its own log: Rasa should run patched."""
    if not patches.rasa_patched():
        channel_log.warning("Rasa runs without Recorda's patches (slower custom actions, no guard against a "
                    "negative Content-Length): start it with `python -m bot.apps.rasa_server run ...`")


class ChannelSettings:
    """A channel's settings: the environment variable `<prefix><KEY>` wins
    over the key in credentials.yml, so secrets can stay out of the file; an
    empty value counts as unset."""

    def __init__(self, credentials: Optional[Dict[Text, Any]], env_prefix: str, channel: str):
        self.credentials = credentials or {}
        self.env_prefix = env_prefix
        self.channel = channel

    def get(self, key: str, default: Any = None) -> Any:
        env = os.environ.get(f"{self.env_prefix}{key.upper()}")
        value = env if env not in (None, "") else self.credentials.get(key)
        return default if value in (None, "") else value

    def require(self, *keys: str) -> None:
        for key in keys:
            if not self.get(key):
                raise ValueError(f"{self.channel} channel: `{key}` is missing in credentials.yml "
                                 f"(or {self.env_prefix}{key.upper()})")

    def mapping(self, key: str, default: Dict[str, str]) -> Dict[str, str]:
        """A mapping: YAML in credentials.yml, JSON in the environment."""
        value = self.get(key, default)
        return json.loads(value) if isinstance(value, str) else value


class WhatsAppOutput(OutputChannel, abc.ABC):
    """Sends the assistant's messages to a citizen's WhatsApp."""

    def __init__(self, reminders: Optional[ReminderStore], template_languages: Dict[str, str]):
        # Log lines carry the provider's module name (connectors.messagebird...).
        self.log = logging.getLogger(type(self).__module__)
        self.reminders = reminders
        self.template_languages = template_languages

    # --- provider -------------------------------------------------------------------
    @abc.abstractmethod
    async def deliver(self, recipient_id: str, message: Any) -> str:
        """Sends one rendered message; its provider id. Raises ProviderError."""

    @abc.abstractmethod
    def render_text(self, text: str) -> Any:
        """One text message of at most MAX_TEXT characters."""

    @abc.abstractmethod
    def render_buttons(self, text: str, buttons: List[Dict[str, Any]]) -> List[Any]:
        """A text with Rasa's buttons, as the provider shows them."""

    @abc.abstractmethod
    def render_image(self, url: str) -> Any:
        ...

    @abc.abstractmethod
    def render_template(self, name: str, language_code: str, parameters: List[str],
                        quick_replies: List[str]) -> Any:
        """The approved template of that provider name, in that language."""

    # The provider's name of the default reminder (a channel setting).
    template_name = REMINDER_TEMPLATE

    def provider_template_name(self, file_name: Optional[str]) -> str:
        """The provider's name of a project template (whatsapp_templates/
        <file_name>.yml): the channel's setting for the default reminder,
        the name the file declares for the others (touches, wording variants)."""
        if not file_name or file_name == REMINDER_FILE:
            return self.template_name
        return provider_name(file_name)

    # --- shared ---------------------------------------------------------------------
    async def _send_all(self, recipient_id: str, messages: Iterable[Any]) -> List[str]:
        ids = []
        for message in messages:
            try:
                ids.append(await self.deliver(recipient_id, message))
            except ProviderError as exc:
                # The conversation goes on; the failure is visible in the log
                # and, for reminders, in the reminder's state.
                self.log.error("Could not send a message to %s: %s", mask(recipient_id), exc)
        return ids

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self._send_all(recipient_id, [self.render_text(p) for p in split_text(text)])

    async def send_text_with_buttons(self, recipient_id: Text, text: Text,
                                     buttons: List[Dict[Text, Any]], **kwargs: Any) -> None:
        await self._send_all(recipient_id, self.render_buttons(text, buttons))

    async def send_quick_replies(self, recipient_id: Text, text: Text,
                                 quick_replies: List[Dict[Text, Any]], **kwargs: Any) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        await self._send_all(recipient_id, [self.render_image(image)])

    async def send_attachment(self, recipient_id: Text, attachment: Text, **kwargs: Any) -> None:
        await self.send_text_message(recipient_id, attachment)

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any],
                               **kwargs: Any) -> None:
        template = json_message.get("whatsapp_template")
        if template and template.get("offer_id"):
            await self.send_offer_template(recipient_id, template)
        elif template:
            await self.send_reminder_template(recipient_id, template)
        elif json_message.get("text"):
            await self.send_text_message(recipient_id, json_message["text"])
        else:
            self.log.warning("Custom message without template or text not sent to %s", mask(recipient_id))

    # The store of freed slots' offers, when the channel has a database.
    offers: Optional[OfferStore] = None

    async def send_offer_template(self, recipient_id: str, template: Dict[str, Any]) -> Optional[str]:
        """The offer of a freed slot (bot/offers): sent once already, as the
        worker claims the offer before asking the assistant. An offer the
        provider refuses is marked failed, so the next people get theirs
        without waiting for it to expire."""
        try:
            name = self.provider_template_name(template.get("template"))
        except KeyError as exc:
            self.log.error("Offer %s not sent: %s", template.get("offer_id"), exc)
            return None
        try:
            return await self.deliver(recipient_id, self._rendered(name, template))
        except ProviderError as exc:
            self.log.error("Offer %s to %s failed: %s", template.get("offer_id"), mask(recipient_id), exc)
            if self.offers is not None:
                await in_thread(self.offers.move, int(template["offer_id"]), ANSWERABLE, FAILED)
            return None

    def _rendered(self, name: str, template: Dict[str, Any]) -> Any:
        """The approved template `name` with the action's language, parameters and buttons."""
        language = template.get("language", "ca")
        return self.render_template(name, self.template_languages.get(language, language),
                                    template.get("parameters", []), template.get("quick_replies", []))

    async def send_reminder_template(self, recipient_id: str, template: Dict[str, Any]) -> Optional[str]:
        """Sends the reminder template once per appointment, whoever asks and
        however often: the reminder store's atomic claim decides."""
        appointment_id = str(template["appointment_id"])
        language = template.get("language", "ca")
        if self.reminders is not None:
            claimed = await in_thread(self.reminders.claim_for_sending, appointment_id,
                                      recipient_id, language)
            if not claimed:
                self.log.info("Reminder for %s already sent or in progress; not sending again",
                         appointment_id)
                return None
        try:
            name = self.provider_template_name(template.get("template"))
        except KeyError as exc:
            # A template offices.yml names but the project lacks: send the default one rather than nothing.
            self.log.error("Reminder for %s: %s; the default reminder is sent", appointment_id, exc)
            name = self.template_name
        try:
            message_id = await self.deliver(recipient_id, self._rendered(name, template))
        except ProviderError as exc:
            reason = reason_for_error(exc.code if exc.code is not None else exc.status)
            self.log.error("Reminder for %s to %s failed: %s", appointment_id, mask(recipient_id), exc)
            if self.reminders is not None:
                await in_thread(self.reminders.mark_failed, appointment_id, reason, exc.code,
                                detail={"http_status": exc.status, "description": exc.description})
            return None
        if self.reminders is not None:
            await in_thread(self.reminders.mark_sent, appointment_id, message_id)
        return message_id


class WhatsAppInput(InputChannel, abc.ABC):
    """Receives a provider's webhooks: citizens' messages and delivery statuses."""

    provider = "WhatsApp provider"  # in log lines
    signature_header = ""           # the provider's header that signs a webhook
    # Whether the signature covers the URL called (MessageBird's does): such a
    # webhook cannot be handed on to another URL, and the public URLs the
    # provider calls are settings (None: the URL of the request).
    signature_covers_url = False
    webhook_url: Optional[str] = None         # Rasa's channel webhook
    status_webhook_url: Optional[str] = None  # the status receiver's

    def __init__(self, output: WhatsAppOutput, db_url: Optional[str], seal_secret: str,
                 max_body_bytes: int = DEFAULT_MAX_BODY_BYTES):
        if max_body_bytes <= 0:
            raise ValueError(f"{self.provider} channel: `max_body_bytes` must be positive")
        self.log = logging.getLogger(type(self).__module__)
        self.output = output
        self.max_body_bytes = max_body_bytes
        # Shared with the action server; without it the actions act on nothing.
        self.seal_secret = seal_secret
        self.reminders = output.reminders
        self.receipts = WebhookReceipts(db_url) if db_url else None
        output.offers = OfferStore(db_url) if db_url else None
        if self.receipts is not None and self.reminders is not None \
                and self.receipts.engine is not self.reminders.engine:
            # A status and its receipt are written in one transaction (_record_status_once).
            raise ValueError(f"{self.provider} channel: the reminders and the webhook receipts "
                             "must be in the same database")

    # --- provider -------------------------------------------------------------------
    @abc.abstractmethod
    def verify(self, request: Request, raw: bytes, url: str) -> None:
        """Raises WebhookRefused unless `raw` is signed by the provider, for
        a call to `url` (the public URL it called) if the signature covers it."""

    @abc.abstractmethod
    def parse(self, raw: bytes) -> Sequence[Event]:
        """Every event of a verified body; ValueError for a body that is no
        webhook of this provider."""

    def add_routes(self, webhook: Blueprint, path: str = "/webhook") -> None:
        """Routes a provider needs at `path` besides the POST (e.g. Meta's GET handshake)."""

    # --- shared ---------------------------------------------------------------------
    def get_output_channel(self) -> OutputChannel:
        return self.output

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        # Here, not in from_credentials: only Rasa builds the blueprint (the
        # status receiver reads the same credentials and needs no Rasa patches).
        warn_if_rasa_unpatched(self.log)
        webhook = Blueprint(f"{type(self).__name__}_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        # Streamed: the body is read here, within max_body_bytes, not buffered by Sanic.
        # Timed, with GET ready and metrics beside it (connectors/webhook_operations.py).
        @webhook.route("/webhook", methods=["POST"], stream=True)
        @observed_webhook(webhook, self)
        async def receive(request: Request) -> HTTPResponse:
            return await self.handle_webhook(request, handing_over(request, on_new_message))

        self.add_routes(webhook)
        return webhook

    async def handle_webhook(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        read = await self.read_webhook(request, self.webhook_url)
        if isinstance(read, HTTPResponse):
            return read
        # Shielded: a provider that stops waiting (its timeout) closes the
        # connection and Sanic cancels this handler. A turn cut short there
        # would be lost: its receipt is taken, so the redelivery is answered
        # "duplicate". Shielded, the turn runs to its end either way.
        return await asyncio.shield(self._handle_events(read.events, on_new_message))

    async def _handle_events(self, events: Sequence[Event], on_new_message: OnNewMessage) -> HTTPResponse:
        outcomes = []
        for event in events:
            outcome = await self._handle_event(event, on_new_message)
            if outcome is None:
                # Failed: the provider redelivers the body; what was handled is skipped then.
                return response.json({"error": "could not handle the message"}, status=500)
            outcomes.append(outcome)
        return webhook_answer(outcomes)

    async def read_webhook(self, request: Request,
                           public_url: Optional[str]) -> Union[HTTPResponse, VerifiedWebhook]:
        """The body of a webhook POSTed to a streamed route, read within
        max_body_bytes, its signature checked (for a call to `public_url`, or
        to the request's own URL) before it is parsed; or the answer that
        refuses it (400, 413 or 401), already logged."""
        declared = request.headers.get("content-length")
        if declared is not None and not (declared.isascii() and declared.isdigit() and len(declared) < 19):
            if request.stream is not None:
                # Sanic 21.12 would spin draining a negative length: close instead.
                request.stream.request_body = None
                request.stream.keep_alive = False
            return response.json({"error": "bad Content-Length"}, status=400)
        raw = await self._read_body(request, int(declared) if declared else None)
        if raw is None:
            self.log.warning("Refused a %s webhook from %s: body over %d bytes",
                        self.provider, request.ip, self.max_body_bytes)
            return response.json({"error": "body too large"}, status=413)
        try:
            self.verify(request, raw, public_url or request.url)
        except WebhookRefused as exc:
            self.log.warning("Rejected %s webhook from %s: %s", self.provider, request.ip, exc)
            return response.json({"error": "invalid signature"}, status=401)
        try:
            events = self.parse(raw)
        except ValueError as exc:
            self.log.warning("Malformed %s webhook (%s): %.120r", self.provider, exc, raw[:120])
            return response.json({"error": f"malformed webhook: {exc}"}, status=400)
        except Exception:
            # A signed body we cannot read is not worth a redelivery: 400, and the bug logged.
            self.log.exception("Unreadable %s webhook: %.120r", self.provider, raw[:120])
            return response.json({"error": "malformed webhook"}, status=400)
        return VerifiedWebhook(raw, events)

    async def record_status(self, event: StatusUpdate) -> str:
        """Applies a delivery status to the reminders once however often it
        is delivered: "recorded", "duplicate" for one already applied, or
        "ignored" for a free-form reply's status. On failure neither the
        receipt nor the status is kept, so the provider's redelivery applies it."""
        if event.template is False:
            # A free-form reply's status: no reminder or offer is ever one (they
            # are templates), and a claim interrupted by a crash must not take
            # it for its own send (bot/reminders/interrupted_sends.py).
            if event.error_code is not None:
                self.log.warning("Reply %s was not delivered: %s (%s)", event.message_id,
                                 event.error_code, event.error_description)
            return "ignored"
        # One trip to a thread and one transaction for the receipt and the
        # status together: three statuses come for every message sent.
        return await in_thread(self._record_status_once, event)

    def _record_status_once(self, event: StatusUpdate) -> str:
        """The receipt and the status in one transaction: a failure leaves
        neither, and the provider's redelivery applies it."""
        key = f"status:{event.message_id}:{event.status}"
        store = self.receipts or self.reminders
        if store is None:
            return "recorded"
        with store.engine.begin() as conn:
            if self.receipts is not None and not self.receipts.record(conn, key):
                self.log.info("Duplicate webhook %s ignored", key)
                return "duplicate"
            if self.reminders is not None:
                pricing = asdict(event.pricing) if event.pricing is not None else None
                self.reminders.record_provider_status(
                    conn, event.message_id, event.status, event.at, event.error_code,
                    reason_for_error(event.error_code), pricing, event.recipient)
        return "recorded"

    async def _handle_event(self, event: Event, on_new_message: OnNewMessage) -> Optional[str]:
        """"recorded", "handled" or "duplicate"; None when the message could not be handled."""
        if isinstance(event, StatusUpdate):
            return await self.record_status(event)
        key = f"message:{event.message_id}"
        if self.receipts is not None and not await in_thread(self.receipts.first_time, key):
            self.log.info("Duplicate webhook %s ignored", key)
            return "duplicate"
        try:
            await on_new_message(UserMessage(
                event.text, self.output, event.sender, parse_data=event.parse_data,
                input_channel=self.name(), message_id=event.message_id,
                metadata=self._sealed_metadata(event)))
        except Exception:
            self.log.exception("Could not handle message %s from %s", event.message_id, mask(event.sender))
            if self.receipts is not None:
                # Let the provider's redelivery be handled rather than dropped.
                await in_thread(self.receipts.forget, key)
            return None
        return "handled"

    async def _read_body(self, request: Request, declared: Optional[int]) -> Optional[bytes]:
        """The body, read chunk by chunk; None, without reading on, as soon as
        it is known to exceed max_body_bytes."""
        stream = request.stream
        if stream is None or not getattr(stream, "request_body", None):
            body = request.body or b""  # already read (a non-streaming route)
            return body if len(body) <= self.max_body_bytes else None
        # Sanic drains a body left unread up to this limit; past it, it
        # closes the connection instead of reading on.
        stream.request_max_size = self.max_body_bytes
        chunks: List[bytes] = []
        size = 0
        try:
            while declared is None or declared <= self.max_body_bytes:
                chunk = await stream.read()
                if chunk is None:
                    return b"".join(chunks)
                size += len(chunk)
                if size > self.max_body_bytes:
                    break
                chunks.append(chunk)
        except PayloadTooLarge:
            pass
        # Refused: answer at once (no "100 Continue"), then close the connection.
        stream.expecting_continue = False
        stream.keep_alive = False
        return None

    def _sealed_metadata(self, event: InboundMessage) -> Dict[str, Any]:
        """The message's metadata with the seal that tells the actions it came
        through this verified webhook (bot.messaging.seal)."""
        return {**event.metadata, "kind": event.kind,
                channel_seal.METADATA_KEY: channel_seal.seal(
                    self.seal_secret, self.name(), event.sender, event.message_id, event.kind, event.text)}
