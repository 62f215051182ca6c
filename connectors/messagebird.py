"""Rasa channel for WhatsApp through the MessageBird Conversations API.

Configure it in credentials.yml under `connectors.messagebird.MessageBirdInput`
(see that file); the webhook is `/webhooks/messagebird/webhook` (message.created),
and Recorda's status receiver takes message.updated
(bot/apps/status_receiver.py, `status_webhook_url`). What every
WhatsApp channel does the same way (signature before reading, each webhook
once, taps as their payloads and never typed text, the reminder template
once per appointment, statuses applied, no blocking of the event loop) is in
connectors/whatsapp_channel.py; this module is MessageBird's side of it.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Text, Tuple

from sanic.request import Request

from bot.foundation.settings import Settings
from bot.reminders.store import ReminderStore
from connectors import messagebird_content as content
from connectors.messagebird_client import MessageBirdClient
from connectors.messagebird_signature import HEADER, SignatureError, verify_webhook
from connectors.webhook_json import read_json
from connectors.whatsapp_channel import (
    DEFAULT_MAX_BODY_BYTES,
    ChannelSettings,
    Event,
    WebhookRefused,
    WhatsAppInput,
    WhatsAppOutput,
)

DEFAULT_API_URL = "https://conversations.messagebird.com/v1"
Message = Tuple[str, Dict[str, Any]]  # MessageBird's message type and content


class MessageBirdOutput(WhatsAppOutput):
    """Sends the assistant's messages through MessageBird."""

    @classmethod
    def name(cls) -> Text:
        return "messagebird"

    def __init__(self, client: MessageBirdClient, reminders: Optional[ReminderStore],
                 template_namespace: str, template_name: str, template_languages: Dict[str, str]):
        super().__init__(reminders, template_languages)
        self.client = client
        self.template_namespace = template_namespace
        self.template_name = template_name

    async def deliver(self, recipient_id: str, message: Message) -> str:
        message_type, body = message
        return await self.client.send(recipient_id, message_type, body)

    def render_text(self, text: str) -> Message:
        return content.text_content(text)

    def render_buttons(self, text: str, buttons: List[Dict[str, Any]]) -> List[Message]:
        return content.buttons_content(text, buttons)

    def render_image(self, url: str) -> Message:
        return content.image_content(url)

    def render_template(self, name: str, language_code: str, parameters: List[str],
                        quick_replies: List[str]) -> Message:
        return content.template_content(self.template_namespace, name, language_code, parameters, quick_replies)


class MessageBirdInput(WhatsAppInput):
    """Receives MessageBird webhooks: citizens' messages and delivery statuses."""

    provider = "MessageBird"
    signature_header = HEADER
    signature_covers_url = True  # the JWT names the URL called

    @classmethod
    def name(cls) -> Text:
        return "messagebird"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "MessageBirdInput":
        settings = Settings.from_env()
        setting = ChannelSettings(credentials, "MESSAGEBIRD_", "MessageBird")
        setting.require("access_key", "channel_id", "signing_key")
        return cls(
            api_url=setting.get("api_url", DEFAULT_API_URL), access_key=setting.get("access_key"),
            channel_id=setting.get("channel_id"), signing_key=setting.get("signing_key"),
            webhook_url=setting.get("webhook_url"),
            status_webhook_url=setting.get("status_webhook_url"),
            template_namespace=setting.get("template_namespace", ""),
            template_name=setting.get("template_name", "recorda_appointment_reminder"),
            template_languages=setting.mapping("template_languages", {"ca": "ca", "es": "es", "en": "en"}),
            default_region=setting.get("default_region", "ES"),
            db_url=settings.db_url, seal_secret=settings.action_token,
            max_body_bytes=int(setting.get("max_body_bytes", DEFAULT_MAX_BODY_BYTES)),
        )

    def __init__(self, api_url: str, access_key: str, channel_id: str, signing_key: str,
                 webhook_url: Optional[str], template_namespace: str, template_name: str,
                 template_languages: Dict[str, str], default_region: str = "ES",
                 db_url: Optional[str] = None, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 seal_secret: str = "", status_webhook_url: Optional[str] = None):
        self.signing_key = signing_key
        self.webhook_url = webhook_url
        self.status_webhook_url = status_webhook_url
        self.default_region = default_region
        self.client = MessageBirdClient(api_url, access_key, channel_id)
        output = MessageBirdOutput(self.client, ReminderStore(db_url) if db_url else None,
                                   template_namespace, template_name, template_languages)
        super().__init__(output, db_url, seal_secret, max_body_bytes)

    def verify(self, request: Request, raw: bytes, url: str) -> None:
        try:
            verify_webhook(self.signing_key, request.headers.get(HEADER), url, raw)
        except SignatureError as exc:
            raise WebhookRefused(str(exc)) from exc

    def parse(self, raw: bytes) -> Sequence[Event]:
        event = content.parse_event(read_json(raw), self.default_region)
        return [] if event is None else [event]
