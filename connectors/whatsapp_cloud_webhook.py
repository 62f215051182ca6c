"""Meta WhatsApp Cloud API webhooks as typed models (pydantic 1).

    {object: "whatsapp_business_account", entry: [{id, changes: [{field:
      "messages", value: {metadata, contacts, messages: [...], statuses: [...]}}]}]}

A body may carry several entries, changes, messages and statuses. Only the
`value` of a "messages" change is read (other fields, e.g. template status
updates, have other shapes); of a message, only what its kind needs, so kinds
Meta adds later still parse. The field types and `parse` are shared with the
other providers (connectors/webhook_json.py); a body of the wrong shape raises
MalformedWebhook.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, List, Optional, Tuple, Union

from pydantic import Field, StrictBool, StrictInt

from connectors.webhook_json import JsonObject, StrictObject, Text, parse

OBJECT = "whatsapp_business_account"
MESSAGES_FIELD = "messages"
# wamids are base64 of ~60-80 characters; Meta documents no bound.
MAX_ID = 128
MAX_SHORT = 64
MAX_STATUS = 32
# Error codes are stored in an INTEGER column.
MAX_ERROR_CODE = 2**31 - 1


# --- field types ----------------------------------------------------------------
class MessageId(Text):
    min_length = 1
    max_length = MAX_ID


class ShortText(Text):
    max_length = MAX_SHORT


class StatusWord(Text):
    min_length = 1
    max_length = MAX_STATUS


UnixTime = Union[StrictInt, ShortText]  # Meta sends "1700000000"; a number is read too


def _moment(stamp: Optional[UnixTime]) -> Optional[datetime]:
    """A unix timestamp as an aware UTC time when plausible, else None (now)."""
    if isinstance(stamp, str):
        stamp = int(stamp) if stamp.isascii() and stamp.isdigit() and len(stamp) <= 12 else None
    if stamp is None:
        return None
    at = datetime.fromtimestamp(stamp, timezone.utc)
    return at if 2000 <= at.year <= 2999 else None


# --- errors, statuses -------------------------------------------------------------
class ErrorData(StrictObject):
    details: Optional[Text] = None


class Error(StrictObject):
    code: Optional[StrictInt] = None
    title: Optional[Text] = None
    message: Optional[Text] = None
    error_data: Optional[ErrorData] = None

    @property
    def number(self) -> Optional[int]:
        """The code when it fits the column; None otherwise."""
        return self.code if self.code is not None and 0 <= self.code <= MAX_ERROR_CODE else None

    @property
    def text(self) -> Optional[str]:
        """The most telling description: Meta advises `details` over titles."""
        details = self.error_data.details if self.error_data else None
        return details or self.message or self.title


class Pricing(StrictObject):
    billable: Optional[StrictBool] = None
    pricing_model: Optional[ShortText] = None   # "CBP" until July 2025, then "PMP"
    category: Optional[ShortText] = None        # utility, marketing, service...
    # "regular", or why it is free ("free_customer_service", "free_entry_point"):
    # per-message pricing says this where `billable` is on its way out.
    type: Optional[ShortText] = None

    @property
    def is_billable(self) -> Optional[bool]:
        if self.type is not None and self.type.startswith("free"):
            return False
        return self.billable


class Status(StrictObject):
    id: MessageId
    status: StatusWord
    timestamp: Optional[UnixTime] = None
    recipient_id: Optional[ShortText] = None
    pricing: Optional[Pricing] = None
    errors: List[Error] = []

    @property
    def at(self) -> Optional[datetime]:
        return _moment(self.timestamp)


# --- inbound messages -------------------------------------------------------------
class Context(StrictObject):
    id: Optional[MessageId] = None          # the message replied to (ours for taps)
    sender: Optional[ShortText] = Field(None, alias="from")


class TextBody(StrictObject):
    body: Text


class Reply(StrictObject):
    id: Optional[Text] = None
    title: Optional[Text] = None
    description: Optional[Text] = None


class Interactive(StrictObject):
    type: Optional[ShortText] = None
    button_reply: Optional[Reply] = None
    list_reply: Optional[Reply] = None


class QuickReply(StrictObject):
    """A tap on a template's quick-reply button."""
    payload: Optional[Text] = None
    text: Optional[Text] = None


class Message(StrictObject):
    id: MessageId
    sender: ShortText = Field(..., alias="from")    # wa_id: digits, no "+"
    timestamp: Optional[UnixTime] = None
    type: ShortText
    context: Optional[Context] = None
    # Read only for the message's own kind (connectors/whatsapp_cloud_content.py):
    # the `button` of a text message, say, is never looked at.
    text: Optional[JsonObject] = None
    interactive: Optional[JsonObject] = None
    button: Optional[JsonObject] = None


# --- the envelope -------------------------------------------------------------------
class Value(StrictObject):
    messages: List[Message] = []
    statuses: List[Status] = []


class Change(StrictObject):
    field: ShortText
    value: Any = None  # read only for "messages" changes: other fields have other shapes


class Entry(StrictObject):
    id: Optional[ShortText] = None
    changes: List[Change] = []


class Envelope(StrictObject):
    object: ShortText
    entry: List[Entry]


def parse_envelope(body: Any) -> Envelope:
    return parse(Envelope, body)


def message_values(envelope: Envelope) -> List[Tuple[str, Value]]:
    """(where, value) of every "messages" change, in the order Meta sent
    them; MalformedWebhook naming the first one of the wrong shape."""
    values = []
    for i, entry in enumerate(envelope.entry):
        for j, change in enumerate(entry.changes):
            if change.field == MESSAGES_FIELD:
                where = f"entry.{i}.changes.{j}.value"
                values.append((where, parse(Value, change.value, where)))
    return values
