"""What goes over the wire to and from MessageBird for WhatsApp: building the
`content` of outbound messages and reading inbound webhooks into something
Rasa understands. Pure functions, no I/O."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from bot.foundation.phone import to_e164
from bot.messaging import payloads
from bot.messaging.inbound import InboundMessage, StatusUpdate
from connectors import messagebird_webhook as webhook
from connectors.webhook_json import MalformedWebhook, parse
from connectors.whatsapp_limits import (
    LIST_BUTTON_LABEL,
    MAX_BUTTON_ID,
    MAX_BUTTON_TITLE,
    MAX_INTERACTIVE_BODY,
    MAX_LIST_ROWS,
    MAX_REPLY_BUTTONS,
    MAX_ROW_DESCRIPTION,
    MAX_ROW_TITLE,
    shorten,
)

# WhatsApp's own limits (docs/architecture.md).




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
                 "title": shorten(b["title"], MAX_BUTTON_TITLE)} for b in buttons]},
        }}))
    elif 0 < len(usable) == len(buttons) <= MAX_LIST_ROWS:
        messages.append(("interactive", {"interactive": {
            "type": "list",
            "body": {"text": body},
            "action": {"button": LIST_BUTTON_LABEL, "sections": [{"rows": [
                {"id": str(b.get("payload") or b["title"]),
                 "title": shorten(b["title"], MAX_ROW_TITLE),
                 **({"description": shorten(b["title"], MAX_ROW_DESCRIPTION)}
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
# Interactive replies that are taps; other interactive replies are passed on like media.
TAP_TYPES = ("button_reply", "list_reply")


def _button_reply(kind: str, raw: Dict[str, Any]) -> Optional[Tuple[Optional[str], str]]:
    """(payload, visible title) of a tap on an interactive or template button;
    None for an interactive message that is no button or list reply."""
    if kind == "interactive":
        interactive = parse(webhook.InteractiveContent, raw, "message.content").interactive
        reply = interactive.reply or interactive.button_reply or interactive.list_reply
        if interactive.type not in TAP_TYPES and (interactive.type is not None or reply is None):
            return None
        if reply is None:
            raise MalformedWebhook(f"{interactive.type} without its reply")
        return reply.id, reply.text or reply.title or ""
    button = parse(webhook.ButtonContent, raw, "message.content").button
    return button.payload, button.text or ""


def parse_event(body: Any, default_region: str = "ES"):
    """A webhook body (parsed JSON) as InboundMessage, StatusUpdate or None
    (nothing to do); MalformedWebhook when it is not of MessageBird's shape."""
    event = webhook.parse_event(body)
    message = event.message
    if event.type == "message.updated" or (message.direction == "sent" and event.type != "message.created"):
        error = message.error or webhook.ErrorInfo()
        template = message.type == "hsm" if message.type else None
        # Sent to `to`; else the conversation's contact, the citizen. Only a
        # template's status is kept (see StatusUpdate.template), so only its
        # number is worth parsing.
        number = message.recipient or (event.contact or webhook.Contact()).msisdn
        recipient = to_e164(str(number), default_region) if number is not None and template is not False else None
        return StatusUpdate(message.id, message.status or "", error.number, error.text,
                            message.updated_at, recipient=recipient, template=template)
    if event.type != "message.created" or message.direction != "received":
        return None  # our own outbound echoes, conversation events
    raw_sender = message.sender or (event.contact or webhook.Contact()).msisdn
    sender = to_e164(str(raw_sender) if raw_sender is not None else None, default_region)
    if sender is None:
        raise MalformedWebhook("sender is not a valid phone number")
    return _inbound(sender, message)


def _inbound(sender: str, message: webhook.Message) -> InboundMessage:
    kind, message_id = message.type, message.id
    if kind is None:
        raise MalformedWebhook("message without type")
    content: Dict[str, Any] = message.content or {}
    meta = {"provider_message_id": message_id, "reply_to": message.reply_to.id if message.reply_to else None}
    if kind == "text":
        text = parse(webhook.TextContent, content, "message.content").text
        return InboundMessage(sender, payloads.typed_text(text), message_id, "text", meta)
    tap = _button_reply(kind, content) if kind in ("interactive", "button") else None
    if tap is not None:
        payload, title = tap
        # Citizens' messages are never taken as payloads; only ids of buttons
        # Recorda itself sent are.
        checked = payloads.safe_payload(payload) if payload and len(payload) <= MAX_BUTTON_ID else None
        if checked:
            return InboundMessage(sender, checked, message_id, "button", {**meta, "title": title})
        if not title.strip():
            raise MalformedWebhook("button reply with neither a payload of ours nor a title")
        # A tap whose id is not ours (or has none): what the button said.
        return InboundMessage(sender, payloads.typed_text(title), message_id, "text", meta)
    if kind in MEDIA_TYPES:
        media = MEDIA_TYPES[kind]
        return InboundMessage(sender, payloads.media(media), message_id, "media", {**meta, "media_type": media})
    # Anything else WhatsApp may add later: treat like media, never drop it.
    return InboundMessage(sender, payloads.media("other"), message_id, "media", {**meta, "media_type": kind})
