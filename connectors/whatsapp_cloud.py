"""Rasa channel for WhatsApp through Meta's WhatsApp Cloud API.

Configure it in credentials.yml under `connectors.whatsapp_cloud.WhatsAppCloudInput`;
the webhook is `/webhooks/whatsapp_cloud/webhook`: Meta subscribes it with a
GET handshake (the verify token) and POSTs signed events to it (the app
secret). What every WhatsApp channel does the same way is in
connectors/whatsapp_channel.py; this module is Meta's side of it.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Text

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.foundation.settings import Settings
from bot.reminders.store import ReminderStore
from connectors import whatsapp_cloud_content as content
from connectors.webhook_json import read_json
from connectors.whatsapp_channel import (
    DEFAULT_MAX_BODY_BYTES,
    ChannelSettings,
    Event,
    WebhookRefused,
    WhatsAppInput,
    WhatsAppOutput,
)
from connectors.whatsapp_cloud_client import WhatsAppCloudClient
from connectors.whatsapp_cloud_signature import HEADER, SignatureError, verify_handshake, verify_signature

DEFAULT_API_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v24.0"
DEFAULT_TEMPLATE_NAME = "recorda_appointment_reminder"
DEFAULT_TEMPLATE_LANGUAGES = {"ca": "ca", "es": "es", "en": "en"}
REQUIRED = ("phone_number_id", "access_token", "app_secret", "verify_token")


class WhatsAppCloudOutput(WhatsAppOutput):
    """Sends the assistant's messages through the Cloud API."""

    @classmethod
    def name(cls) -> Text:
        return "whatsapp_cloud"

    def __init__(self, client: WhatsAppCloudClient, reminders: Optional[ReminderStore],
                 template_name: str, template_languages: Dict[str, str]):
        super().__init__(reminders, template_languages)
        self.client = client
        self.template_name = template_name

    async def deliver(self, recipient_id: str, message: content.Message) -> str:
        return await self.client.send(content.addressed(recipient_id, message))

    def render_text(self, text: str) -> content.Message:
        return content.text_message(text)

    def render_buttons(self, text: str, buttons: List[Dict[str, Any]]) -> List[content.Message]:
        return content.buttons_messages(text, buttons)

    def render_image(self, url: str) -> content.Message:
        return content.image_message(url)

    def render_template(self, name: str, language_code: str, parameters: List[str],
                        quick_replies: List[str]) -> content.Message:
        return content.template_message(name, language_code, parameters, quick_replies)


class WhatsAppCloudInput(WhatsAppInput):
    """Receives the Cloud API's webhooks: citizens' messages and delivery statuses."""

    provider = "WhatsApp Cloud API"
    signature_header = HEADER  # an HMAC of the body alone: valid at any URL

    @classmethod
    def name(cls) -> Text:
        return "whatsapp_cloud"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "WhatsAppCloudInput":
        settings = Settings.from_env()
        setting = ChannelSettings(credentials, "WHATSAPP_CLOUD_", "WhatsApp Cloud API")
        setting.require(*REQUIRED)
        return cls(
            api_url=setting.get("api_url", DEFAULT_API_URL),
            api_version=setting.get("api_version", DEFAULT_API_VERSION),
            phone_number_id=str(setting.get("phone_number_id")), access_token=setting.get("access_token"),
            app_secret=setting.get("app_secret"), verify_token=setting.get("verify_token"),
            template_name=setting.get("template_name", DEFAULT_TEMPLATE_NAME),
            template_languages=setting.mapping("template_languages", DEFAULT_TEMPLATE_LANGUAGES),
            db_url=settings.db_url, seal_secret=settings.action_token,
            max_body_bytes=int(setting.get("max_body_bytes", DEFAULT_MAX_BODY_BYTES)),
        )

    def __init__(self, api_url: str, api_version: str, phone_number_id: str, access_token: str,
                 app_secret: str, verify_token: str, template_name: str = DEFAULT_TEMPLATE_NAME,
                 template_languages: Optional[Dict[str, str]] = None, db_url: Optional[str] = None,
                 max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, seal_secret: str = ""):
        self.app_secret = app_secret
        self.verify_token = verify_token
        self.client = WhatsAppCloudClient(api_url, api_version, phone_number_id, access_token)
        output = WhatsAppCloudOutput(self.client, ReminderStore(db_url) if db_url else None, template_name,
                                     template_languages or dict(DEFAULT_TEMPLATE_LANGUAGES))
        super().__init__(output, db_url, seal_secret, max_body_bytes)

    def verify(self, request: Request, raw: bytes, url: str) -> None:
        try:
            verify_signature(self.app_secret, request.headers.get(HEADER), raw)
        except SignatureError as exc:
            raise WebhookRefused(str(exc)) from exc

    def parse(self, raw: bytes) -> Sequence[Event]:
        return content.parse_events(read_json(raw))

    def add_routes(self, webhook: Blueprint, path: str = "/webhook") -> None:
        @webhook.route(path, methods=["GET"])
        async def handshake(request: Request) -> HTTPResponse:
            return self.handshake(request)

    def handshake(self, request: Request) -> HTTPResponse:
        """Meta subscribing the webhook: the challenge back when the verify
        token matches, 403 otherwise."""
        args = request.args
        try:
            challenge = verify_handshake(self.verify_token, args.get("hub.mode"),
                                         args.get("hub.verify_token"), args.get("hub.challenge"))
        except SignatureError as exc:
            self.log.warning("Refused a %s webhook handshake from %s: %s", self.provider, request.ip, exc)
            return response.text("forbidden", status=403)
        self.log.info("%s webhook subscribed (handshake from %s)", self.provider, request.ip)
        return response.text(challenge)
