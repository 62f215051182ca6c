"""What goes over the wire to and from Meta's WhatsApp Cloud API: the JSON of
outbound messages, and webhooks read into what the channel core hands to Rasa
(bot/messaging/inbound.py). Pure functions, no I/O.

The decisions mirror connectors/messagebird_content.py: up to 3 buttons are
reply buttons, up to 10 a list, more a numbered text; only a tap whose id is
a payload Recorda sent is a tap; typed text never is a payload; photos,
voice notes, locations... reach Rasa as the media payload.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple, Union

from bot.foundation.phone import to_e164
from bot.messaging import payloads
from bot.messaging.inbound import BUTTON, MEDIA, TEXT, InboundMessage, Pricing, StatusUpdate
from connectors import whatsapp_cloud_webhook as webhook
from connectors.webhook_json import MalformedWebhook, parse
from connectors.whatsapp_channel import split_text
from connectors.whatsapp_limits import (
    LIST_BUTTON_LABEL,
    MAX_BUTTON_ID,
    MAX_BUTTON_TITLE,
    MAX_INTERACTIVE_BODY,
    MAX_LIST_ROWS,
    MAX_REPLY_BUTTONS,
    MAX_ROW_DESCRIPTION,
    MAX_ROW_ID,
    MAX_ROW_TITLE,
    shorten,
)

Message = Dict[str, Any]  # a message's JSON without its recipient (see `addressed`)
Event = Union[InboundMessage, StatusUpdate]

# WhatsApp's limits for interactive messages (docs/architecture.md).




def _unique_titles(titles: List[str], limit: int) -> List[str]:
    """Each title within `limit`; WhatsApp refuses a title twice in one
    message, so a repeat (often made by the cut) ends in its number."""
    seen: set = set()
    result = []
    for number, title in enumerate(titles, start=1):
        short = shorten(title, limit) or str(number)
        repeat = 2
        while short in seen:
            suffix = f" {repeat}"
            short = shorten(title, limit - len(suffix)) + suffix
            repeat += 1
        seen.add(short)
        result.append(short)
    return result


# --- outbound ---------------------------------------------------------------
def addressed(to: str, message: Message) -> Dict[str, Any]:
    """The body of `POST /{phone_number_id}/messages` sending `message` to `to`."""
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, **message}


def text_message(text: str) -> Message:
    """One text of at most 4,096 characters (the channel splits longer ones)."""
    return {"type": "text", "text": {"body": text, "preview_url": False}}


def buttons_messages(text: str, buttons: List[Dict[str, Any]]) -> List[Message]:
    """Rasa buttons as WhatsApp offers them: reply buttons up to 3, a list
    message up to 10, numbered text beyond (or when ids do not fit)."""
    messages: List[Message] = []
    body = text
    if len(text) > MAX_INTERACTIVE_BODY:
        # Too long for an interactive body: the text goes first on its own.
        messages.extend(text_message(part) for part in split_text(text))
        body = "👇"
    ids = [str(b.get("payload") or b.get("title", "")) for b in buttons]
    titles = [str(b.get("title", "")) for b in buttons]
    # Meta refuses an empty id, or one twice in a message.
    unique = 0 < len(ids) == len(set(ids)) and all(ids)
    if unique and len(ids) <= MAX_REPLY_BUTTONS and all(len(i) <= MAX_BUTTON_ID for i in ids):
        messages.append({"type": "interactive", "interactive": {
            "type": "button",
            "body": {"text": body},
            "action": {"buttons": [{"type": "reply", "reply": {"id": i, "title": t}}
                                   for i, t in zip(ids, _unique_titles(titles, MAX_BUTTON_TITLE))]},
        }})
    elif unique and len(ids) <= MAX_LIST_ROWS and all(len(i) <= MAX_ROW_ID for i in ids):
        rows = [{"id": i, "title": t, **({"description": shorten(full, MAX_ROW_DESCRIPTION)}
                                         if len(full) > MAX_ROW_TITLE else {})}
                for i, t, full in zip(ids, _unique_titles(titles, MAX_ROW_TITLE), titles)]
        messages.append({"type": "interactive", "interactive": {
            "type": "list",
            "body": {"text": body},
            "action": {"button": LIST_BUTTON_LABEL, "sections": [{"rows": rows}]},
        }})
    else:
        lines = [f"{number}. {title}" for number, title in enumerate(titles, start=1)]
        messages = [text_message(part) for part in split_text(text + "\n\n" + "\n".join(lines))]
    return messages


def _parameter(value: Any) -> str:
    # Meta refuses parameters with new lines, tabs, more than 4 spaces in a
    # row (error 132018) or no text at all.
    return " ".join(str(value).split()) or "-"


def template_message(name: str, language_code: str, parameters: List[Any],
                     quick_reply_payloads: List[str]) -> Message:
    """An approved template with its body parameters and the payloads of its
    quick-reply buttons, in their order. The Cloud API takes no namespace."""
    components: List[Dict[str, Any]] = []
    if parameters:
        components.append({"type": "body",
                           "parameters": [{"type": "text", "text": _parameter(p)} for p in parameters]})
    for index, payload in enumerate(quick_reply_payloads):
        components.append({"type": "button", "sub_type": "quick_reply", "index": str(index),
                           "parameters": [{"type": "payload", "payload": payload}]})
    return {"type": "template", "template": {"name": name, "language": {"code": language_code},
                                             "components": components}}


def image_message(url: str, caption: Optional[str] = None) -> Message:
    image = {"link": url}
    if caption:
        image["caption"] = caption
    return {"type": "image", "image": image}


# --- inbound ----------------------------------------------------------------
# The names the MessageBird side and the console use (conversations_media_*).
MEDIA_TYPES = {"image": "image", "video": "video", "audio": "audio", "document": "file",
               "sticker": "sticker", "location": "location"}
# Interactive replies that are taps; other interactive replies are passed on like media.
TAP_TYPES = ("button_reply", "list_reply")


def parse_events(body: Any) -> List[Event]:
    """Every citizen message and delivery status of a webhook body (parsed
    JSON), in order; MalformedWebhook when it is not of Meta's shape."""
    envelope = webhook.parse_envelope(body)
    if envelope.object != webhook.OBJECT:
        return []  # another product's webhook on the same app: nothing of ours
    events: List[Event] = []
    for where, value in webhook.message_values(envelope):
        events.extend(_inbound(m, f"{where}.messages.{k}") for k, m in enumerate(value.messages))
        events.extend(_status(s) for s in value.statuses)
    return events


def _status(status: webhook.Status) -> StatusUpdate:
    error = status.errors[0] if status.errors else webhook.Error()
    pricing = status.pricing
    return StatusUpdate(status.id, status.status, error.number, error.text, status.at,
                        Pricing(pricing.is_billable, pricing.category, pricing.pricing_model) if pricing else None,
                        recipient=to_e164(status.recipient_id))


def _tap(message: webhook.Message, where: str) -> Optional[Tuple[Optional[str], str]]:
    """(id, visible title) of a tap on an interactive or template button;
    None for an interactive message that is no button or list reply."""
    if message.type == "interactive":
        interactive = parse(webhook.Interactive, message.interactive, f"{where}.interactive")
        if interactive.type not in TAP_TYPES:
            return None
        reply = interactive.button_reply if interactive.type == "button_reply" else interactive.list_reply
        if reply is None:
            raise MalformedWebhook(f"{where}.interactive: {interactive.type} without its reply")
        return reply.id, reply.title or ""
    button = parse(webhook.QuickReply, message.button, f"{where}.button")
    return button.payload, button.text or ""


def _inbound(message: webhook.Message, where: str) -> InboundMessage:
    sender = to_e164("+" + message.sender.lstrip("+"))
    if sender is None:
        raise MalformedWebhook(f"{where}.from: not a valid phone number")
    kind, message_id = message.type, message.id
    meta: Dict[str, Any] = {"provider_message_id": message_id,
                            "reply_to": message.context.id if message.context else None}
    if kind == "text":
        text = parse(webhook.TextBody, message.text, f"{where}.text").body
        return InboundMessage(sender, payloads.typed_text(text), message_id, TEXT, meta)
    tap = _tap(message, where) if kind in ("interactive", "button") else None
    if tap is not None:
        payload, title = tap
        # Citizens' messages are never taken as payloads; only ids of buttons
        # Recorda itself sent are.
        checked = payloads.safe_payload(payload) if payload and len(payload) <= MAX_BUTTON_ID else None
        if checked:
            return InboundMessage(sender, checked, message_id, BUTTON, {**meta, "title": title})
        if not title.strip():
            raise MalformedWebhook(f"{where}: a tap with neither a payload of ours nor a title")
        # A tap whose id is not ours (or has none): what the button said.
        return InboundMessage(sender, payloads.typed_text(title), message_id, TEXT, meta)
    media = MEDIA_TYPES.get(kind)
    # Reactions, contacts, unsupported kinds and any Meta adds later: like
    # media, never dropped.
    return InboundMessage(sender, payloads.media(media or "other"), message_id, MEDIA,
                          {**meta, "media_type": media or kind})
