"""What goes over the wire to and from MessageBird for WhatsApp: building the
`content` of outbound messages and reading inbound webhooks into something
Rasa understands. Pure functions, no I/O."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from bot.phone import to_e164

# WhatsApp's own limits (providers.md §2.4).
MAX_REPLY_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_LIST_ROWS = 10
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_INTERACTIVE_BODY = 1024
MAX_BUTTON_ID = 256
LIST_BUTTON_LABEL = "☰"

# A Rasa intent payload: "/intent" or "/intent{json}". Citizens' messages are
# never taken as payloads; only ids of buttons Recorda itself sent are.
_PAYLOAD = re.compile(r"^/(?P<intent>[A-Za-z0-9_]+)(?P<entities>\{.*\})?$", re.S)
# Prefixed to typed text that starts with "/", so Rasa reads it as text.
WORD_JOINER = "\u2060"


def _shorten(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- outbound ---------------------------------------------------------------
def text_content(text: str) -> Tuple[str, Dict[str, Any]]:
    return "text", {"text": text}


def buttons_content(text: str, buttons: List[Dict[str, Any]]) -> List[Tuple[str, Dict[str, Any]]]:
    """Rasa buttons as WhatsApp offers them: reply buttons up to 3, a list
    message up to 10, numbered text beyond. Returns the messages to send."""
    messages: List[Tuple[str, Dict[str, Any]]] = []
    body = text
    if len(text) > MAX_INTERACTIVE_BODY:
        # Too long for an interactive body: the text goes first on its own.
        messages.append(text_content(text))
        body = "👇"
    usable = [b for b in buttons if len(str(b.get("payload") or b.get("title", ""))) <= MAX_BUTTON_ID]
    if 0 < len(usable) == len(buttons) <= MAX_REPLY_BUTTONS:
        messages.append(("interactive", {"interactive": {
            "type": "button",
            "body": {"text": body},
            "action": {"buttons": [
                {"id": str(b.get("payload") or b["title"]), "type": "reply",
                 "title": _shorten(b["title"], MAX_BUTTON_TITLE)} for b in buttons]},
        }}))
    elif 0 < len(usable) == len(buttons) <= MAX_LIST_ROWS:
        messages.append(("interactive", {"interactive": {
            "type": "list",
            "body": {"text": body},
            "action": {"button": LIST_BUTTON_LABEL, "sections": [{"rows": [
                {"id": str(b.get("payload") or b["title"]),
                 "title": _shorten(b["title"], MAX_ROW_TITLE),
                 **({"description": _shorten(b["title"], MAX_ROW_DESCRIPTION)}
                    if len(b["title"]) > MAX_ROW_TITLE else {})}
                for b in buttons]}]},
        }}))
    else:
        lines = [f"{i}. {b['title']}" for i, b in enumerate(buttons, start=1)]
        messages = [text_content(text + "\n\n" + "\n".join(lines))]
    return messages


def template_content(namespace: str, name: str, language_code: str, parameters: List[str],
                     quick_reply_payloads: List[str]) -> Tuple[str, Dict[str, Any]]:
    """An approved WhatsApp template (HSM) with body parameters and the
    payloads of its quick-reply buttons."""
    components: List[Dict[str, Any]] = [
        {"type": "body", "parameters": [{"type": "text", "text": str(p)} for p in parameters]}]
    for index, payload in enumerate(quick_reply_payloads):
        components.append({"type": "button", "sub_type": "quick_reply", "index": str(index),
                           "parameters": [{"type": "payload", "payload": payload}]})
    return "hsm", {"hsm": {"namespace": namespace, "templateName": name,
                           "language": {"code": language_code}, "components": components}}


def image_content(url: str, caption: Optional[str] = None) -> Tuple[str, Dict[str, Any]]:
    image = {"url": url}
    if caption:
        image["caption"] = caption
    return "image", {"image": image}


# --- inbound ----------------------------------------------------------------
MEDIA_TYPES = {"image": "image", "video": "video", "audio": "audio", "file": "file",
               "location": "location", "whatsappSticker": "sticker", "sticker": "sticker"}


class MalformedWebhook(ValueError):
    """The webhook body is not a MessageBird event Recorda can read."""


@dataclass
class InboundMessage:
    sender: str                 # E.164
    text: str                   # what Rasa receives
    message_id: str
    kind: str                   # text | button | media
    metadata: Dict[str, Any] = field(default_factory=dict)

    @property
    def parse_data(self) -> Optional[Dict[str, Any]]:
        """Buttons and media are payloads Recorda made: no NLU needed."""
        return payload_parse_data(self.text) if self.kind in ("button", "media") else None


@dataclass
class StatusUpdate:
    message_id: str
    status: str
    error_code: Optional[int]
    error_description: Optional[str]
    at: Optional[str]


def safe_payload(candidate: Optional[str]) -> Optional[str]:
    """A button id that is a Rasa payload Recorda sent, else None. EXTERNAL_
    intents are Recorda's own and never come from a citizen's tap."""
    if not candidate:
        return None
    match = _PAYLOAD.match(candidate.strip())
    if not match or match.group("intent").startswith("EXTERNAL_"):
        return None
    if match.group("entities"):
        try:
            if not isinstance(json.loads(match.group("entities")), dict):
                return None
        except ValueError:
            return None
    return candidate.strip()


def payload_parse_data(payload: str) -> Dict[str, Any]:
    """What Rasa's NLU would make of a payload (RegexMessageHandler), built
    here so that a tap skips the NLU pipeline: its meaning is exact already."""
    match = _PAYLOAD.match(payload)
    entities = json.loads(match.group("entities")) if match.group("entities") else {}
    intent = {"name": match.group("intent"), "confidence": 1.0}
    return {"text": payload, "intent": intent, "intent_ranking": [intent],
            "entities": [{"entity": k, "value": v} for k, v in entities.items()]}


def typed_text(text: str) -> str:
    """Text a citizen typed, made safe: Rasa takes text starting with "/" as
    an intent payload, so such text gets an invisible prefix."""
    stripped = text.strip()
    return WORD_JOINER + stripped if stripped.startswith("/") else stripped


def _button_reply(message: Dict[str, Any]) -> Tuple[Optional[str], str]:
    """(payload, visible title) of a tap on an interactive or template button."""
    content = message.get("content") or {}
    if message.get("type") == "interactive":
        interactive = content.get("interactive") or {}
        reply = interactive.get("reply") or interactive.get("button_reply") \
            or interactive.get("list_reply") or {}
        return reply.get("id"), reply.get("text") or reply.get("title") or ""
    button = content.get("button") or {}
    return button.get("payload"), button.get("text") or ""


def parse_event(body: Dict[str, Any], default_region: str = "ES"):
    """A webhook body as InboundMessage, StatusUpdate or None (nothing to do)."""
    if not isinstance(body, dict) or not isinstance(body.get("message"), dict):
        raise MalformedWebhook("no message object")
    event_type = body.get("type")
    message = body["message"]
    message_id = message.get("id")
    if not message_id:
        raise MalformedWebhook("message without id")
    direction = message.get("direction")
    if event_type == "message.updated" or (direction == "sent" and event_type != "message.created"):
        error = message.get("error") or {}
        code = error.get("code")
        return StatusUpdate(str(message_id), str(message.get("status") or ""),
                            int(code) if isinstance(code, (int, str)) and str(code).isdigit() else None,
                            error.get("description") or error.get("message"),
                            message.get("updatedDatetime"))
    if event_type != "message.created" or direction != "received":
        return None  # our own outbound echoes, conversation events
    raw_sender = message.get("from") or (body.get("contact") or {}).get("msisdn")
    sender = to_e164(str(raw_sender) if raw_sender is not None else None, default_region)
    if sender is None:
        raise MalformedWebhook("sender is not a valid phone number")
    return _inbound(sender, str(message_id), message)


def _inbound(sender: str, message_id: str, message: Dict[str, Any]) -> InboundMessage:
    kind = message.get("type")
    content = message.get("content") or {}
    meta = {"provider_message_id": message_id, "reply_to": (message.get("replyTo") or {}).get("id")}
    if kind == "text":
        text = content.get("text")
        if not isinstance(text, str):
            raise MalformedWebhook("text message without text")
        return InboundMessage(sender, typed_text(text), message_id, "text", meta)
    if kind in ("interactive", "button"):
        payload, title = _button_reply(message)
        checked = safe_payload(payload)
        if checked:
            return InboundMessage(sender, checked, message_id, "button", {**meta, "title": title})
        # A tap whose id is not ours (or has none): what the button said.
        return InboundMessage(sender, typed_text(title), message_id, "text", meta)
    if kind in MEDIA_TYPES:
        media = MEDIA_TYPES[kind]
        return InboundMessage(sender, f'/EXTERNAL_media_message{{"media_type":"{media}"}}',
                              message_id, "media", {**meta, "media_type": media})
    # Anything else WhatsApp may add later: treat like media, never drop it.
    return InboundMessage(sender, '/EXTERNAL_media_message{"media_type":"other"}', message_id,
                          "media", {**meta, "media_type": str(kind)})
