"""Rasa channel for WhatsApp through the MessageBird Conversations API.

Configure it in credentials.yml under `connectors.messagebird.MessageBirdInput`
(see that file); the webhook is `/webhooks/messagebird/webhook`. Compared with
Rasa's Twilio channel, the only WhatsApp path Rasa ships, this one verifies
every webhook's signature before reading it, handles each webhook once,
turns button taps into their intent payloads (and never typed text),
renders buttons as WhatsApp buttons or lists, sends the reminder template,
records delivery statuses, and never blocks the event loop.
"""
from __future__ import annotations

import json
import logging
import os
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Text

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.exceptions import PayloadTooLarge
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import patches
from bot.foundation.aio import in_thread
from bot.foundation.phone import mask
from bot.foundation.settings import Settings
from bot.messaging import seal as channel_seal
from bot.messaging.webhook_receipts import WebhookReceipts
from bot.reminders.provider_status import reason_for_error
from bot.reminders.store import ReminderStore
from connectors import messagebird_content as content
from connectors import messagebird_webhook
from connectors.messagebird_client import MessageBirdClient, MessageBirdError
from connectors.messagebird_signature import HEADER, SignatureError, verify_webhook

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://conversations.messagebird.com/v1"
MAX_TEXT = 4096
# Webhooks are a few KB; unsigned bodies are refused beyond this before being read.
DEFAULT_MAX_BODY_BYTES = 1_000_000


def _split_text(text: str, limit: int = MAX_TEXT) -> List[str]:
    parts, rest = [], text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        cut = cut if cut > limit // 2 else limit
        parts.append(rest[:cut])
        rest = rest[cut:].lstrip("\n")
    return parts + [rest]


class MessageBirdOutput(OutputChannel):
    """Sends the assistant's messages to a citizen's WhatsApp."""

    @classmethod
    def name(cls) -> Text:
        return "messagebird"

    def __init__(self, client: MessageBirdClient, reminders: Optional[ReminderStore],
                 template_namespace: str, template_name: str, template_languages: Dict[str, str]):
        self.client = client
        self.reminders = reminders
        self.template_namespace = template_namespace
        self.template_name = template_name
        self.template_languages = template_languages

    async def _send_all(self, recipient_id: str, messages: Iterable) -> List[str]:
        ids = []
        for message_type, body in messages:
            try:
                ids.append(await self.client.send(recipient_id, message_type, body))
            except MessageBirdError as exc:
                # The conversation goes on; the failure is visible in the log
                # and, for reminders, in the reminder's state.
                log.error("Could not send a %s message to %s: %s", message_type,
                          mask(recipient_id), exc)
        return ids

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self._send_all(recipient_id, [content.text_content(p) for p in _split_text(text)])

    async def send_text_with_buttons(self, recipient_id: Text, text: Text,
                                     buttons: List[Dict[Text, Any]], **kwargs: Any) -> None:
        await self._send_all(recipient_id, content.buttons_content(text, buttons))

    async def send_quick_replies(self, recipient_id: Text, text: Text,
                                 quick_replies: List[Dict[Text, Any]], **kwargs: Any) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        await self._send_all(recipient_id, [content.image_content(image)])

    async def send_attachment(self, recipient_id: Text, attachment: Text, **kwargs: Any) -> None:
        await self.send_text_message(recipient_id, attachment)

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any],
                               **kwargs: Any) -> None:
        template = json_message.get("whatsapp_template")
        if template:
            await self.send_reminder_template(recipient_id, template)
        elif json_message.get("text"):
            await self.send_text_message(recipient_id, json_message["text"])
        else:
            log.warning("Custom message without template or text not sent to %s", mask(recipient_id))

    async def send_reminder_template(self, recipient_id: str, template: Dict[str, Any]) -> Optional[str]:
        """Sends the reminder template once per appointment, whoever asks and
        however often: the reminder store's atomic claim decides."""
        appointment_id = str(template["appointment_id"])
        language = template.get("language", "ca")
        if self.reminders is not None:
            claimed = await in_thread(self.reminders.claim_for_sending, appointment_id,
                                       recipient_id, language)
            if not claimed:
                log.info("Reminder for %s already sent or in progress; not sending again",
                         appointment_id)
                return None
        message_type, body = content.template_content(
            self.template_namespace, self.template_name,
            self.template_languages.get(language, language),
            template.get("parameters", []), template.get("quick_replies", []))
        try:
            message_id = await self.client.send(recipient_id, message_type, body)
        except MessageBirdError as exc:
            reason = reason_for_error(exc.code if exc.code is not None else exc.status)
            log.error("Reminder for %s to %s failed: %s", appointment_id, mask(recipient_id), exc)
            if self.reminders is not None:
                await in_thread(self.reminders.mark_failed, appointment_id, reason, exc.code,
                                 detail={"http_status": exc.status, "description": exc.description})
            return None
        if self.reminders is not None:
            await in_thread(self.reminders.mark_sent, appointment_id, message_id)
        return message_id


class MessageBirdInput(InputChannel):
    """Receives MessageBird webhooks: citizens' messages and delivery statuses."""

    @classmethod
    def name(cls) -> Text:
        return "messagebird"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "MessageBirdInput":
        creds = credentials or {}
        settings = Settings.from_env()

        def setting(key: str, default: Any = None) -> Any:
            env = os.environ.get(f"MESSAGEBIRD_{key.upper()}")
            value = env if env not in (None, "") else creds.get(key)
            return default if value in (None, "") else value

        for key in ("access_key", "channel_id", "signing_key"):
            if not setting(key):
                raise ValueError(f"MessageBird channel: `{key}` is missing in credentials.yml "
                                 f"(or MESSAGEBIRD_{key.upper()})")
        languages = setting("template_languages", {"ca": "ca", "es": "es", "en": "en"})
        if isinstance(languages, str):
            languages = json.loads(languages)
        if not patches.rasa_patched():
            log.warning("Rasa runs without Recorda's patches (slower custom actions, no guard against a "
                        "negative Content-Length): start it with `python -m bot.apps.rasa_server run ...`")
        return cls(
            api_url=setting("api_url", DEFAULT_API_URL), access_key=setting("access_key"),
            channel_id=setting("channel_id"), signing_key=setting("signing_key"),
            webhook_url=setting("webhook_url"),
            template_namespace=setting("template_namespace", ""),
            template_name=setting("template_name", "recorda_appointment_reminder"),
            template_languages=languages, default_region=setting("default_region", "ES"),
            db_url=settings.db_url, seal_secret=settings.action_token,
            max_body_bytes=int(setting("max_body_bytes", DEFAULT_MAX_BODY_BYTES)),
        )

    def __init__(self, api_url: str, access_key: str, channel_id: str, signing_key: str,
                 webhook_url: Optional[str], template_namespace: str, template_name: str,
                 template_languages: Dict[str, str], default_region: str = "ES",
                 db_url: Optional[str] = None, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 seal_secret: str = ""):
        if max_body_bytes <= 0:
            raise ValueError("MessageBird channel: `max_body_bytes` must be positive")
        self.max_body_bytes = max_body_bytes
        # Shared with the action server; without it the actions act on nothing.
        self.seal_secret = seal_secret
        self.signing_key = signing_key
        self.webhook_url = webhook_url
        self.default_region = default_region
        self.reminders = ReminderStore(db_url) if db_url else None
        self.receipts = WebhookReceipts(db_url) if db_url else None
        self.client = MessageBirdClient(api_url, access_key, channel_id)
        self.output = MessageBirdOutput(self.client, self.reminders, template_namespace,
                                        template_name, template_languages)

    def get_output_channel(self) -> OutputChannel:
        return self.output

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint(f"{type(self).__name__}_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        # Streamed: the body is read here, within max_body_bytes, not buffered by Sanic.
        @webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            return await self.handle_webhook(request, on_new_message)

        return webhook

    async def handle_webhook(self, request: Request,
                             on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> HTTPResponse:
        declared = request.headers.get("content-length")
        if declared is not None and not (declared.isascii() and declared.isdigit() and len(declared) < 19):
            if request.stream is not None:
                # Sanic 21.12 would spin draining a negative length: close instead.
                request.stream.request_body = None
                request.stream.keep_alive = False
            return response.json({"error": "bad Content-Length"}, status=400)
        raw = await self._read_body(request, int(declared) if declared else None)
        if raw is None:
            log.warning("Refused a MessageBird webhook from %s: body over %d bytes",
                        request.ip, self.max_body_bytes)
            return response.json({"error": "body too large"}, status=413)
        try:
            verify_webhook(self.signing_key, request.headers.get(HEADER),
                           self.webhook_url or request.url, raw)
        except SignatureError as exc:
            log.warning("Rejected MessageBird webhook from %s: %s", request.ip, exc)
            return response.json({"error": "invalid signature"}, status=401)
        try:
            event = content.parse_event(messagebird_webhook.read_json(raw), self.default_region)
        except content.MalformedWebhook as exc:
            log.warning("Malformed MessageBird webhook (%s): %.120r", exc, raw[:120])
            return response.json({"error": f"malformed webhook: {exc}"}, status=400)
        except Exception:
            # A signed body we cannot read is not worth a redelivery: 400, and the bug logged.
            log.exception("Unreadable MessageBird webhook: %.120r", raw[:120])
            return response.json({"error": "malformed webhook"}, status=400)
        if event is None:
            return response.json({"status": "ignored"})
        if isinstance(event, content.StatusUpdate):
            key = f"status:{event.message_id}:{event.status}"
        else:
            key = f"message:{event.message_id}"
        if self.receipts is not None and not await in_thread(self.receipts.first_time, key):
            log.info("Duplicate webhook %s ignored", key)
            return response.json({"status": "duplicate"})
        if isinstance(event, content.StatusUpdate):
            await self._record_status(event)
            return response.json({"status": "recorded"})
        try:
            await on_new_message(UserMessage(
                event.text, self.output, event.sender, parse_data=event.parse_data,
                input_channel=self.name(), message_id=event.message_id,
                metadata=self._sealed_metadata(event)))
        except Exception:
            log.exception("Could not handle message %s from %s", event.message_id, mask(event.sender))
            if self.receipts is not None:
                # Let the provider's redelivery be handled rather than dropped.
                await in_thread(self.receipts.forget, key)
            return response.json({"error": "could not handle the message"}, status=500)
        return response.json({"status": "handled"})

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

    def _sealed_metadata(self, event: content.InboundMessage) -> Dict[str, Any]:
        """The message's metadata with the seal that tells the actions it came
        through this verified webhook (bot.messaging.seal)."""
        return {**event.metadata, "kind": event.kind,
                channel_seal.METADATA_KEY: channel_seal.seal(
                    self.seal_secret, self.name(), event.sender, event.message_id, event.kind, event.text)}

    async def _record_status(self, event: content.StatusUpdate) -> None:
        if self.reminders is None:
            return
        await in_thread(self.reminders.apply_provider_status, event.message_id, event.status,
                         event.at,
                         event.error_code, reason_for_error(event.error_code))
